"""Account-risk records: the latest risk of each account, for the compacted account-risk topic.

A record is published when the risk changes materially — the first score, a change of tier, or a
move of at least ``MATERIAL_CHANGE`` in probability since the last record — not on every event.
A closed account gets a tombstone (``None``), so a compacted topic forgets it.

>>> is_material(None, "", 0.02, "low")
True
>>> is_material(0.02, "low", 0.05, "low"), is_material(0.02, "low", 0.08, "low")
(False, True)
"""

from __future__ import annotations

from typing import Any

from monitor.core.timeutil import iso_time

RISK_SCHEMA_VERSION = 1
MATERIAL_CHANGE = 0.05


def is_material(
    published: float | None, published_tier: str, probability: float, tier: str
) -> bool:
    """True if a new risk record is worth publishing."""
    return (
        published is None
        or tier != published_tier
        or abs(probability - published) >= MATERIAL_CHANGE
    )


def risk_record(
    *,
    account_id: str,
    product: str,
    region: str,
    probability: float,
    tier: str,
    reasons: list[str],
    action: str,
    model_version: str,
    updated: float,
    last_event: float,
    trigger_event_id: str,
    days_past_due: int,
) -> dict[str, Any]:
    """The account-risk record (contract ``account-risk`` v1)."""
    return {
        "schema_version": RISK_SCHEMA_VERSION,
        "account_id": account_id,
        "product": product,
        "region": region,
        "probability": round(probability, 4),
        "risk_tier": tier,
        "reasons": reasons,
        "action": action,
        "model_version": model_version,
        "updated_at": iso_time(updated),
        "last_event_time": iso_time(last_event),
        "trigger_event_ids": [trigger_event_id],
        "days_past_due": days_past_due,
    }
