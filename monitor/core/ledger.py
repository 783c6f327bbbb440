"""Bills, payments and days past due: how account events change a product's ledger.

Days past due (DPD) — the one definition used everywhere (simulator truth, features, buckets):
per product, a bill is *satisfied* once the payments toward it reach its ``minimum_due``.
Payments naming a ``bill_id`` go to that bill, others to the oldest unsatisfied bill first, and
what is left over to the next ones. An extension replaces the bill's due date; an instalment plan
marks it satisfied (the instalments arrive as new bills). At day ``t`` the DPD is ``t - d`` for
the earliest due date ``d < t`` among unsatisfied bills, else 0. An account reaches 30+ DPD at
``d + 30``.

>>> from monitor.core.state import ProductLedger
>>> ledger = ProductLedger("credit_pay", limit=1000.0)
>>> issue_bill(ledger, "b1", issued=100, due=110, amount=400.0, minimum=40.0)
>>> dpd(ledger, 111), dpd(ledger, 140)
(1, 30)
>>> apply_payment(ledger, 30.0, None, day=112); dpd(ledger, 140)
30
>>> apply_payment(ledger, 10.0, None, day=113); dpd(ledger, 140)
0
"""

from __future__ import annotations

from typing import Any

from monitor.core.state import FULL, HISTORY, MINIMUM, MISSED, PARTIAL, Bill, ProductLedger
from monitor.core.timeutil import parse_date

#: DPD buckets in order, with their lower bounds.
BUCKETS = (("current", 0), ("1-29", 1), ("30-59", 30), ("60-89", 60), ("90+", 90))
#: Bills kept after they are satisfied and settled (for utilisation and payment history).
_KEEP_SETTLED = 1
_EPS = 1e-6


def bucket_of(days: int) -> str:
    """The DPD bucket name of a number of days past due.

    >>> [bucket_of(d) for d in (0, 5, 30, 75, 200)]
    ['current', '1-29', '30-59', '60-89', '90+']
    """
    name = BUCKETS[0][0]
    for label, lower in BUCKETS:
        if days >= lower:
            name = label
    return name


def oldest_unpaid_due(ledger: ProductLedger) -> int | None:
    """Earliest due day among unsatisfied bills, or ``None``."""
    dues = [bill.due for bill in ledger.bills if not bill.satisfied]
    return min(dues) if dues else None


def dpd(ledger: ProductLedger, day: int) -> int:
    """Days past due of a product on ``day``."""
    due = oldest_unpaid_due(ledger)
    return day - due if due is not None and due < day else 0


def issue_bill(
    ledger: ProductLedger, bill_id: str, issued: int, due: int, amount: float, minimum: float
) -> None:
    """Add a bill (a repeated bill id replaces the amounts of the earlier one)."""
    for bill in ledger.bills:
        if bill.bill_id == bill_id:
            bill.amount, bill.minimum, bill.due = amount, minimum, due
            bill.satisfied = bill.paid + _EPS >= minimum
            return
    ledger.prev_utilisation = utilisation(ledger)
    ledger.bills.append(Bill(bill_id, issued, due, amount, minimum, satisfied=minimum <= _EPS))


def apply_payment(ledger: ProductLedger, amount: float, bill_id: str | None, day: int) -> None:
    """Allocate a payment: to the named bill first, then oldest unsatisfied bills first."""
    ledger.last_payment = day
    if ledger.product == "cash_loan":
        ledger.loan_balance = max(0.0, ledger.loan_balance - amount)
    remaining = amount
    named = [b for b in ledger.bills if b.bill_id == bill_id] if bill_id else []
    oldest_first = sorted(
        (b for b in ledger.bills if not b.satisfied and b not in named),
        key=lambda b: (b.due, b.issued),
    )
    for bill in named + oldest_first:
        if remaining <= _EPS:
            return
        take = min(remaining, max(bill.amount - bill.paid, 0.0))
        bill.paid += take
        remaining -= take
        bill.satisfied = bill.satisfied or bill.paid + _EPS >= bill.minimum
    if remaining > _EPS and ledger.bills:
        # an overpayment is credit on the newest bill
        newest = (named or ledger.bills)[-1]
        newest.paid += remaining
        newest.satisfied = newest.satisfied or newest.paid + _EPS >= newest.minimum


def extend(ledger: ProductLedger, bill_id: str, new_due: int) -> bool:
    """Move a bill's due date (a payment extension). False if the bill is unknown."""
    for bill in ledger.bills:
        if bill.bill_id == bill_id:
            bill.due = new_due
            bill.outcome = ""
            ledger.plans += 1
            return True
    return False


def restructure(ledger: ProductLedger, bill_id: str) -> bool:
    """Put a bill on an instalment plan: it counts as satisfied. False if the bill is unknown."""
    for bill in ledger.bills:
        if bill.bill_id == bill_id:
            bill.satisfied = True
            ledger.plans += 1
            return True
    return False


def settle(ledger: ProductLedger, day: int) -> int:
    """Record the outcome of every bill whose due date has passed, and drop settled bills;
    the number of outcomes recorded now."""
    recorded = 0
    for bill in ledger.bills:
        if bill.outcome or bill.due >= day:
            continue
        if bill.paid + _EPS >= bill.amount:
            bill.outcome = FULL
        elif bill.satisfied:
            bill.outcome = MINIMUM
        elif bill.paid > _EPS:
            bill.outcome = PARTIAL
        else:
            bill.outcome = MISSED
        ledger.outcomes = ([*ledger.outcomes, bill.outcome])[-HISTORY:]
        ratio = min(bill.paid / bill.amount, 1.5) if bill.amount > _EPS else 1.0
        ledger.pay_ratios = ([*ledger.pay_ratios, round(ratio, 4)])[-HISTORY:]
        recorded += 1
    settled = [b for b in ledger.bills if b.outcome and b.satisfied]
    if len(settled) > _KEEP_SETTLED:
        drop = {id(b) for b in settled[:-_KEEP_SETTLED]}
        ledger.bills = [b for b in ledger.bills if id(b) not in drop]
    return recorded


def outstanding(ledger: ProductLedger) -> float:
    """What the borrower owes on this product: unpaid bills, or the cash-loan balance."""
    if ledger.product == "cash_loan":
        return ledger.loan_balance
    return sum(max(b.amount - b.paid, 0.0) for b in ledger.bills)


def utilisation(ledger: ProductLedger) -> float:
    """Outstanding amount over the credit limit (0 when there is no limit)."""
    return outstanding(ledger) / ledger.limit if ledger.limit > _EPS else 0.0


def next_due(ledger: ProductLedger, day: int) -> int | None:
    """The next due day on or after ``day`` of an unsatisfied bill, or ``None``."""
    dues = [b.due for b in ledger.bills if not b.satisfied and b.due >= day]
    return min(dues) if dues else None


def apply_event(ledger: ProductLedger, kind: str, data: dict[str, Any], day: int) -> bool:
    """Apply a bill, payment or repayment-plan event (its JSON fields) on ``day``; False for
    other kinds, which do not touch the bills."""
    if kind == "bill_issued":
        issue_bill(
            ledger,
            data["bill_id"],
            day,
            parse_date(data["due_date"]),
            float(data["amount_due"]),
            float(data["minimum_due"]),
        )
    elif kind == "payment":
        apply_payment(ledger, float(data["amount"]), data.get("bill_id"), day)
    elif kind == "repayment_plan_changed":
        if data["plan"] == "extension":
            extend(ledger, data["bill_id"], parse_date(data["new_due_date"]))
        else:
            restructure(ledger, data["bill_id"])
    else:
        return False
    return True
