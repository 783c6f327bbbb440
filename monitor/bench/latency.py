"""Event-to-alert latency at a fixed offered rate.

Each input message's send time is remembered by its (partition, offset); the worker names the
input message an alert came from in the alert's ``source`` header, so every alert read back from
the alerts topic gives one latency: the time the broker appended it to the alerts topic (the bench
makes that topic keep ``LogAppendTime``; the time it was read, on a topic that does not) minus
the time its input was sent.

The bench's own client work is kept small, since it shares the machine with the worker: the
input is sent in 10 ms ticks rather than with a sleep per message, and the reader need not poll
often, since the broker's timestamps do not depend on when the alerts are read.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

from monitor.kafka import io as kafkaio
from monitor.kafka.io import key_of
from monitor.kafka.security import client_options
from monitor.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.admin import ConfigResource, ConfigResourceType
    from kafka.consumer import KafkaConsumer
    from kafka.producer import KafkaProducer
    from kafka.structs import TopicPartition


#: The offered input is sent in bursts this far apart (s).
TICK_S = 0.01


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) of ``values`` by the nearest-rank rule.

    >>> percentile([5, 1, 4, 2, 3], 0.5)
    3
    >>> percentile(range(1, 1001), 0.999)
    999
    """
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * q // 1))
    return ordered[int(rank) - 1]


@dataclass
class AlertReader:
    """A thread reading the alerts topic from its current end, timing each alert on arrival."""

    settings: Settings
    topic: str
    arrivals: list[tuple[str, float]] = field(default_factory=list)
    #: how many arrivals were timed by the broker's append time (the others by the read time)
    appended: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        consumer = KafkaConsumer(
            bootstrap_servers=self.settings.bootstrap,
            **client_options(self.settings),
            enable_auto_commit=False,
            group_id=None,
            fetch_max_wait_ms=100,
        )
        partitions = consumer.partitions_for_topic(self.topic) or {0}
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the end offsets now, before any input is sent
            consumer.position(tp)
        self._thread = threading.Thread(target=self._read, args=(consumer,), daemon=True)
        self._thread.start()

    def _read(self, consumer: KafkaConsumer) -> None:
        try:
            while not self._stop.is_set():
                for records in consumer.poll(timeout_ms=200).values():
                    now = time.time()
                    for record in records:
                        source = dict(record.headers or []).get("source", b"").decode()
                        if record.timestamp_type == 1:  # LogAppendTime
                            self.appended += 1
                            self.arrivals.append((source, record.timestamp / 1000))
                        else:
                            self.arrivals.append((source, now))
        finally:
            consumer.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def offer(
    settings: Settings, topic: str, lines: Sequence[bytes], rate: float, seconds: float
) -> tuple[dict[str, float], int]:
    """Send ``lines`` at ``rate`` messages per second for at most ``seconds``.

    Returns the send time of every message by ``"topic/partition/offset"`` and the count sent.
    """
    prod = KafkaProducer(
        bootstrap_servers=settings.bootstrap, acks="all", linger_ms=1, **client_options(settings)
    )
    partitions = sorted(prod.partitions_for(topic) or {0})
    sent_at: dict[str, float] = {}
    sent = 0
    started = time.monotonic()

    def remember(at: float) -> object:
        def done(meta: object) -> None:
            sent_at[f"{topic}/{meta.partition}/{meta.offset}"] = at  # type: ignore[attr-defined]

        return done

    try:
        for line in lines:
            if time.monotonic() - started > seconds:
                break
            key, broadcast = key_of(line)
            for partition in partitions if broadcast else [None]:
                future = prod.send(topic, key=key, value=line, partition=partition)
                future.add_callback(remember(time.time()))
                sent += 1
            ahead = sent / rate - (time.monotonic() - started)
            if ahead >= TICK_S:
                time.sleep(ahead)
        prod.flush()
    finally:
        prod.close()
    return sent_at, sent


def keep_append_time(settings: Settings, topic: str) -> None:
    """Make ``topic`` stamp each record with the time the broker appended it."""
    with kafkaio.admin(settings) as client:
        client.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC,
                    topic,
                    configs={"message.timestamp.type": "LogAppendTime"},
                )
            ]
        )


def latencies_ms(sent_at: dict[str, float], arrivals: list[tuple[str, float]]) -> list[float]:
    """Milliseconds from each alert's input being sent to the alert being read."""
    return [(at - sent_at[src]) * 1000 for src, at in arrivals if src in sent_at]
