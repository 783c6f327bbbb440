"""The Faust edge: the worker's wiring (:mod:`~monitor.worker.app`), what it produces per batch
(:mod:`~monitor.worker.outbound`), its tables (:mod:`~monitor.worker.tablestore`), its status
page (:mod:`~monitor.worker.status`) and every access to Faust or aiokafka internals
(:mod:`~monitor.worker.faustcompat`)."""
