"""Webhook receivers that go away: for minutes (every alert arrives once it is back, once and in
order per account), or for good (a bounded queue, dead letters with a reason, scoring goes on).

``MONITOR_TEST_OUTAGE_S`` sets how long the first receiver is down (default 20 s; e.g. 300 for
"minutes"), and the worker's longest wait between attempts is a fifth of it (30 s in production):
either way the outage outlasts several waits at the longest, so the sink is retrying at its
slowest when the receiver comes back. A receiver that is down listens on no port at all
(connection refused), as when its host or process is gone.
"""

from __future__ import annotations

import base64
import collections
import os
import threading
import time
from typing import Any

import orjson
import pytest

from monitor import simulator as sim
from monitor.core.vocabulary import UNDELIVERABLE_ALERT
from monitor.kafka import io as kafkaio
from tests.integration.conftest import WorkerFactory, WorkerProcess, free_port
from tests.support.kafka import consume_all, consume_json
from tests.support.receiver import WebhookReceiver

pytestmark = pytest.mark.reliability
OUTAGE_S = float(os.environ.get("MONITOR_TEST_OUTAGE_S", "20"))
#: the longest wait between two attempts at one alert, in the outage test
MAX_BACKOFF_S = OUTAGE_S / 5
Key = tuple[str, str]


def sim_lines(accounts: int, days: int = 150) -> list[bytes]:
    config = sim.SimConfig(accounts=accounts, days=days, seed=5, scenario="macro-shock")
    return [orjson.dumps(e) for e in sim.simulate(config).events]


def topic_alerts(worker: WorkerProcess) -> list[dict[str, Any]]:
    records = consume_all(worker.settings, worker.settings.alerts_topic, idle_s=1.0)
    return [orjson.loads(v) for _, v in records if v is not None]


def key(alert: dict[str, Any]) -> Key:
    return alert["alert_id"], alert["status"]


def owner(alert: dict[str, Any]) -> str:
    """The account (or segment) an alert is about: its key on the alerts topic."""
    return str(alert.get("account_id") or alert.get("segment"))


def in_order(alerts: list[dict[str, Any]]) -> dict[str, list[Key]]:
    """Each account's alerts in the order given, first occurrence of each only."""
    out: dict[str, list[Key]] = collections.defaultdict(list)
    for alert in alerts:
        if key(alert) not in out[owner(alert)]:
            out[owner(alert)].append(key(alert))
    return out


