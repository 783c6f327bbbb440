"""Alert policy: risk tiers, when a borrower alert opens and clears, and what it says.

An alert opens when the probability reaches ``open_at`` and the account is not yet 30+ days past
due; it stays open (no repeats, whatever the score does) until the probability falls below
``clear_at`` (hysteresis) or the account closes, when a ``resolved`` message with the same id
follows. The id is a hash of the account, cause and triggering event id, so a replay of the same
stream gives the same ids.

>>> policy = AlertPolicy()
>>> [policy.tier(p) for p in (0.05, 0.2, 0.5, 0.8)]
['low', 'medium', 'high', 'critical']
>>> alert_id("a1", "borrower_risk", "e9") == alert_id("a1", "borrower_risk", "e9")
True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Unpack

from monitor.core.risk import AccountRisk, risk_fields
from monitor.core.timeutil import iso_time
from monitor.core.vocabulary import (
    BORROWER_RISK,
    MODEL_DRIFT,
    OVER_LENDING,
    RESERVE_COVERAGE,
    RISK_TIERS,
    SEGMENT_DRIFT,
)

ALERT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class AlertPolicy:
    """Thresholds of the borrower alert policy."""

    open_at: float = 0.5
    clear_at: float = 0.3
    tier_bounds: tuple[float, float, float] = (0.15, 0.35, 0.7)
    reasons: int = 3

    def __post_init__(self) -> None:
        if not 0.0 < self.clear_at <= self.open_at < 1.0:
            raise ValueError(
                f"alert thresholds must satisfy 0 < clear ({self.clear_at}) <= open "
                f"({self.open_at}) < 1"
            )

    def tier(self, probability: float) -> str:
        """Risk tier of a probability."""
        index = sum(1 for bound in self.tier_bounds if probability >= bound)
        return RISK_TIERS[index]


def alert_id(account_id: str, cause: str, trigger_event_id: str) -> str:
    """Stable alert id: the same account, cause and trigger give the same id."""
    digest = hashlib.sha256(f"{account_id}|{cause}|{trigger_event_id}".encode()).hexdigest()
    return digest[:24]


def severity(tier: str) -> str:
    """Alert severity for a risk tier."""
    return "critical" if tier == "critical" else "warning"


def build_alert(
    *, alert_id: str, status: str, time: float, opened: float, **risk: Unpack[AccountRisk]
) -> dict[str, Any]:
    """The alert record sent to the alerts topic and to webhooks (contract ``alert`` v1)."""
    head = _head(alert_id, status, BORROWER_RISK, severity(risk["tier"]))
    return {**head, **risk_fields(risk, event_time=time, opened_at=opened)}


def _head(alert_id: str, status: str, kind: str, severity: str) -> dict[str, Any]:
    """The fields every alert record starts with, borrower or portfolio."""
    return {
        "schema_version": ALERT_SCHEMA_VERSION,
        "alert_id": alert_id,
        "status": status,
        "kind": kind,
        "severity": severity,
    }


#: portfolio alert kind -> (action, what it means)
PORTFOLIO_KINDS = {
    SEGMENT_DRIFT: ("review_segment", "a sustained change in the segment's {series}"),
    MODEL_DRIFT: ("review_model", "the champion model's rolling ROC AUC fell"),
    RESERVE_COVERAGE: (
        "increase_reserves",
        "reserves cover expected loss {value}x (projected {projected}x)",
    ),
    OVER_LENDING: (
        "tighten_limits",
        "limits or drawdowns grew {size:.0%} in 30 days while mean PD grew {value:.0%}",
    ),
}


def portfolio_alert(
    *,
    kind: str,
    product: str,
    region: str,
    change: dict[str, Any],
    time: float,
    status: str,
    rate_30_plus: float | None,
) -> dict[str, Any]:
    """A portfolio alert record (contract ``alert`` v1, kinds other than borrower_risk)."""
    action, template = PORTFOLIO_KINDS[kind]
    started = change["started"]
    what = template.format(**{"projected": None, **change})
    summary = (
        f"{kind.replace('_', ' ')} in {product}/{region}: {what} "
        f"(change {change['size']:+g} since {iso_time(started * 86400.0)[:10]})"
    )
    critical = kind in (RESERVE_COVERAGE, SEGMENT_DRIFT)
    return {
        **_head(
            alert_id(f"{product}|{region}", kind, str(started)),
            status,
            kind,
            "critical" if critical else "warning",
        ),
        "product": product,
        "region": region,
        "segment": f"{product}/{region}",
        "series": change["series"],
        "change": change["size"],
        "started_at": iso_time(started * 86400.0),
        "event_time": iso_time(time),
        "opened_at": iso_time(time),
        "rate_30_plus": round(rate_30_plus, 5) if rate_30_plus is not None else None,
        "summary": summary,
        "reasons": [summary],
        "action": action,
    }
