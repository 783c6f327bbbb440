"""The sink interface and an in-memory sink for tests.

The worker offers every alert it produces to each of its sinks (the webhook and Alertmanager
sinks of :mod:`monitor.sinks.webhook` and :mod:`monitor.sinks.alertmanager`). A sink accepts alert
records (``dict``) without blocking the caller: ``offer`` queues or stores the alert and returns
at once; delivery happens in the sink's own task between ``start`` and ``stop``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class Sink(ABC):
    """Something that receives alert records."""

    name: str = "sink"

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Start background delivery (if any)."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Flush what can be flushed and stop."""

    @abstractmethod
    def offer(self, alert: dict[str, Any]) -> bool:
        """Accept an alert for delivery without blocking; False if it had to be refused."""


class MemorySink(Sink):
    """Keeps every alert in a list (the worker's unit tests use it in place of HTTP sinks)."""

    name = "memory"

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []

    def offer(self, alert: dict[str, Any]) -> bool:
        self.alerts.append(alert)
        return True
