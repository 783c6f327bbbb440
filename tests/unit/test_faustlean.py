"""The worker's Faust app: no Monitor sensor on the per-event path."""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.types import TP, Message

from monitor.faustlean import LeanApp


def test_faust_puts_its_monitor_on_every_event_and_the_lean_app_takes_it_off() -> None:
    plain = faust.App("unit-plain", broker="kafka://127.0.0.1:1")
    list(plain.on_init_dependencies())
    assert plain.monitor in set(plain.sensors)  # what the lean app is for
    lean = LeanApp("unit-lean", broker="kafka://127.0.0.1:1")
    list(lean.on_init_dependencies())
    assert lean.monitor not in set(lean.sensors)
    assert lean.sensors.on_stream_event_in(None, 0, None, None) == {}  # type: ignore[arg-type]


def _message(tp: TP, offset: int) -> Message:
    return Message(tp.topic, tp.partition, offset, 0.0, 0, None, None, b"", None, tp=tp)


def test_messages_acknowledged_while_the_input_is_sought_back_are_committed() -> None:
    """After a rebalance the stream handled 800 and 801 before the seek, a commit of 802 failed,
    and the seek back to the committed 800 delivers them again: Faust alone never commits
    again (the first offset it holds acknowledged is 802), the lean app goes on."""
    tp = TP("unit-events", 0)
    heads = {}
    for app in (
        faust.App("unit-plain-acks", broker="kafka://127.0.0.1:1"),
        LeanApp("unit-lean-acks", broker="kafka://127.0.0.1:1"),
    ):
        app.topics._acking_topics.add(tp.topic)  # input whose messages are acknowledged
        consumer = app.consumer
        for offset in (800, 801):
            consumer.ack(_message(tp, offset))
        assert consumer._new_offset(tp) == 802
        consumer._committed_offset[tp] = 802  # as Faust notes it, whether or not Kafka took it

        async def seek_to_committed(consumer: Any = consumer) -> dict[TP, int]:
            await asyncio.sleep(0)
            for offset in (800, 801):  # fetched again while the seek waits for the broker
                consumer.ack(_message(tp, offset))
            return {tp: 800}

        consumer.seek_to_committed = seek_to_committed  # type: ignore[method-assign]
        asyncio.run(consumer.perform_seek())
        for offset in range(802, 810):
            consumer.ack(_message(tp, offset))
        heads[type(app).__name__] = consumer._new_offset(tp)
    assert heads == {"App": None, "LeanApp": 810}
