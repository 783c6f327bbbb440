"""Alerts to Prometheus Alertmanager's v2 API, so grouping, silences and routing apply.

Each monitor alert becomes one Alertmanager alert with labels ``alertname``, ``severity``,
``kind``, ``product``, ``region``, ``risk_tier`` and ``alert_id`` (a hash, never an account id)
and annotations ``summary``, ``reasons``, ``action``. Alertmanager forgets a firing alert that is
not sent again within its resolve timeout, so open alerts are re-sent every ``resend_s`` seconds
in batches; a ``resolved`` alert is sent with ``endsAt`` set and dropped from the open set.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

import orjson

from monitor.core.vocabulary import (
    BORROWER_RISK,
    MODEL_DRIFT,
    OVER_LENDING,
    RESERVE_COVERAGE,
    SEGMENT_DRIFT,
)
from monitor.sinks.webhook import HttpSink

#: alert kind -> Alertmanager's ``alertname`` (the rules and routes name these)
ALERTNAME = {
    BORROWER_RISK: "BorrowerDelinquencyRisk",
    SEGMENT_DRIFT: "PortfolioSegmentDrift",
    MODEL_DRIFT: "ModelPerformanceDrift",
    RESERVE_COVERAGE: "ReserveCoverageLow",
    OVER_LENDING: "PortfolioOverLending",
}
_BATCH = "_batch"
_BATCH_SIZE = 500


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def to_alertmanager(alert: dict[str, Any], generator_url: str = "") -> dict[str, Any]:
    """One monitor alert in Alertmanager's v2 form.

    >>> am = to_alertmanager({"alert_id": "ab", "kind": "borrower_risk", "status": "firing",
    ...     "severity": "critical", "product": "cash_loan", "region": "north",
    ...     "risk_tier": "critical", "account_id": "p-1", "probability": 0.81,
    ...     "reasons": ["A bill is 12 days past due."], "action": "collections_review",
    ...     "opened_at": "2026-03-01T00:00:00Z", "event_time": "2026-03-01T00:00:00Z",
    ...     "model_version": "scorecard@0", "days_past_due": 12})
    >>> am["labels"]["alertname"], am["annotations"]["action"], "endsAt" in am
    ('BorrowerDelinquencyRisk', 'collections_review', False)
    """
    kind = alert.get("kind", BORROWER_RISK)
    labels = {
        "alertname": ALERTNAME.get(kind, "PortfolioRisk"),
        "severity": alert.get("severity", "warning"),
        "kind": kind,
        "product": alert.get("product") or "all",
        "region": alert.get("region") or "all",
        "risk_tier": alert.get("risk_tier", ""),
        "alert_id": alert["alert_id"],
    }
    summary = alert.get("summary") or (
        f"Account {alert.get('account_id')} has a {alert.get('probability', 0):.0%} risk of "
        f"reaching 30+ days past due ({alert.get('days_past_due', 0)} days past due now)"
    )
    annotations = {
        "summary": summary,
        "reasons": " ".join(alert.get("reasons", [])),
        "action": alert.get("action", ""),
        "model_version": alert.get("model_version", ""),
        "event_time": alert.get("event_time", ""),
    }
    out: dict[str, Any] = {
        "labels": {k: v for k, v in labels.items() if v},  # Alertmanager refuses empty values
        "annotations": annotations,
        "startsAt": alert.get("opened_at") or alert.get("event_time"),
    }
    if generator_url:
        out["generatorURL"] = generator_url
    if alert.get("status") == "resolved":
        out["endsAt"] = _now()
    return out


class AlertmanagerSink(HttpSink):
    """POSTs alerts to ``<base_url>/api/v2/alerts`` and keeps open alerts alive there."""

    name = "alertmanager"

    def __init__(
        self, base_url: str, *, resend_s: float = 60.0, generator_url: str = "", **kwargs: Any
    ) -> None:
        super().__init__(base_url.rstrip("/") + "/api/v2/alerts", **kwargs)
        self.resend_s = resend_s
        self.generator_url = generator_url
        self.open: dict[str, dict[str, Any]] = {}
        self._refresher: asyncio.Task[None] | None = None

    def offer(self, alert: dict[str, Any]) -> bool:
        if alert.get("status") == "resolved":
            self.open.pop(alert["alert_id"], None)
        else:
            self.open[alert["alert_id"]] = alert
        return super().offer(alert)

    def journalled(self, alert: dict[str, Any]) -> bool:
        return _BATCH not in alert  # refreshes repeat open alerts on purpose

    def request(self, alert: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        batch = alert.get(_BATCH, [alert])
        body = orjson.dumps([to_alertmanager(a, self.generator_url) for a in batch])
        return body, {"Content-Type": "application/json"}

    async def start(self) -> None:
        await super().start()
        if self._refresher is None:
            self._refresher = asyncio.ensure_future(self._refresh())

    async def stop(self, timeout_s: float = 5.0) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        await super().stop(timeout_s)

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self.resend_s)
            alerts = list(self.open.values())
            for i in range(0, len(alerts), _BATCH_SIZE):
                # through the queue, so refreshes keep their place behind new alerts
                super().offer({_BATCH: alerts[i : i + _BATCH_SIZE], "alert_id": "refresh"})
