"""The seam to Faust's and aiokafka's internals, against the installed versions."""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from aiokafka.client import AIOKafkaClient
from aiokafka.consumer.fetcher import Fetcher
from aiokafka.consumer.subscription_state import SubscriptionState
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.producer import AIOKafkaProducer
from aiokafka.protocol.metadata import MetadataResponse_v0
from faust.exceptions import NotReady
from faust.types import TP, Message

from monitor.worker.faustcompat import (
    CHECKED_AGAINST,
    LeanApp,
    SendErrorSensor,
    abandon,
    aiokafka_producer,
    commit_state,
    default_partition,
    fetch_max_wait,
    partitions_of,
    read_again,
    recovery_state,
    restore_take_buffer_event,
    set_current_event,
    set_fetch_max_wait,
    set_persisted_offset,
    widen_producer_buffer,
)


def test_faust_puts_its_monitor_on_every_event_and_the_lean_app_takes_it_off() -> None:
    plain = faust.App("unit-plain", broker="kafka://127.0.0.1:1")
    list(plain.on_init_dependencies())
    assert plain.monitor in set(plain.sensors)  # what the lean app is for
    lean = LeanApp("unit-lean", broker="kafka://127.0.0.1:1")
    list(lean.on_init_dependencies())
    assert lean.monitor not in set(lean.sensors)
    assert lean.sensors.on_stream_event_in(None, 0, None, None) == {}  # type: ignore[arg-type]


def _plain_and_lean(name: str) -> tuple[faust.App, faust.App]:
    """Faust's own app and the worker's lean one, side by side (neither reaches a broker)."""
    return (
        faust.App(f"unit-plain-{name}", broker="kafka://127.0.0.1:1"),
        LeanApp(f"unit-lean-{name}", broker="kafka://127.0.0.1:1"),
    )


def _acking_consumer(app: faust.App, tp: TP) -> Any:
    """``app``'s consumer, ``tp``'s topic one whose messages it acknowledges (an input)."""
    conductor: Any = app.topics  # Faust's internals, typed as its interfaces
    conductor._acking_topics.add(tp.topic)
    return app.consumer


def _message(tp: TP, offset: int) -> Message:
    return Message(tp.topic, tp.partition, offset, 0.0, 0, None, None, b"", None, tp=tp)


def test_messages_acknowledged_while_the_input_is_sought_back_are_committed() -> None:
    """After a rebalance the stream handled 800 and 801 before the seek, a commit of 802 failed,
    and the seek back to the committed 800 delivers them again: Faust alone never commits
    again (the first offset it holds acknowledged is 802), the lean app goes on."""
    tp = TP("unit-events", 0)
    heads = {}
    for app in _plain_and_lean("acks"):
        consumer = _acking_consumer(app, tp)
        for offset in (800, 801):
            consumer.ack(_message(tp, offset))
        assert consumer._new_offset(tp) == 802
        consumer._committed_offset[tp] = 802  # as Faust notes it, whether or not Kafka took it

        async def seek_to_committed(consumer: Any = consumer) -> dict[TP, int]:
            await asyncio.sleep(0)
            for offset in (800, 801):  # fetched again while the seek waits for the broker
                consumer.ack(_message(tp, offset))
            return {tp: 800}

        consumer.seek_to_committed = seek_to_committed
        consumer.assignment = lambda: {tp}
        asyncio.run(consumer.perform_seek())
        for offset in range(802, 810):
            consumer.ack(_message(tp, offset))
        heads[type(app).__name__] = consumer._new_offset(tp)
    assert heads == {"App": None, "LeanApp": 810}


