"""The bare-consumer reference: a kafka-python loop that reads and decodes every message."""

from __future__ import annotations

import time
import warnings

import orjson

from monitor.kafka.security import client_options
from monitor.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.consumer import KafkaConsumer


def bare_consumer_rate(settings: Settings, topic: str, count: int, timeout_s: float) -> float:
    """Messages per second of a consumer that only JSON-decodes ``count`` messages of ``topic``.

    Timed from the first message to the last, so connecting and the group join are left out.
    """
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=settings.bootstrap,
        **client_options(settings),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        max_poll_records=2000,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    seen, first = 0, 0.0
    deadline = time.monotonic() + timeout_s
    try:
        while seen < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                if not seen and records:
                    first = time.monotonic()
                for record in records:
                    orjson.loads(record.value)
                seen += len(records)
        last = time.monotonic()
    finally:
        consumer.close()
    if seen < count:
        raise TimeoutError(f"the bare consumer read {seen} of {count} messages in {timeout_s} s")
    return seen / max(last - first, 1e-9)
