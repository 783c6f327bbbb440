"""Behavioural features of an account at a point in event time.

Every feature is a float with a name in :data:`FEATURE_NAMES`; :func:`vector` gives them in that
order (compact storage in pending snapshots), :func:`as_dict` as a mapping for River.
"""

from __future__ import annotations

import math

from monitor.core import ledger as lg
from monitor.core.macro import MacroBook
from monitor.core.state import FULL, MINIMUM, MISSED, PARTIAL, AccountState, ProductLedger

FEATURE_NAMES = (
    "dpd",
    "past_due_bills",
    "share_paid_full",
    "share_minimum_only",
    "share_missed",
    "pay_to_due_ratio",
    "consecutive_misses",
    "utilisation",
    "utilisation_change",
    "days_since_payment",
    "borrow_to_repay_90d",
    "active_products",
    "plans_granted",
    "cash_loan_utilisation",
    "months_on_book",
    "log_credit_limit",
    "macro_unemployment",
    "macro_unemployment_change",
    "days_to_next_due",
    "behaviour_change",
    "last_pay_ratio",
    "statement_utilisation",
)
#: Window in days for counting borrowing-to-repay drawdowns.
BORROW_WINDOW = 90
#: A cash-loan drawdown this many days before a credit-pay due date counts as borrowing to repay.
BORROW_LEAD = 7
_CAP_DAYS = 120.0


def _consecutive_misses(outcomes: list[str]) -> int:
    count = 0
    for code in reversed(outcomes):
        if code not in (MISSED, PARTIAL):
            break
        count += 1
    return count


def _statement_utilisation(credit: ProductLedger | None) -> float:
    """The latest credit-pay statement over the credit limit."""
    if credit is None or credit.closed or not credit.bills or credit.limit <= 0:
        return 0.0
    return min(credit.bills[-1].amount / credit.limit, 3.0)


def vector(state: AccountState, day: int, macro: MacroBook) -> list[float]:
    """Features of ``state`` on ``day``, in :data:`FEATURE_NAMES` order."""
    ledgers = [p for p in state.products.values() if not p.closed]
    outcomes: list[str] = []
    ratios: list[float] = []
    dpd = past_due = consecutive = 0
    last_payment = -1
    limit = 0.0
    opened = day
    next_due: int | None = None
    for ledger in ledgers:
        outcomes += ledger.outcomes
        ratios += ledger.pay_ratios[-3:]
        # one pass over the unsatisfied bills: the oldest due date (DPD, as lg.dpd), the bills
        # past due, and the next due date on or after today (as lg.next_due)
        oldest: int | None = None
        for bill in ledger.bills:
            if bill.satisfied:
                continue
            due = bill.due
            if oldest is None or due < oldest:
                oldest = due
            if due < day:
                past_due += 1
            elif next_due is None or due < next_due:
                next_due = due
        if oldest is not None and oldest < day and day - oldest > dpd:
            dpd = day - oldest
        if ledger.outcomes:
            consecutive = max(consecutive, _consecutive_misses(ledger.outcomes))
        last_payment = max(last_payment, ledger.last_payment)
        limit += ledger.limit
        opened = min(opened, ledger.opened)
    n = len(outcomes)
    credit = state.products.get("credit_pay")
    loan = state.products.get("cash_loan")
    util = lg.utilisation(credit) if credit else 0.0
    since_payment = float(day - last_payment) if last_payment >= 0 else float(day - opened)
    borrow = sum(1 for d in state.borrow_to_repay if day - d <= BORROW_WINDOW)
    return [
        float(dpd),
        float(past_due),
        outcomes.count(FULL) / n if n else 1.0,
        outcomes.count(MINIMUM) / n if n else 0.0,
        (outcomes.count(MISSED) + outcomes.count(PARTIAL)) / n if n else 0.0,
        sum(ratios) / len(ratios) if ratios else 1.0,
        float(consecutive),
        min(util, 3.0),
        max(min(util - credit.prev_utilisation, 3.0), -3.0) if credit else 0.0,
        min(since_payment, _CAP_DAYS),
        float(borrow),
        float(len(ledgers)),
        float(sum(p.plans for p in state.products.values())),
        min(lg.utilisation(loan), 3.0) if loan else 0.0,
        (day - opened) / 30.0,
        math.log1p(limit),
        macro.level(state.region),
        macro.change(state.region),
        min(float(next_due - day), 60.0) if next_due is not None else 60.0,
        state.behaviour,
        ratios[-1] if ratios else 1.0,
        _statement_utilisation(credit),
    ]


#: Value of a feature missing from a vector stored before it existed (pending snapshots in
#: state written by an earlier version: features are only ever appended).
_MISSING = 0.0


def as_dict(values: list[float]) -> dict[str, float]:
    """A feature vector as a name -> value mapping (an older, shorter vector is padded).

    >>> as_dict([1.0] * FEATURE_NAMES.index("behaviour_change"))["behaviour_change"]
    0.0
    """
    if len(values) < len(FEATURE_NAMES):
        values = [*values, *[_MISSING] * (len(FEATURE_NAMES) - len(values))]
    return dict(zip(FEATURE_NAMES, values, strict=True))
