"""The group's schedule on Kafka: every worker reads the models topic, one worker keeps it.

:class:`ModelsReader` runs in every worker: it reads the compacted models topic from its start
and on, into the scorers' :class:`~monitor.core.group.GroupSchedule` (the versions, and how far
the keeper has learnt), and wakes the scorers that wait for a version.

:class:`KeeperService` also runs in every worker, as a member of the consumer group
``<app id>-keeper`` on the outcomes and partials topics. Each has one partition, so Kafka gives
both to exactly one member, and to another when that one dies or leaves (after the session
timeout). The member that holds them runs the :class:`~monitor.core.group.Keeper`: it starts from
the keeper's last snapshot on the models topic, reads both topics from the offsets the snapshot
names, and after each fetch writes what changed to the models topic (new versions, tombstones of
versions no day can use, the schedule, then its snapshot) and the portfolio alerts it raised,
and waits for Kafka to take them before it fetches on. A keeper that dies between two snapshots
is followed by one that closes the same days again from the same records, so it publishes the
same versions and raises the same alerts (by id: the alerts topic may hold one twice).

Why not a Faust agent: Faust acknowledges a record once the agent has taken it and commits it
soon after, but the keeper's records of a day not closed yet must be read again by the next
keeper, so its position is its snapshot's, not a committed offset; and a scorer waiting for its
version may hold Faust's fetcher (a full stream buffer), which must not hold the keeper's input.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from monitor.core.group import OUTCOMES, PARTIALS, SNAPSHOT, GroupSchedule, Keeper
from monitor.kafka.io import MODELS_MAX_MESSAGE_BYTES
from monitor.kafka.security import aiokafka_options
from monitor.settings import Settings

log = logging.getLogger(__name__)

#: seconds without a heartbeat after which the keeper's partitions go to another worker
KEEPER_SESSION_TIMEOUT_S = 10.0


def _client(settings: Settings) -> dict[str, Any]:
    return {"bootstrap_servers": settings.bootstrap, **aiokafka_options(settings)}


def _reader(settings: Settings, **options: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=MODELS_MAX_MESSAGE_BYTES,
        fetch_max_wait_ms=50,
        **_client(settings),
        **options,
    )


class ModelsReader:
    """Reads the models topic into a scorer's schedule, from its start, as long as it runs."""

    def __init__(self, settings: Settings, schedule: GroupSchedule) -> None:
        self.settings = settings
        self.schedule = schedule
        self.changed = asyncio.Event()
        self.records = 0

    async def run(self) -> None:
        tp = TopicPartition(self.settings.models_topic, 0)
        consumer = _reader(self.settings)
        await consumer.start()
        try:
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            while True:
                batch = await consumer.getmany(timeout_ms=500, max_records=1000)
                for records in batch.values():
                    for record in records:
                        if record.key is not None:
                            self.schedule.take(record.key, record.value)
                            self.records += 1
                if batch:
                    self.changed.set()
        finally:
            await consumer.stop()

    async def wait(self, ready: Callable[[], bool], timeout: float) -> bool:
        """Until ``ready()`` or ``timeout`` seconds; returns ``ready()``.

        A cancellation (the partition of the waiting batch taken away) always ends the wait:
        Python 3.11's ``asyncio.wait_for`` drops one that comes as the event is set, and an
        actor Faust stopped that way went on waiting, one day after another, while the
        rebalance waited for it to end.
        """
        deadline = time.monotonic() + timeout
        while not ready():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(left, 0.5)):
                    await self.changed.wait()
        return True


async def last_snapshot(settings: Settings) -> bytes | None:
    """The keeper's last snapshot on the models topic (None: there is none)."""
    tp = TopicPartition(settings.models_topic, 0)
    consumer = _reader(settings)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        snapshot = None
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=1000)
            for record in batch.get(tp, []):
                if record.key == SNAPSHOT.encode():
                    snapshot = record.value
        return snapshot
    finally:
        await consumer.stop()


