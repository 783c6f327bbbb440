"""Faust's per-event machinery the worker can do without, turned off through its public API.

Faust's :class:`~faust.sensors.Monitor` is a sensor that every message and stream event passes
through (counters by topic, stream and task, time stamps, a dict of sensor states per event),
for Faust's own statistics pages and sensors, which the worker does not serve or use: its
metrics are its own (:mod:`monitor.metrics`). :class:`LeanApp` is a Faust app that takes the
Monitor out of its sensor delegate once Faust has put it there, so the delegate's per-event calls
find no sensor to call. ``app.monitor`` itself stays (Faust's consumer still tells it the
committed offsets and end offsets, which are per commit and per fetch, not per event).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import faust


class LeanApp(faust.App):
    """A Faust app without the Monitor sensor on its per-event path."""

    def on_init_dependencies(self) -> Iterable[Any]:
        dependencies = super().on_init_dependencies()
        if self.monitor in set(self.sensors):
            self.sensors.remove(self.monitor)
        return dependencies
