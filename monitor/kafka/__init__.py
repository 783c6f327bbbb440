"""The blocking Kafka side (kafka-python): producing, consuming and admin
(:mod:`~monitor.kafka.io`) and the connection's security settings
(:mod:`~monitor.kafka.security`)."""