class KeeperService(ConsumerRebalanceListener):
    """Runs the group's keeper in the worker that Kafka gives its two partitions to.

    ``make_keeper()`` builds a fresh keeper (its models from the worker's checkpoint);
    ``emit(alerts, producer)`` writes portfolio alerts and hands them to the sinks.
    """

    def __init__(
        self,
        settings: Settings,
        make_keeper: Callable[[], Keeper],
        emit: Callable[[list[dict[str, Any]], AIOKafkaProducer], Awaitable[None]],
    ) -> None:
        self.settings = settings
        self.make_keeper = make_keeper
        self.emit = emit
        self.keeper: Keeper | None = None
        self.topics = {settings.outcomes_topic: OUTCOMES, settings.partials_topic: PARTIALS}
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self.takeovers = 0
        self.snapshots = 0
        self.snapshot_bytes = 0
        self.records = 0
        self.busy_s = 0.0  # CPU seconds spent taking records (learning, merging, watching)

    @property
    def held(self) -> bool:
        return self.keeper is not None

    async def run(self) -> None:
        s = self.settings
        self._producer = AIOKafkaProducer(
            acks="all",
            linger_ms=5,
            max_request_size=MODELS_MAX_MESSAGE_BYTES,
            **_client(s),
        )
        await self._producer.start()
        self._consumer = _reader(
            s,
            group_id=f"{s.app_id}-keeper",
            # the range assignor gives partition 0 of both topics to the same member (aiokafka's
            # round robin gives them to two, and then neither keeps the schedule)
            partition_assignment_strategy=(RangePartitionAssignor,),
            session_timeout_ms=int(KEEPER_SESSION_TIMEOUT_S * 1000),
            heartbeat_interval_ms=int(KEEPER_SESSION_TIMEOUT_S * 200),
        )
        self._consumer.subscribe(list(self.topics), listener=self)
        await self._consumer.start()
        try:
            while True:
                batch = await self._consumer.getmany(timeout_ms=200, max_records=5000)
                keeper = self.keeper
                if keeper is None:
                    continue
                started = time.thread_time()
                for tp, records in batch.items():
                    topic = self.topics[tp.topic]
                    for record in records:
                        keeper.take(topic, record.value, record.offset)
                        self.records += 1
                self.busy_s += time.thread_time() - started  # (CPU: the keeper's own work)
                await self._publish(keeper)
        finally:
            await self._consumer.stop()
            await self._producer.stop()

    async def _publish(self, keeper: Keeper) -> None:
        """Write what changed, and the snapshot if days closed; wait until Kafka has it."""
        assert self._producer is not None
        alerts = keeper.take_alerts()
        if alerts:  # before the versions, so that they reach the sinks before later days' alerts
            await self.emit(alerts, self._producer)
        futures = [
            await self._producer.send(self.settings.models_topic, key=key, value=value)
            for key, value in keeper.publish()
        ]
        if keeper.changed:
            snapshot = keeper.snapshot()
            futures.append(
                await self._producer.send(
                    self.settings.models_topic, key=SNAPSHOT.encode(), value=snapshot
                )
            )
            keeper.changed = False
            self.snapshots += 1
            self.snapshot_bytes = len(snapshot)
        if futures:
            await asyncio.gather(*futures)

    # -- the keeper group's rebalances (aiokafka calls these between fetches) -----------------
    async def on_partitions_revoked(self, revoked: Any) -> None:
        if self.keeper is not None:
            log.info("the schedule's keeper moves on from this worker")
        self.keeper = None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        mine = {tp.topic for tp in assigned}
        if set(self.topics) - mine:
            return  # (both topics go to one member; a partial assignment holds nothing)
        snapshot = await last_snapshot(self.settings)
        keeper = self.make_keeper()
        records = keeper.start(snapshot)
        assert self._producer is not None and self._consumer is not None
        futures = [
            await self._producer.send(self.settings.models_topic, key=key, value=value)
            for key, value in records
        ]
        await asyncio.gather(*futures)
        for tp in assigned:
            self._consumer.seek(tp, keeper.positions[self.topics[tp.topic]])
        self.keeper = keeper
        self.takeovers += 1
        log.info(
            "this worker keeps the schedule (%s snapshot; outcomes from offset %d, partials "
            "from %d)",
            "from its" if snapshot else "without a",
            keeper.positions[OUTCOMES],
            keeper.positions[PARTIALS],
        )
