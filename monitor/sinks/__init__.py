"""Where alerts go: a Kafka topic, webhooks, Alertmanager; all behind :class:`Sink`."""

from monitor.sinks.base import MemorySink, Sink

__all__ = ["MemorySink", "Sink"]