def metric(text: str, name: str, **labels: str) -> float:
    """One sample of the worker's /metrics page, by name and labels in any order (0 if absent)."""
    for line in text.splitlines():
        if line.startswith((name + "{", name + " ")) and all(
            f'{k}="{v}"' in line for k, v in labels.items()
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def rss_mb(worker: WorkerProcess) -> float:
    assert worker.process is not None
    with open(f"/proc/{worker.process.pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def test_a_receiver_down_for_minutes_gets_every_alert_once_in_order(
    worker_factory: WorkerFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = sim_lines(accounts=400)
    port = free_port()
    worker = worker_factory(
        partitions=2,
        MONITOR_WEBHOOK_URLS=f"http://127.0.0.1:{port}/alerts",
        MONITOR_WEBHOOK_TIMEOUT_S="2",
        MONITOR_WEBHOOK_MAX_BACKOFF_S=str(MAX_BACKOFF_S),
    )
    worker.start()
    # the events arrive over most of the outage, so the worker scores while nobody listens
    producer = threading.Thread(
        target=kafkaio.produce_lines,
        args=(worker.settings, lines),
        kwargs={"rate": len(lines) / (OUTAGE_S * 0.7)},
    )
    started = time.monotonic()
    producer.start()
    samples: list[tuple[float, int, int]] = []  # (seconds, events processed, alerts on topic)
    while time.monotonic() - started < OUTAGE_S:
        time.sleep(min(OUTAGE_S / 5, 20))
        health = worker.health()
        assert health, worker.tail()
        samples.append((time.monotonic() - started, health["processed"], len(topic_alerts(worker))))
    producer.join()
    metrics = worker.metrics()
    queued_in_outage = metric(metrics, "monitor_delivery_queue", sink="webhook")
    errors_in_outage = metric(metrics, "monitor_deliveries_total", sink="webhook", outcome="error")

    with WebhookReceiver(port=port) as receiver:
        back = time.monotonic()
        worker.wait_committed()
        on_topic = topic_alerts(worker)
        expected = {key(a) for a in on_topic}
        deadline = time.monotonic() + 120  # attempts are at most MAX_BACKOFF_S apart
        while {key(r.json) for r in receiver.requests} != expected:
            assert time.monotonic() < deadline, f"{len(receiver.requests)} of {len(expected)}"
            time.sleep(0.5)
        caught_up_s = time.monotonic() - back
        time.sleep(3)  # anything still to come would be a duplicate
        received = [r.json for r in receiver.requests]

    counts = collections.Counter(key(a) for a in received)
    duplicated = sum(n - 1 for n in counts.values())
    lost = len(expected - set(counts))
    with capsys.disabled():
        print(
            f"\nwebhook outage {OUTAGE_S:.0f} s: scoring meanwhile (s, processed, alerts on "
            f"topic) {[(round(t), p, a) for t, p, a in samples]}; {queued_in_outage:.0f} queued "
            f"and {errors_in_outage:.0f} failed attempts at the end of the outage; after the "
            f"receiver came back: {len(expected)} alerts expected, {len(received)} received, "
            f"{lost} lost, {duplicated} duplicated, all in {caught_up_s:.0f} s"
        )
    # the worker scored during the outage: more events and more alerts at its last look than at
    # its first (which may come before the first events are scored: 4 s in on a slow machine)
    assert samples[-1][1] > samples[0][1] and samples[-1][2] > samples[0][2], samples
    assert queued_in_outage > 0 and errors_in_outage > 0
    assert lost == 0 and duplicated == 0
    # in order per account: the receiver saw each account's alerts as the topic has them
    assert in_order(received) == in_order(on_topic)


def test_a_receiver_that_never_recovers_costs_dead_letters_not_memory_or_scoring(
    worker_factory: WorkerFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = sim_lines(accounts=600)
    queue = 20
    worker = worker_factory(
        partitions=1,
        MONITOR_WEBHOOK_URLS=f"http://127.0.0.1:{free_port()}/alerts",  # nobody listens there
        MONITOR_WEBHOOK_QUEUE=str(queue),
        MONITOR_WEBHOOK_RETRIES="1",
        MONITOR_WEBHOOK_RETRY_FOR_S="0.5",  # each alert given up on soon: the test waits less
        MONITOR_WEBHOOK_TIMEOUT_S="1",
    )
    worker.start()
    worker.wait_processed(0, timeout=60)
    rss_start = rss_mb(worker)
    started = time.monotonic()
    kafkaio.produce_lines(worker.settings, lines)
    queue_max, rss_max = 0.0, rss_start
    deadline = started + 300
    while worker.health().get("processed", 0) < len(lines):
        assert time.monotonic() < deadline, worker.tail()
        queue_max = max(
            queue_max, metric(worker.metrics(), "monitor_delivery_queue", sink="webhook")
        )
        rss_max = max(rss_max, rss_mb(worker))
        time.sleep(0.5)
    scoring_s = time.monotonic() - started

    on_topic = topic_alerts(worker)
    expected = {key(a) for a in on_topic}
    # every alert ends as one dead letter naming the sink and why (queue full, or given up)
    deadline = time.monotonic() + 120
    while True:
        letters = consume_json(worker.settings, worker.settings.dead_letter_topic, idle_s=1.0)
        undeliverable = [d for d in letters if d["reason_kind"] == UNDELIVERABLE_ALERT]
        if len(undeliverable) >= len(expected):
            break
        assert time.monotonic() < deadline, f"{len(undeliverable)} of {len(expected)}"
        time.sleep(2)
    dead = collections.Counter(
        key(orjson.loads(base64.b64decode(d["value_b64"]))) for d in undeliverable
    )
    reasons = collections.Counter(
        "queue full" if "queue full" in d["reason"] else "gave up" for d in undeliverable
    )
    with capsys.disabled():
        print(
            f"\nreceiver never back: {len(lines)} events scored in {scoring_s:.0f} s; "
            f"{len(expected)} alerts, {sum(dead.values())} dead letters ({dict(reasons)}), "
            f"{sum(n - 1 for n in dead.values())} duplicated; queue at most {queue_max:.0f} of "
            f"{queue}; RSS {rss_start:.0f} MB at start, at most {rss_max:.0f} MB"
        )
    assert set(dead) == expected and max(dead.values()) == 1
    prefix = "alert delivery failed: http://127.0.0.1:"  # origin only, never the path
    assert all(d["source"] == {"sink": "webhook"} for d in undeliverable)
    assert all(d["reason"].startswith(prefix) for d in undeliverable)
    assert reasons["queue full"] > 0 and reasons["gave up"] > 0
    assert queue_max <= queue
