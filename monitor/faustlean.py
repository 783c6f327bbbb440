"""The worker's Faust app: Faust's per-event machinery it does without, and one repair.

**Lean.** Faust's :class:`~faust.sensors.Monitor` is a sensor that every message and stream
event passes through (counters by topic, stream and task, time stamps, a dict of sensor states
per event), for Faust's own statistics pages and sensors, which the worker does not serve or
use: its metrics are its own (:mod:`monitor.metrics`). :class:`LeanApp` is a Faust app that
takes the Monitor out of its sensor delegate once Faust has put it there, so the delegate's per-
event calls find no sensor to call. ``app.monitor`` itself stays (Faust's consumer still tells
it the committed offsets and end offsets, which are per commit and per fetch, not per event).

**Acknowledgements during a seek count.** After a rebalance Faust's fetcher starts before Faust
seeks the input back to the committed offsets, so the stream may already have handled and
acknowledged the first messages (800 and 801, say), and Faust's commit timer may have tried to
commit 802 and noted 802 as committed even though the rebalance refused the commit. The seek
sends the fetcher back to 800, and while it waits for the broker the messages come again and are
acknowledged, but Faust ignores acknowledgements below the offset it believes committed (802);
then the seek notes 800, and Faust commits nothing while the first offset it holds acknowledged
(802) is not next to the committed one: the group's offsets stood still for good while the
worker processed all its input. :class:`LeanApp` forgets the offsets noted as committed when a
seek starts, so every acknowledgement during the seek counts (the seek notes them afresh).
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

    def _new_consumer(self) -> Any:
        consumer: Any = super()._new_consumer()
        seek = consumer.perform_seek

        async def perform_seek() -> None:
            consumer._committed_offset.clear()  # Faust's note; the seek sets it from the broker
            await seek()

        consumer.perform_seek = perform_seek
        return consumer