def test_an_offset_acknowledged_twice_does_not_hold_the_commit_back() -> None:
    """A kept partition's batch (453-455) under way through a rebalance: the seek back to the
    committed 453 made the next fetched message (456) look like a gap over the batch, which then
    acknowledged its offsets too. Faust commits one offset at a time from there, the lean app all
    of them; and a gap over offsets no message ever comes for is still filled in."""
    tp = TP("unit-events", 0)
    heads = {}
    for app in _plain_and_lean("twice"):
        consumer = _acking_consumer(app, tp)
        consumer._committed_offset[tp] = 453
        asyncio.run(consumer._add_gap(tp, 453, 455))
        for offset in (456, 457, 453, 454, 455):
            consumer.ack(_message(tp, offset))
        asyncio.run(consumer._add_gap(tp, 458, 459))  # never fetched (a transaction's markers)
        consumer.ack(_message(tp, 460))
        heads[type(app).__name__] = [consumer._new_offset(tp), consumer._new_offset(tp)]
    assert heads == {"App": [455, 456], "LeanApp": [461, None]}


def test_what_was_fetched_stays_queued_as_the_flow_resumes_and_goes_when_cleared() -> None:
    """Faust empties the agents' queues whenever the flow resumes, after the seek to the committed
    offsets, so messages fetched after the seek were lost; the lean app's queues keep them until
    Faust clears them on purpose (partitions revoked, consumer stopped)."""
    kept = {}
    for app in _plain_and_lean("flow"):

        async def resume_with_two_queued(app: faust.App = app) -> tuple[int, int]:
            queue = app.FlowControlQueue(maxsize=10, clear_on_resume=True)
            for offset in (2800, 2801):
                queue.put_nowait(offset)
            app.flow_control.suspend()
            app.flow_control.resume()
            after_resume = queue.qsize()
            app.flow_control.clear()
            return after_resume, queue.qsize()

        kept[type(app).__name__] = asyncio.run(resume_with_two_queued())
    assert kept == {"App": (0, 0), "LeanApp": (2, 0)}


def test_an_abandoned_event_is_never_acknowledged_to_the_consumer() -> None:
    tp = TP("unit-events", 0)
    app = LeanApp("unit-lean-abandon", broker="kafka://127.0.0.1:1")
    consumer = _acking_consumer(app, tp)
    kept, dropped = _message(tp, 0), _message(tp, 1)
    abandon([SimpleNamespace(message=dropped)])
    for message in (kept, dropped):
        consumer.ack(message)  # as the take buffer's acknowledgements end, when its batch closes
    assert consumer._new_offset(tp) == 1  # offset 1 is not committed


def test_the_topic_of_a_stopped_actor_is_forgotten_as_partitions_are_assigned() -> None:
    """An actor for partition 1, stopped as partition 1 was revoked, whose topic is still
    registered: Faust's conductor fails its check (every isolated topic's partition assigned),
    the lean app's forgets the topic."""
    failed: dict[str, bool | str] = {}
    for app in _plain_and_lean("isolated"):
        topic = app.topic("unit-isolated", value_serializer="raw")
        stale = topic.clone(active_partitions={TP("unit-isolated", 1)})
        conductor: Any = app.topics
        conductor.add(stale)
        try:
            asyncio.run(conductor.on_partitions_assigned({TP("unit-isolated", 0)}))
            failed[type(app).__name__] = stale in set(conductor._topics)
        except AssertionError:
            failed[type(app).__name__] = "assertion"
    assert failed == {"App": "assertion", "LeanApp": False}


@pytest.mark.parametrize("committed", [None, 0, 100])
def test_a_partition_nobody_committed_is_read_from_its_start(committed: int | None) -> None:
    """The first batch (0-99) went through while the seek waited, 100 and 101 were queued and
    are dropped as the flow resumes: aiokafka leaves a partition without a committed offset (or
    with 0) where its fetch got to, so Faust alone never reads them; the lean app seeks the input
    back to its start (and leaves the changelogs, which are not acknowledged, alone)."""
    tp, changelog = TP("unit-events", 0), TP("unit-accounts-changelog", 0)
    sought = {}
    for app in _plain_and_lean("rewind"):
        consumer = _acking_consumer(app, tp)
        seeks: list[dict[TP, int]] = []

        async def seek_to_committed() -> dict[TP, int | None]:
            return {tp: committed, changelog: None}

        async def earliest_offsets(*partitions: TP) -> dict[TP, int]:
            return dict.fromkeys(partitions, 0)

        async def seek_wait(offsets: dict[TP, int], seeks: list[dict[TP, int]] = seeks) -> None:
            seeks.append(offsets)

        consumer.seek_to_committed = seek_to_committed
        consumer.assignment = lambda: {tp, changelog}
        consumer.earliest_offsets = earliest_offsets
        consumer.seek_wait = seek_wait
        asyncio.run(consumer.perform_seek())
        sought[type(app).__name__] = seeks
    assert sought["App"] == []
    assert sought["LeanApp"] == ([] if committed else [{tp: 0}])


