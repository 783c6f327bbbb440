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

from typing import Any, TypedDict, Unpack

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


class AccountRisk(TypedDict):
    """What an alert and an account-risk record both say about an account's risk."""

    account_id: str
    product: str
    region: str
    probability: float
    tier: str
    reasons: list[str]
    action: str
    model_version: str
    trigger_event_id: str
    days_past_due: int


def risk_fields(risk: AccountRisk, **times: float) -> dict[str, Any]:
    """The fields of ``risk`` as the contracts name them, ``times`` (name: epoch seconds) as ISO
    times among them."""
    return {
        "account_id": risk["account_id"],
        "product": risk["product"],
        "region": risk["region"],
        "probability": round(risk["probability"], 4),
        "risk_tier": risk["tier"],
        "reasons": risk["reasons"],
        "action": risk["action"],
        "model_version": risk["model_version"],
        **{name: iso_time(at) for name, at in times.items()},
        "trigger_event_ids": [risk["trigger_event_id"]],
        "days_past_due": risk["days_past_due"],
    }


def risk_record(
    *, updated: float, last_event: float, **risk: Unpack[AccountRisk]
) -> dict[str, Any]:
    """The account-risk record (contract ``account-risk`` v1)."""
    return {
        "schema_version": RISK_SCHEMA_VERSION,
        **risk_fields(risk, updated_at=updated, last_event_time=last_event),
    }
