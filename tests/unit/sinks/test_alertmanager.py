"""The Alertmanager sink against httpx.MockTransport: v2 payloads, resolution, keep-alive."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson

from monitor.sinks.alertmanager import AlertmanagerSink


def alert(n: int, status: str = "firing") -> dict[str, Any]:
    return {
        "alert_id": f"{n:024x}",
        "status": status,
        "kind": "borrower_risk",
        "severity": "warning",
        "product": "credit_pay",
        "region": "north",
        "risk_tier": "high",
        "account_id": f"p-{n}",
        "probability": 0.6,
        "reasons": ["A bill is 5 days past due.", "No payment for 40 days."],
        "action": "payment_extension",
        "model_version": "scorecard@0",
        "opened_at": "2026-02-01T00:00:00Z",
        "event_time": "2026-02-01T00:00:00Z",
        "days_past_due": 5,
    }


def test_posts_v2_alerts_resolves_and_keeps_open_alerts_alive() -> None:
    posted: list[tuple[str, list[dict[str, Any]]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        posted.append((request.url.path, orjson.loads(request.content)))
        return httpx.Response(200)

    async def scenario() -> AlertmanagerSink:
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        sink = AlertmanagerSink("http://am.test:9093/", client=client, resend_s=0.05)
        await sink.start()
        sink.offer(alert(1))
        sink.offer(alert(2))
        sink.offer(alert(1, "resolved"))
        await asyncio.sleep(0.2)  # long enough for a few keep-alive rounds
        await sink.stop()
        await client.aclose()
        return sink

    sink = asyncio.run(scenario())
    assert {path for path, _ in posted} == {"/api/v2/alerts"}
    first, second, third = (batch[0] for _, batch in posted[:3])
    assert first["labels"] == {
        "alertname": "BorrowerDelinquencyRisk",
        "severity": "warning",
        "kind": "borrower_risk",
        "product": "credit_pay",
        "region": "north",
        "risk_tier": "high",
        "alert_id": alert(1)["alert_id"],
    }
    assert first["annotations"]["action"] == "payment_extension"
    assert "A bill is 5 days past due." in first["annotations"]["reasons"]
    assert "p-1" in first["annotations"]["summary"]
    assert "endsAt" not in first and "endsAt" not in second
    assert third["labels"]["alert_id"] == alert(1)["alert_id"] and "endsAt" in third
    # keep-alive batches carry only the alert still open
    refreshes = [batch for _, batch in posted[3:]]
    assert refreshes, "open alerts are sent again"
    assert all(
        [a["labels"]["alert_id"] for a in batch] == [alert(2)["alert_id"]] for batch in refreshes
    )
    assert list(sink.open) == [alert(2)["alert_id"]]
