"""With pseudonymisation on, no raw account id leaves the worker, and no secret is ever logged.

A real worker (log level info) runs a stream that raises alerts, delivers them to a real webhook
and a real Alertmanager-like HTTP endpoint, and publishes risk records. The raw account ids must
appear nowhere in what leaves the process: its log, /metrics, the JSON pages, every key, value
and header of the alerts and risk topics, and every webhook and Alertmanager request body. The
webhook secret and the pseudonymisation key must not appear in its log.

The dead-letter topic is the exception by design: it keeps malformed input byte for byte, for
replay, so it is as sensitive as the input topic itself (see docs/operations.md, Security).
"""

from __future__ import annotations

import re
import urllib.request

import orjson

from monitor import simulator as sim
from monitor.core.privacy import pseudonymise
from monitor.kafka import io as kafkaio
from tests.integration.conftest import WorkerFactory
from tests.support.kafka import consume_records
from tests.support.receiver import WebhookReceiver

KEY = "it-pseudonymise-key-7f3a"
SECRET = "it-webhook-secret-91c2"
TOKEN = "it-url-token-5d1e"  # webhook URLs often carry a token; it is a secret too
#: Account ids are renamed ``zq000123`` (``z`` and ``q`` are not hex digits, so a pseudonym,
#: which is hex, can never contain one by chance).
RAW_ID = re.compile(rb"zq\d{6}")


def _events() -> list[bytes]:
    simulation = sim.simulate(
        sim.SimConfig(accounts=400, days=150, seed=11, scenario="macro-shock")
    )
    return [re.sub(rb"\ba(\d{6})", rb"zq\1", orjson.dumps(e)) for e in simulation.events]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
        return body


def test_no_raw_account_id_leaves_the_worker(worker_factory: WorkerFactory) -> None:
    lines = _events()
    accounts = {m.group().decode() for line in lines for m in RAW_ID.finditer(line)}
    assert len(accounts) >= 300
    with WebhookReceiver(secret=SECRET) as webhook, WebhookReceiver() as alertmanager:
        worker = worker_factory(
            partitions=2,
            MONITOR_WEBHOOK_URLS=f"{webhook.url}?token={TOKEN}",
            MONITOR_WEBHOOK_SECRET=SECRET,
            MONITOR_ALERTMANAGER_URL=alertmanager.url,
            MONITOR_PSEUDONYMISE_KEY=KEY,
            MONITOR_LOG_LEVEL="info",
        )
        worker.start()
        kafkaio.produce_lines(worker.settings, lines)
        worker.wait_processed(len(lines))
        base = f"http://127.0.0.1:{worker.settings.web_port}"
        pages = {path: _get(base + path) for path in ("/metrics", "/api/state", "/api/portfolio")}
        alerts = consume_records(worker.settings, worker.settings.alerts_topic)
        risk = consume_records(worker.settings, worker.settings.risk_topic)
        assert alerts and risk
        sent_alerts = [orjson.loads(v) for _, v, _ in alerts if v]
        borrower = [a for a in sent_alerts if "account_id" in a]
        assert borrower, "the stream raises borrower alerts"
        webhook.wait_for(len(sent_alerts), timeout=60)
        worker.stop()
        log = worker.log.read_bytes()
        hooks = [r.body for r in webhook.all_requests]
        managed = [r.body for r in alertmanager.all_requests]

    assert hooks and managed
    outlets: dict[str, list[bytes]] = {
        "log": [log],
        **{f"page {path}": [body] for path, body in pages.items()},
        "alerts topic": [b for k, v, h in alerts for b in (k or b"", v or b"", *h.values())],
        "risk topic": [b for k, v, h in risk for b in (k or b"", v or b"", *h.values())],
        "webhook": hooks,
        "alertmanager": managed,
    }
    for outlet, blobs in outlets.items():
        leaked = {m.group() for blob in blobs for m in RAW_ID.finditer(blob)}
        assert not leaked, f"{outlet} shows raw account ids, e.g. {sorted(leaked)[:3]}"

    # the ids are pseudonyms of the real accounts, stable, so receivers can still join on them
    hidden = {pseudonymise(KEY, a) for a in accounts}
    assert {a["account_id"] for a in borrower} <= hidden
    assert {k.decode() for k, _, _ in risk if k is not None} <= hidden
    # secrets are used (signatures verify) but never logged
    assert all(r.valid_signature for r in webhook.all_requests)
    for secret in (KEY, SECRET, TOKEN):
        assert secret.encode() not in log, f"the log shows the secret {secret}"
    assert b"[INFO]" in log, "the log is at info level, so this checks something"
