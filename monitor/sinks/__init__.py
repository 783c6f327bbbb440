"""Where the worker sends alerts besides its alerts topic: webhooks and Alertmanager.

Each is a :class:`Sink` (:class:`~monitor.sinks.webhook.WebhookSink` and
:class:`~monitor.sinks.alertmanager.AlertmanagerSink`, over the HTTP delivery of
:class:`~monitor.sinks.webhook.HttpSink`); :class:`MemorySink` keeps alerts in a list for tests.
The alerts topic is not a sink: the worker produces it with the rest of a batch's output
(:mod:`monitor.worker.outbound`).
"""

from monitor.sinks.base import MemorySink, Sink

__all__ = ["MemorySink", "Sink"]
