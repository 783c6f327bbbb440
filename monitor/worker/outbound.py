"""What the worker writes to Kafka while it processes a batch, produced in a few Kafka batches.

Faust's ``send_soon`` costs about 200 µs of CPU per message (a future, a buffer entry, a task
wake-up and a callback each), more than scoring the event. The worker instead collects every
record of an input batch here (alerts, account-risk records, dead letters and the accounts table's
changelog), and :meth:`Outbound.send` appends them to one aiokafka ``BatchBuilder`` per topic
partition and hands each batch to the app's own producer. It does so before the input batch is
acknowledged, and Faust flushes that producer before it commits input offsets: nothing written is
lost to a crash, a crash may repeat some of it. A batch Kafka does not take calls ``on_failed``
before that flush returns (the worker then exits without committing the input).

>>> out = Outbound()
>>> out.add("alerts", b"k", b"v")
>>> out.add("changelog", b"k", b"state", partition=2)
>>> [(r.topic, r.partition) for r in out.pending()]
[('alerts', None), ('changelog', 2)]
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.worker.faustcompat import default_partition, partitions_of

log = logging.getLogger(__name__)

Headers = Sequence[tuple[str, bytes]]


@dataclass(slots=True)
class Record:
    """One record to produce; ``partition`` None means by key, as Kafka's default partitioner."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers
    partition: int | None


class Outbound:
    """Records waiting to be produced, in the order they were added.

    ``on_sent(topic, partition, last_offset)`` is called when a batch is acknowledged (the
    worker keeps a RocksDB table's changelog offset with it); ``on_failed(topic, exc)`` when a
    batch could not be produced.
    """

    def __init__(
        self,
        on_sent: Callable[[str, int, int], None] | None = None,
        on_failed: Callable[[str, BaseException], None] | None = None,
    ) -> None:
        self._records: list[Record] = []
        #: bytes of every record added so far (keys, values and headers), for the bench's
        #: bytes written per event
        self.bytes_added = 0
        self.on_sent = on_sent
        self.on_failed = on_failed

    def add(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers = (),
        partition: int | None = None,
    ) -> None:
        """Queue a record (``value`` None is a tombstone)."""
        self._records.append(Record(topic, key, value, headers, partition))
        size = (len(key) if key else 0) + (len(value) if value else 0)
        for name, header in headers:
            size += len(name) + len(header)
        self.bytes_added += size

    def pending(self, topic: str | None = None) -> list[Record]:
        """The records not yet sent (of one topic, or all)."""
        return [r for r in self._records if topic is None or r.topic == topic]

    async def send(self, producer: Any) -> list[asyncio.Future[Any]]:
        """Hand every pending record to ``producer`` (an ``AIOKafkaProducer``), one batch per
        topic partition (more when a batch fills up); return the batches' futures.

        Returns once the batches are queued, not acknowledged: a flush of the producer waits
        for them (Faust flushes it before each offset commit), and so do the futures.
        """
        records, self._records = self._records, []
        futures: list[asyncio.Future[Any]] = []
        if not records:
            return futures
        for topic in {r.topic for r in records}:
            await partitions_of(producer, topic)
        groups: dict[tuple[str, int], list[Record]] = {}
        for r in records:
            partition = r.partition
            if partition is None:
                partition = default_partition(producer, r.topic, r.key, r.value)
            groups.setdefault((r.topic, partition), []).append(r)
        for (topic, partition), group in groups.items():
            batch = producer.create_batch()
            count = 0
            for r in group:
                headers = list(r.headers)
                if batch.append(key=r.key, value=r.value, timestamp=None, headers=headers) is None:
                    futures.append(await self._submit(producer, batch, topic, partition, count))
                    batch, count = producer.create_batch(), 0
                    if (
                        batch.append(key=r.key, value=r.value, timestamp=None, headers=headers)
                        is None
                    ):
                        raise ValueError(f"a record for {topic} is larger than a whole batch")
                count += 1
            futures.append(await self._submit(producer, batch, topic, partition, count))
        return futures

    async def _submit(
        self, producer: Any, batch: Any, topic: str, partition: int, n: int
    ) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = await producer.send_batch(batch, topic, partition=partition)
        future.add_done_callback(lambda f: self._done(f, topic, partition, n))
        return future

    def _done(self, future: Any, topic: str, partition: int, count: int) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            log.error("could not produce %d records to %s[%d]: %s", count, topic, partition, exc)
            if self.on_failed is not None:
                self.on_failed(topic, exc)
        elif self.on_sent is not None:
            self.on_sent(topic, partition, future.result().offset + count - 1)
