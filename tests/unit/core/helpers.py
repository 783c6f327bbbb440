"""Small builders of valid events for the core tests."""

from __future__ import annotations

import itertools
from typing import Any

from monitor.core.events import Event, event_from_dict

_ids = itertools.count(1)


def raw(kind: str, time: str, **fields: Any) -> dict[str, Any]:
    """A valid event dict of ``kind`` at ``time`` (``YYYY-MM-DD`` or full ISO)."""
    when = time if "T" in time else f"{time}T08:00:00Z"
    return {
        "schema_version": 1,
        "event_id": f"e{next(_ids)}",
        "event_time": when,
        "type": kind,
        **fields,
    }


def ev(kind: str, time: str, **fields: Any) -> Event:
    """A validated :class:`Event`."""
    return event_from_dict(raw(kind, time, **fields))


def opened(
    account: str,
    day: str,
    limit: float = 1000.0,
    product: str = "credit_pay",
    region: str = "north",
) -> Event:
    return ev(
        "account_opened",
        day,
        account_id=account,
        product=product,
        credit_limit=limit,
        region=region,
    )


def bill(
    account: str,
    day: str,
    bill_id: str,
    amount: float,
    due: str,
    minimum: float | None = None,
    product: str = "credit_pay",
) -> Event:
    return ev(
        "bill_issued",
        day,
        account_id=account,
        product=product,
        bill_id=bill_id,
        amount_due=amount,
        minimum_due=amount * 0.1 if minimum is None else minimum,
        due_date=due,
    )


def pay(
    account: str, day: str, amount: float, bill_id: str | None = None, product: str = "credit_pay"
) -> Event:
    fields: dict[str, Any] = {"account_id": account, "product": product, "amount": amount}
    if bill_id:
        fields["bill_id"] = bill_id
    return ev("payment", day, **fields)