def test_the_installed_versions_are_the_ones_checked() -> None:
    """A different Faust or aiokafka may have moved an internal: rerun this file, then update
    :data:`CHECKED_AGAINST` (and the docstring) once it passes."""
    installed = {name: version(name) for name in CHECKED_AGAINST}
    assert installed == CHECKED_AGAINST


def _producer_knowing(topic: str, partitions: int) -> AIOKafkaProducer:
    """An unstarted aiokafka producer whose metadata has ``topic`` (as a broker would say)."""
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1")
    producer.client.cluster.update_metadata(
        MetadataResponse_v0(
            [(0, "127.0.0.1", 1)], [(0, topic, [(0, p, 0, [0], [0]) for p in range(partitions)])]
        )
    )
    return producer


def test_records_go_to_the_partition_of_kafkas_default_partitioner() -> None:
    async def partitions() -> tuple[set[int], list[int]]:
        producer = _producer_knowing("unit-topic", 3)
        try:
            known = await partitions_of(producer, "unit-topic")
            return known, [default_partition(producer, "unit-topic", k, None) for k in keys]
        finally:
            await producer.client.close()

    keys = [f"a{i:06d}".encode() for i in range(50)]
    known, chosen = asyncio.run(partitions())
    assert known == {0, 1, 2}
    assert chosen == [DefaultPartitioner()(k, [0, 1, 2], [0, 1, 2]) for k in keys]
    assert set(chosen) == known  # 50 keys reach every partition


def test_the_fetch_wait_is_set_on_the_running_fetcher() -> None:
    app = faust.App("unit-fetch", broker="kafka://127.0.0.1:1")
    assert fetch_max_wait(app) is None and not set_fetch_max_wait(app, 50)  # not started yet

    async def shortened() -> tuple[int | None, int]:
        client = AIOKafkaClient(bootstrap_servers="127.0.0.1:1")
        running = Fetcher(client, SubscriptionState(), fetch_max_wait_ms=1500)
        # where the consumer thread keeps aiokafka's consumer once it has started
        app.consumer._thread._consumer = SimpleNamespace(_fetcher=running)  # type: ignore[attr-defined]
        try:
            before = fetch_max_wait(app)
            assert set_fetch_max_wait(app, 50)
            return before, running._fetch_max_wait_ms
        finally:
            app.consumer._thread._consumer = None  # type: ignore[attr-defined]
            await running.close()
            await client.close()

    assert asyncio.run(shortened()) == (1500, 50)


def test_the_current_event_is_the_one_set() -> None:
    app = faust.App("unit-current", broker="kafka://127.0.0.1:1")
    stream = app.stream(app.topic("unit-events"))
    event = _message(TP("unit-events", 0), 7)  # any object Faust can hold a weak reference to
    set_current_event(stream, event)
    assert stream.current_event is event
    set_current_event(stream, None)
    assert stream.current_event is None


def test_the_take_buffer_gets_its_event_back_and_no_event_stays_current_here() -> None:
    app = faust.App("unit-restore", broker="kafka://127.0.0.1:1")
    stream = app.stream(app.topic("unit-events"))
    read_on = _message(TP("unit-events", 0), 8)  # what Faust read while the batch was handled
    set_current_event(stream, _message(TP("unit-events", 1), 3))  # a batch's table writes
    restore_take_buffer_event(stream, read_on)
    assert stream.current_event is read_on  # what the take buffer appends
    assert faust.current_event() is None  # what a table's lookups go by in this context


