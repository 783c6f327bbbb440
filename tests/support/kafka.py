"""Reading a whole topic back, for tests that check what the monitor wrote."""

from __future__ import annotations

import time
from typing import Any

import orjson

from monitor.kafka import io as kafkaio
from monitor.settings import Settings


def consume_records(
    settings: Settings, topic: str, idle_s: float = 3.0, max_s: float = 120.0
) -> list[tuple[bytes | None, bytes | None, dict[str, bytes]]]:
    """Every record of ``topic`` from the beginning, with its headers, until none arrived for
    ``idle_s`` seconds (or ``max_s`` passed)."""
    reader = kafkaio.consumer(
        settings,
        topic,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=int(idle_s * 1000),
    )
    out: list[tuple[bytes | None, bytes | None, dict[str, bytes]]] = []
    deadline = time.monotonic() + max_s
    try:
        for message in reader:
            out.append((message.key, message.value, dict(message.headers or [])))
            if time.monotonic() > deadline:
                break
    finally:
        reader.close()
    return out


def consume_all(
    settings: Settings, topic: str, idle_s: float = 3.0, max_s: float = 120.0
) -> list[tuple[bytes | None, bytes | None]]:
    """Like :func:`consume_records`, without the headers."""
    return [(key, value) for key, value, _ in consume_records(settings, topic, idle_s, max_s)]


def consume_json(
    settings: Settings, topic: str, idle_s: float = 3.0, max_s: float = 120.0
) -> list[dict[str, Any]]:
    """The JSON records of ``topic`` from the beginning (a tombstone there fails the test)."""
    values = [value for _, value in consume_all(settings, topic, idle_s, max_s)]
    assert all(value is not None for value in values), f"a tombstone on {topic}"
    return [orjson.loads(value) for value in values if value is not None]
