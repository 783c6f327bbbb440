"""Every use the worker makes of Faust's and aiokafka's internals, behind one tested seam.

Checked against faust-streaming 0.15.3 (mode-streaming 0.7.1) and aiokafka 0.14.0; the unit
tests in ``tests/unit/test_faustcompat.py`` exercise each function against the installed
versions, so an upgrade that moves one of these internals fails there first. Nothing else in the
monitor touches an underscore name of Faust or aiokafka (ruff's ``SLF`` rule checks it, with
this module as its one exemption).

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

**Nothing fetched is dropped as the flow resumes.** Faust resumes the input partitions, seeks
them to the committed offsets, and then resumes the flow, which also empties the streams' queues.
Messages fetched meanwhile (during the seek or just after it) and still queued were dropped there
and never fetched again, since the position had already passed them: after a restart the agent
handled 0-2799 while the seek waited, 2800 and 2801 were queued and dropped, and the group's
offsets stood still for good at the gap (the events were never processed). :class:`LeanApp`'s
flow control empties the queues only when Faust clears them explicitly (partitions revoked, the
consumer stopped), not on every resume. Every queued message is then of a partition assigned
now, in order after what the agent handled; a seek back to the committed offset delivers some of
them again, which the monitor's engine knows it has seen.

**Each acknowledged offset counts once.** Faust commits the first run of consecutive offsets in
its list of acknowledged ones, and fills in the offsets of a gap it saw in what it fetched as if
they were acknowledged (for offsets that never come, such as a transaction's markers). After a
rebalance that left this worker a partition whose batch was under way, the seek back to the
committed offset made the next fetched message look like a gap over that batch's offsets, which
the batch then acknowledged too: each was in the list twice, the run stopped at the first one
twice (453, 454, 454, ...), and the group's offsets moved one or two per commit while the worker
had processed everything (a scale-out test waited four minutes). :class:`LeanApp` counts each
offset once when it looks for the run.

**A partition nobody committed is read from its start.** aiokafka does not move a partition
without a committed offset (or with offset 0) when Faust seeks to the committed offsets, so what
a revocation dropped from the queues of a partition this worker keeps would never come again.
With ``consumer_auto_offset_reset="earliest"`` (Faust's default), :class:`LeanApp` seeks such a
partition of an acknowledged topic to its earliest offset.

**One actor per input partition, stopped when the partition goes.** The worker's agent runs an
actor for each input partition (Faust's ``isolated_partitions``). The actor of a revoked
partition reads its stream in the background (the take buffer), and that background reader
unregisters the actor's topic from Faust's conductor only once it reads on, later than Faust
checks, as it assigns partitions, that every such topic's partition is assigned: the check
failed (an ``AssertionError`` that stopped the worker) in one of three runs of the scale-out test.
:class:`IsolatedConductor` drops those topics before the check. :func:`abandon` keeps the events
of a batch abandoned on revocation from being acknowledged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from time import monotonic
from typing import Any

import faust
from faust.transport.conductor import Conductor
from faust.types import TP
from faust.utils.functional import consecutive_numbers
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent

#: the versions this module was checked against (the unit tests print a mismatch)
CHECKED_AGAINST = {"faust-streaming": "0.15.3", "mode-streaming": "0.7.1", "aiokafka": "0.14.0"}


class KeepQueuesOnResume(FlowControlEvent):
    """Flow control whose resume does not empty the queues (:meth:`clear` still does)."""

    def resume(self) -> None:
        self._suspend.clear()
        self._resume.set()


class IsolatedConductor(Conductor):
    """Faust's conductor, which forgets, as partitions are assigned, the topic of an actor Faust
    stopped for a revoked partition (see the module's docstring)."""

    async def on_partitions_assigned(self, assigned: set[TP]) -> None:
        for topic in list(self._topics):
            active = topic.active_partitions
            if active and assigned and not active <= assigned:
                self._topics.discard(topic)
        await super().on_partitions_assigned(assigned)


class LeanApp(faust.App):
    """A Faust app without the Monitor sensor on its per-event path, whose consumer counts the
    acknowledgements made while it seeks, keeps what it fetched as the flow resumes, and reads a
    partition nobody committed from its start (see the module's docstring)."""

    @cached_property
    def flow_control(self) -> FlowControlEvent:
        return KeepQueuesOnResume(loop=self.loop)

    def on_init_dependencies(self) -> Iterable[Any]:
        dependencies = super().on_init_dependencies()
        if self.monitor in set(self.sensors):
            self.sensors.remove(self.monitor)
        return dependencies

    def _new_conductor(self) -> Any:
        return IsolatedConductor(app=self, beacon=None)

    def _new_consumer(self) -> Any:
        consumer: Any = super()._new_consumer()
        seek = consumer.perform_seek

        async def perform_seek() -> None:
            consumer._committed_offset.clear()  # Faust's note; the seek sets it from the broker
            await seek()
            if self.conf.consumer_auto_offset_reset == "earliest":
                await _rewind_uncommitted(consumer)

        consumer.perform_seek = perform_seek
        consumer._new_offset = lambda tp: new_offset(consumer, tp)
        return consumer


def new_offset(consumer: Any, tp: TP) -> int | None:
    """Faust's ``Consumer._new_offset`` (the offset to commit for ``tp``: the end of the first
    run of consecutive offsets acknowledged, the gaps it saw filled in), counting each offset
    once (see the module's docstring)."""
    acked: list[int] = consumer._acked[tp]
    if not acked:
        return None
    gap = consumer._gap[tp]
    if gap:
        top = max(acked)
        spans = sorted(gap.overlap(0, top), key=lambda span: span.begin)
        if spans:
            filled = [offset for span in spans for offset in range(span.begin, span.end)]
            acked.extend(filled)
            gap.chop(0, max(filled[-1], top + 1))
    acked[:] = sorted(set(acked))
    committed = consumer._committed_offset[tp]
    if committed and acked[0] - committed > 1:
        return None  # (as Faust: the head of the list is not next to the committed offset)
    run = next(consecutive_numbers(acked))
    del acked[: len(run)]
    consumer._acked_index[tp].difference_update(run)
    return int(run[-1]) + 1


async def _rewind_uncommitted(consumer: Any) -> None:
    """Seek each assigned partition of an acknowledged topic that has no committed offset to its
    earliest offset (see the module's docstring)."""
    acknowledged = consumer.app.topics.acks_enabled_for
    uncommitted = [
        tp
        for tp in consumer.assignment()
        if acknowledged(tp.topic) and consumer._committed_offset.get(tp) is None
    ]
    if uncommitted:
        earliest = await consumer.earliest_offsets(*uncommitted)
        await consumer.seek_wait({tp: earliest[tp] for tp in uncommitted})


class QuietWorker(faust.Worker):
    """Faust's worker without its terminal spinner, which sets the root logger to DEBUG (so that
    every debug call of every library builds a log record, a fifth of the worker's time)."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        logger.setLevel(level)


class SendErrorSensor(faust.Sensor):
    """Hears of every record Faust itself failed to produce (a table's changelog, the dead
    letters of undeliverable alerts): Faust only logs those and carries on. ``on_failed`` gets
    the topic and the exception."""

    def __init__(self, on_failed: Callable[[str, BaseException], Any]) -> None:
        super().__init__()
        self.on_failed = on_failed

    def on_send_initiated(
        self, producer: Any, topic: str, message: Any, keysize: int, valsize: int
    ) -> Any:
        return topic  # the state Faust hands back to on_send_error

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        self.on_failed(str(state), exc)


# -- the producer -------------------------------------------------------------------------------
def aiokafka_producer(app: faust.App) -> Any:
    """The ``AIOKafkaProducer`` inside Faust's producer (Faust's ``NotReady`` before it starts):
    the worker hands it whole batches (:mod:`monitor.worker.outbound`)."""
    return app.producer._ensure_producer()  # type: ignore[attr-defined]


def widen_producer_buffer(app: faust.App, messages: int) -> None:
    """Let ``messages`` records queue in Faust's producer buffer before a send waits for it to
    drain (Faust's default, 100, makes the stream drain it one message at a time)."""
    app.producer.buffer.max_messages = messages


async def partitions_of(producer: Any, topic: str) -> set[int]:
    """The partitions of ``topic``, waiting for the producer's metadata to know it."""
    partitions: set[int] = await producer.client._wait_on_metadata(topic)
    return partitions


def default_partition(producer: Any, topic: str, key: bytes | None, value: bytes | None) -> int:
    """The partition aiokafka's default partitioner gives a record of ``key`` (the one a plain
    send would choose, so tables and topics keyed alike stay co-partitioned); the topic's
    metadata must be known (:func:`partitions_of`)."""
    partition: int = producer._partition(topic, None, None, None, key, value)
    return partition


# -- the consumer ----------------------------------------------------------------------------
def fetcher(app: faust.App) -> Any:
    """aiokafka's fetcher inside Faust's consumer thread (None until it has started)."""
    consumer = getattr(getattr(app.consumer, "_thread", None), "_consumer", None)
    return getattr(consumer, "_fetcher", None)


def fetch_max_wait(app: faust.App) -> int | None:
    """How long the broker may hold the consumer's fetch (ms; None before the consumer runs)."""
    running = fetcher(app)
    return None if running is None else int(running._fetch_max_wait_ms)


def set_fetch_max_wait(app: faust.App, ms: int) -> bool:
    """Let the broker hold a fetch for at most ``ms`` milliseconds (Faust's aiokafka driver
    fixes 1.5 s); returns whether the fetcher was there to set (it starts with the consumer)."""
    running = fetcher(app)
    if running is None:
        return False
    if running._fetch_max_wait_ms != ms:
        running._fetch_max_wait_ms = ms
    return True


# -- streams and tables -----------------------------------------------------------------------
def set_current_event(stream: Any, event: Any) -> None:
    """Make ``event`` the stream's current event: table writes go to its partition, and the
    stream's take buffer appends it once a batch is done."""
    stream._set_current_event(event)


def abandon(events: Iterable[Any]) -> None:
    """Let Faust never count ``events`` as acknowledged, so that their offsets are not committed
    (a batch whose partition was revoked while it was under way: the take buffer acknowledges
    every event of a batch as it closes, processed or not)."""
    for event in events:
        event.message.acked = True


def restore_take_buffer_event(stream: Any, event: Any) -> None:
    """After a batch, give the stream's take buffer back ``event``, the one Faust had made
    current when it read on while the batch was handled (the buffer appends it once the batch is
    done; another one there left the new message unacknowledged and the commits stalled).

    The attribute only: in the agent's own context no event stays current, or a RocksDB table
    would look keys up in that event's partition alone (a closed account's risk was still served).
    """
    stream._set_current_event(None)
    stream.current_event = event


def set_persisted_offset(table: Any, tp: TP, offset: int) -> None:
    """Tell a RocksDB table the changelog offset it holds up to (recovery after a restart then
    reads only what came after it, as Faust's own writes do)."""
    table.data.set_persisted_offset(tp, offset)


# -- recovery -----------------------------------------------------------------------------------
async def recovery_state(app: faust.App) -> dict[str, Any] | None:
    """What Faust's table recovery is doing, when it is restoring tables (None when it is not):
    how long it has been at it (``seconds``, from Faust's own monotonic clock) and each
    changelog partition it still waits for, with the records left to its end (``left``), the
    offset it has reached, whether the consumer holds the partition paused (Faust's list and
    aiokafka's), and aiokafka's fetch position (None when not known). For the worker's log when
    a recovery stops moving: a restore that reads nothing leaves the worker's batches waiting."""
    tables: Any = app.tables  # Faust types it as its interface, without these
    recovery: Any = getattr(tables, "recovery", None)
    if recovery is None or not recovery.in_recovery or recovery._recovery_started_at is None:
        return None
    consumer: Any = app.consumer
    inner = getattr(getattr(consumer, "_thread", None), "_consumer", None)
    held = set(inner.paused()) if inner is not None else set()
    index = getattr(app.topics, "_tp_index", {})
    waiting: list[dict[str, Any]] = []
    for tp, left in sorted(recovery.active_remaining().items()):
        if left <= 0:
            continue
        try:
            position = await consumer.position(tp)
        except Exception:  # not assigned here any more, or the consumer is not running
            position = None
        waiting.append(
            {
                "topic": tp.topic,
                "partition": tp.partition,
                "left": int(left),
                "offset": recovery.active_offsets.get(tp),
                "paused": tp in consumer._paused_partitions or tp in held,
                "position": position,
                # what Faust's delivery of a fetched record to the recovery depends on
                "routed": bool(index.get(tp)),
                "read_offset": getattr(consumer, "_read_offset", {}).get(tp),
            }
        )
    queue = tables.changelog_queue
    return {
        "seconds": monotonic() - recovery._recovery_started_at,
        "waiting": waiting,
        "queued": queue.qsize(),
    }


async def read_again(app: faust.App, offsets: dict[TP, int]) -> None:
    """Seek changelog partitions back to the offsets Faust's recovery has reached, so that it
    is given again what it was never handed (see :func:`recovery_state`)."""
    await app.consumer.seek_wait(offsets)


def commit_state(app: faust.App, tp: TP) -> dict[str, Any]:
    """What Faust's consumer holds for committing ``tp``: the offset it last committed (or
    read as committed), the first acknowledged offsets it keeps and how many, the first gaps it
    fills in, and its read offset. For the worker's log when a partition's commits stop moving
    while its input is processed."""
    consumer: Any = app.consumer
    acked = sorted(consumer._acked.get(tp, ()))
    gaps = sorted((g.begin, g.end) for g in consumer._gap.get(tp, ()))
    return {
        "committed": consumer._committed_offset.get(tp),
        "acked": acked[:8],
        "acked_count": len(acked),
        "gaps": gaps[:4],
        "read_offset": consumer._read_offset.get(tp),
    }
