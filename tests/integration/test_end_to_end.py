"""Simulated events into a real broker, through a real worker, to Kafka, a webhook and /metrics."""

from __future__ import annotations

import base64
import random

import orjson
from jsonschema import Draft202012Validator

from monitor import contracts
from monitor import simulator as sim
from monitor.kafka import io as kafkaio
from monitor.offline.backtest import replay_lines
from monitor.sinks.signing import verify
from monitor.worker.app import FETCH_MAX_WAIT_MS
from tests.integration.conftest import WorkerFactory
from tests.support.kafka import consume_json
from tests.support.receiver import WebhookReceiver

SECRET = "it-secret"
GARBAGE = [
    b"not json at all",
    b'{"schema_version": 1, "event_id": "x1", "type": "payment"}',
    b'{"schema_version": 1, "event_id": "x2", "event_time": "2026-01-03T00:00:00Z", '
    b'"type": "payment", "account_id": "a", "product": "credit_pay", "amount": -5}',
    b'{"schema_version": 1, "event_id": "x3", "event_time": "2026-01-03T00:00:00Z", '
    b'"type": "teleport", "account_id": "a"}',
    b"[1, 2, 3]",
    b"\xff\xfe\x00binary",
]


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_stream_to_alerts_webhook_dead_letters_and_metrics(worker_factory: WorkerFactory) -> None:
    simulation = sim.simulate(
        sim.SimConfig(accounts=800, days=150, seed=11, scenario="macro-shock")
    )
    lines = [orjson.dumps(e) for e in simulation.events]
    rng = random.Random(3)
    for bad in GARBAGE:
        lines.insert(rng.randrange(len(lines)), bad)
    expected = replay_lines(lines)
    expected_ids = [(a["alert_id"], a["status"]) for a in expected.alerts]
    assert len([s for _, s in expected_ids if s == "firing"]) >= 5, "scenario raises alerts"
    assert any(a["kind"] != "borrower_risk" for a in expected.alerts), "and portfolio alerts"

    with WebhookReceiver(secret=SECRET) as receiver:
        worker = worker_factory(
            partitions=1, MONITOR_WEBHOOK_URLS=receiver.url, MONITOR_WEBHOOK_SECRET=SECRET
        )
        worker.start()
        sent = kafkaio.produce_lines(worker.settings, lines)
        assert sent == len(lines)
        worker.wait_processed(len(lines) - len(GARBAGE))
        receiver.wait_for(len(expected_ids), timeout=60)
        metrics = worker.metrics()
        # the consumer's fetches wait at most FETCH_MAX_WAIT_MS, not Faust's fixed 1.5 s
        assert worker.health()["fetch_max_wait_ms"] == FETCH_MAX_WAIT_MS

        alerts = consume_json(worker.settings, worker.settings.alerts_topic)
        dead = consume_json(worker.settings, worker.settings.dead_letter_topic)
        requests = receiver.requests

    # the worker decides exactly what the offline core decides on the same stream
    assert [(a["alert_id"], a["status"]) for a in alerts] == expected_ids
    # most accounts that went 30+ days past due were warned about
    delinquent = {row.account_id for row in simulation.truth if row.label}
    alerted = {
        a["account_id"] for a in alerts if a["status"] == "firing" and a["kind"] == "borrower_risk"
    }
    assert delinquent and len(alerted & delinquent) / len(delinquent) >= 0.7

    # the webhook got the same alerts, in order, each with a valid signature
    assert [(r.json["alert_id"], r.json["status"]) for r in requests] == expected_ids
    assert all(r.valid_signature for r in requests)
    assert all(verify(SECRET, r.body, r.headers["X-Monitor-Signature"]) for r in requests)

    # every output message follows its topic's contract
    alert_schema = Draft202012Validator(contracts.load("alert"))
    dead_schema = Draft202012Validator(contracts.load("dead-letter"))
    assert all(alert_schema.is_valid(a) for a in alerts)
    assert all(dead_schema.is_valid(d) for d in dead)

    # every malformed message is in the dead-letter topic with its reason and original bytes
    assert sorted(base64.b64decode(d["value_b64"]) for d in dead) == sorted(GARBAGE)
    assert all(d["reason"] for d in dead)

    # and /metrics counts it all
    firing = len([1 for _, s in expected_ids if s == "firing"])
    assert _metric(metrics, "monitor_events_total", outcome="ok") == len(lines) - len(GARBAGE)
    assert _metric(metrics, "monitor_events_total", outcome="invalid") == len(GARBAGE)
    assert _metric(metrics, "monitor_dead_letters_total") == len(GARBAGE)
    assert _metric(metrics, "monitor_alerts_total", status="firing") == firing
    assert _metric(metrics, "monitor_deliveries_total", sink="webhook", outcome="delivered") == len(
        expected_ids
    )
    assert _metric(metrics, "monitor_accounts_by_dpd_bucket") > 0
    label_values = {
        part.split('="')[1].rstrip('"}')
        for line in metrics.splitlines()
        if "{" in line and not line.startswith("#")
        for part in line.split("{", 1)[1].split("}")[0].split(",")
        if '="' in part
    }
    assert not label_values & {row.account_id for row in simulation.truth}
