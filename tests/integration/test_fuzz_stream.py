"""Fuzzed messages in the middle of a real stream: each one becomes one dead letter with a reason,
the worker neither stops nor decides anything differently."""

from __future__ import annotations

import base64
import collections
import random

import orjson
import pytest

from monitor import simulator as sim
from monitor.core.events import InvalidEvent, parse_event
from monitor.kafka import io as kafkaio
from monitor.offline.backtest import replay_lines
from tests.integration.conftest import WorkerFactory
from tests.support.kafka import consume_json

pytestmark = pytest.mark.reliability
MAX_BYTES = 65536


def is_invalid(value: bytes | None) -> bool:
    try:
        parse_event(value, MAX_BYTES)
    except InvalidEvent:
        return True
    return False


def mutants(valid: list[bytes], rng: random.Random, count: int) -> list[bytes | None]:
    """``count`` messages the parser refuses: random bytes, cut or mutated events, huge ones."""
    junk = [None, b"", b"[" * 5000 + b"]" * 5000, b"\xff\xfe\x00binary", b"null", b"1e999"]
    weird: list[object] = [
        None,
        True,
        -1,
        1e308,
        "",
        "x" * 300,
        [],
        {},
        {"a": [1]},
        "2026-13-45T99:00:00Z",
    ]
    out: list[bytes | None] = list(junk)
    while len(out) < count:
        line = rng.choice(valid)
        event = orjson.loads(line)
        roll = rng.random()
        if roll < 0.2:
            candidate: bytes | None = rng.randbytes(rng.randrange(1, 300))
        elif roll < 0.4:
            candidate = line[: rng.randrange(1, len(line))]
        elif roll < 0.7:
            event[rng.choice(sorted(event))] = rng.choice(weird)
            candidate = orjson.dumps(event)
        elif roll < 0.9:
            del event[rng.choice(sorted(event))]
            candidate = orjson.dumps(event)
        else:
            event["note"] = "x" * (MAX_BYTES + rng.randrange(100))
            candidate = orjson.dumps(event)
        if is_invalid(candidate):
            out.append(candidate)
    assert all(is_invalid(m) for m in out)
    return out


def test_fuzzed_messages_are_dead_lettered_and_change_no_decision(
    worker_factory: WorkerFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    simulation = sim.simulate(sim.SimConfig(accounts=300, days=120, seed=8, scenario="macro-shock"))
    valid = [orjson.dumps(e) for e in simulation.events]
    rng = random.Random(7)
    bad = mutants(valid, rng, 400)
    stream: list[bytes | None] = list(valid)
    for message in bad:
        stream.insert(rng.randrange(len(stream) + 1), message)
    expected = {(a["alert_id"], a["status"]) for a in replay_lines(valid).alerts}

    worker = worker_factory(partitions=1)
    worker.start()
    producer = kafkaio.producer(worker.settings)
    try:
        for message in stream:
            producer.send(worker.settings.input_topic, key=b"fuzz", value=message)
        producer.flush()
    finally:
        producer.close()
    worker.wait_processed(len(valid), timeout=300)
    letters = consume_json(worker.settings, worker.settings.dead_letter_topic)
    alerts = {
        (a["alert_id"], a["status"])
        for a in consume_json(worker.settings, worker.settings.alerts_topic)
    }
    assert worker.process is not None and worker.process.poll() is None, worker.tail()

    got = collections.Counter(
        None if d["value_b64"] is None else base64.b64decode(d["value_b64"]) for d in letters
    )
    kinds = collections.Counter(d["reason_kind"] for d in letters)
    with capsys.disabled():
        print(
            f"\nfuzzed stream: {len(valid)} valid events and {len(bad)} fuzzed messages; "
            f"{len(letters)} dead letters by kind {dict(kinds)}; {len(alerts)} alerts, "
            f"{len(expected)} in a replay of the valid events alone"
        )
    assert got == collections.Counter(bad)
    assert all(d["reason"] for d in letters)
    assert alerts == expected
    assert worker.health()["processed"] == len(valid)