def test_the_producer_is_faust_s_own_once_started() -> None:
    app = faust.App("unit-producer", broker="kafka://127.0.0.1:1")
    with pytest.raises(NotReady):
        aiokafka_producer(app)
    widen_producer_buffer(app, 5000)
    assert app.producer.buffer.max_messages == 5000


def test_a_rocksdb_table_keeps_the_persisted_offset(tmp_path: Path) -> None:
    pytest.importorskip("rocksdict")
    app = faust.App(
        "unit-rocks", broker="kafka://127.0.0.1:1", store="rocksdb://", datadir=tmp_path
    )
    table = app.Table("accounts", default=None, partitions=2)
    set_persisted_offset(table, TP("unit-changelog", 1), 42)
    store: Any = table.data  # Faust's RocksDB store
    assert store.persisted_offset(TP("unit-changelog", 1)) == 42


def test_send_errors_reach_the_callback_with_their_topic() -> None:
    failed: list[tuple[str, BaseException]] = []
    sensor = SendErrorSensor(lambda topic, exc: failed.append((topic, exc)))
    state = sensor.on_send_initiated(None, "unit-alerts", None, 1, 2)
    error = RuntimeError("refused")
    sensor.on_send_error(None, error, state)
    assert failed == [("unit-alerts", error)]


def test_a_recovery_under_way_is_described_partition_by_partition() -> None:
    """What the worker logs when restoring its tables takes long: the changelog partitions not
    read to their end, how far each is, and whether the consumer holds it paused."""
    app = LeanApp("unit-recovery", broker="kafka://127.0.0.1:1")
    assert asyncio.run(recovery_state(app)) is None  # not restoring
    tables: Any = app.tables  # Faust types it as its interface, without the recovery
    recovery = tables.recovery
    behind, done = TP("unit-changelog", 2), TP("unit-changelog", 3)
    recovery._set_recovery_started()
    recovery.active_highwaters.update({behind: 99, done: 50})
    recovery.active_offsets.update({behind: 40, done: 50})
    app.consumer.pause_partitions([behind])
    state = asyncio.run(recovery_state(app))
    assert state is not None and 0 <= state["seconds"] < 60 and state["queued"] == 0
    assert state["waiting"] == [
        {
            "topic": "unit-changelog",
            "partition": 2,
            "left": 59,
            "offset": 40,
            "paused": True,
            "position": None,  # the consumer is not running here
            "routed": False,  # no channel reads the topic here
            "read_offset": None,
        }
    ]
    recovery._set_recovery_ended()
    assert asyncio.run(recovery_state(app)) is None


def test_reading_again_seeks_faust_s_consumer_and_waits() -> None:
    app = LeanApp("unit-read-again", broker="kafka://127.0.0.1:1")
    consumer: Any = app.consumer
    assert callable(consumer.seek_wait)  # Faust's own, which its recovery seeks with
    sought: list[dict[TP, int]] = []

    async def seek_wait(offsets: dict[TP, int]) -> None:
        sought.append(dict(offsets))

    consumer.seek_wait = seek_wait
    asyncio.run(read_again(app, {TP("unit-changelog", 2): 0}))
    assert sought == [{TP("unit-changelog", 2): 0}]


def test_what_faust_holds_for_committing_a_partition_is_described() -> None:
    tp = TP("unit-events", 3)
    app = LeanApp("unit-commits", broker="kafka://127.0.0.1:1")
    consumer = _acking_consumer(app, tp)
    consumer._committed_offset[tp] = 452
    for offset in (460, 455, 457):
        consumer.ack(_message(tp, offset))
    asyncio.run(consumer._add_gap(tp, 470, 473))
    consumer._read_offset[tp] = 480
    assert commit_state(app, tp) == {
        "committed": 452,
        "acked": [455, 457, 460],
        "acked_count": 3,
        "gaps": [(470, 474)],  # (Faust keeps a gap as a half-open interval)
        "read_offset": 480,
    }
