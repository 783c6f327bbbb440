"""Small builders of valid events for the tests: ``raw_*`` give the event as the JSON dict a
producer sends, the same names without ``raw_`` the validated :class:`Event`."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from typing import Any, ParamSpec

from monitor.core.events import Event, event_from_dict

_ids = itertools.count(1)
P = ParamSpec("P")


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


def _validated(build: Callable[P, dict[str, Any]]) -> Callable[P, Event]:
    """The builder of the validated event a dict builder describes."""

    @functools.wraps(build)
    def event(*args: P.args, **kwargs: P.kwargs) -> Event:
        return event_from_dict(build(*args, **kwargs))

    return event


ev = _validated(raw)


def _of_account(kind: str, account: str, day: str, product: str, **fields: Any) -> dict[str, Any]:
    return raw(kind, day, account_id=account, product=product, **fields)


def raw_opened(
    account: str,
    day: str,
    limit: float = 1000.0,
    product: str = "credit_pay",
    region: str = "north",
) -> dict[str, Any]:
    return _of_account("account_opened", account, day, product, credit_limit=limit, region=region)


def raw_bill(
    account: str,
    day: str,
    bill_id: str,
    amount: float,
    due: str,
    minimum: float | None = None,
    product: str = "credit_pay",
) -> dict[str, Any]:
    minimum_due = amount * 0.1 if minimum is None else minimum
    return _of_account(
        "bill_issued",
        account,
        day,
        product,
        bill_id=bill_id,
        amount_due=amount,
        minimum_due=minimum_due,
        due_date=due,
    )


def raw_pay(
    account: str, day: str, amount: float, bill_id: str | None = None, product: str = "credit_pay"
) -> dict[str, Any]:
    paid = {"bill_id": bill_id} if bill_id else {}
    return _of_account("payment", account, day, product, amount=amount, **paid)


def raw_macro(day: str, region: str = "north", value: float = 5.0) -> dict[str, Any]:
    """An unemployment reading: with no account, the core tests send one to move event time on
    (firing the timers due by then)."""
    return raw("macro_indicator", day, region=region, indicator="unemployment_rate", value=value)


def raw_drawdown(
    account: str, day: str, loan_id: str, amount: float, instalments: int
) -> dict[str, Any]:
    return _of_account(
        "drawdown",
        account,
        day,
        "cash_loan",
        loan_id=loan_id,
        amount=amount,
        instalments=instalments,
    )


opened = _validated(raw_opened)
bill = _validated(raw_bill)
pay = _validated(raw_pay)
macro = _validated(raw_macro)
drawdown = _validated(raw_drawdown)
