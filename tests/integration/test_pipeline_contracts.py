"""What other teams' pipelines rely on: topic configs, contracts, the account-risk topic, lag."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import orjson
from jsonschema import Draft202012Validator

from monitor import contracts
from monitor import simulator as sim
from monitor.core.vocabulary import PRODUCTS
from monitor.kafka import io as kafkaio
from tests.integration.conftest import WorkerFactory, WorkerProcess
from tests.support.kafka import consume_all, consume_records


def _risk_of(worker: WorkerProcess, account: str) -> dict | None:
    url = f"http://127.0.0.1:{worker.settings.web_port}/api/risk/{account}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        assert exc.code == 404
        return None


def test_topics_contracts_account_risk_and_lag(worker_factory: WorkerFactory) -> None:
    simulation = sim.simulate(sim.SimConfig(accounts=200, days=120, seed=5, scenario="baseline"))
    events = list(simulation.events)
    closing = sorted({e["account_id"] for e in events if e.get("account_id")})[:3]
    last = events[-1]["event_time"]
    for i, account in enumerate(closing):
        for product in PRODUCTS:
            events.append(
                {
                    "schema_version": 1,
                    "event_id": f"close-{i}-{product}",
                    "event_time": last,
                    "type": "account_closed",
                    "account_id": account,
                    "product": product,
                }
            )
    lines = [orjson.dumps(e) for e in events]

    worker = worker_factory(partitions=2, MONITOR_STORE="rocksdb://")  # production store
    assert kafkaio.check_topics(worker.settings) == [], "topics as the settings say"
    worker.start()
    sent = kafkaio.produce_lines(worker.settings, lines)
    worker.wait_processed(sent)

    # a plain consumer rebuilds the latest risk of every account from the compacted topic
    latest: dict[str, dict | None] = {}
    risk_schema = Draft202012Validator(contracts.load("account-risk"))
    for key, value in consume_all(worker.settings, worker.settings.risk_topic):
        record = orjson.loads(value) if value is not None else None
        assert key is not None and (record is None or risk_schema.is_valid(record))
        latest[key.decode()] = record
    accounts = {e["account_id"] for e in events if e.get("account_id")}
    assert set(latest) == accounts
    for account in closing:
        assert latest[account] is None, "closed accounts end with a tombstone"
        assert _risk_of(worker, account) is None
    for account in sorted(accounts - set(closing)):
        held = _risk_of(worker, account)
        record = latest[account]
        assert held is not None and record is not None
        assert (record["probability"], record["risk_tier"]) == (
            held["probability"],
            held["risk_tier"],
        )
        assert record["trigger_event_ids"]

    # every message on every output topic follows its contract
    alert_schema = Draft202012Validator(contracts.load("alert"))
    alerts = consume_records(worker.settings, worker.settings.alerts_topic)
    assert alerts and all(
        v is not None and alert_schema.is_valid(orjson.loads(v)) for _, v, _ in alerts
    )
    # lineage: each record names the event behind it, and the headers carry it and the version
    for _, value, headers in alerts:
        assert value is not None
        alert = orjson.loads(value)
        assert headers["schema-version"] == b"1"
        expected = alert.get("trigger_event_ids", [alert["alert_id"]])[0]
        assert headers["correlation-id"].decode() == expected

    # lag drains to zero once the worker has committed what it processed
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = kafkaio.consumer_lag(worker.settings)
        if rows and all(end - committed == 0 for _, _, committed, end in rows):
            break
        time.sleep(1)
    assert [end - committed for _, _, committed, end in rows] == [0, 0]
    assert len(rows) == 2
