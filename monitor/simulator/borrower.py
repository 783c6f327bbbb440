"""One borrower's life over the simulated period, as repayment events.

A borrower has a latent risk, an income and a spending habit; the environment (the scenario) can
take the income away (job loss) and illness can interrupt payments for a while. Troubled
borrowers usually show it before they go 30+ days past due — minimum-only or partial payments,
drawing cash loans just before credit-pay due dates, higher utilisation — but not always.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from monitor.core.timeutil import DAY, iso_date, iso_time
from monitor.simulator.scenarios import Scenario

MONTH = 30
DUE_AFTER = 10  # days from statement to due date


@dataclass
class Borrower:
    """The simulated state of one account holder."""

    account_id: str
    region: str
    risk: float
    income: float
    open_day: int
    credit_limit: float
    loan_limit: float
    base_util: float
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    jobless: tuple[int, int] | None = None  # (lost on day, back on day)
    savings_days: int = 0
    ill: tuple[int, int] | None = None
    loan_balance: float = 0.0
    borrowed_to_repay: int = 0
    credit_limits: list[tuple[int, float]] = field(default_factory=list)  # (from day, limit)
    _n: int = 0

    def emit(self, day: float, kind: str, **fields: Any) -> None:
        self._n += 1
        self.events.append(
            (
                day,
                {
                    "schema_version": 1,
                    "event_id": f"{self.account_id}-{self._n:04d}",
                    "event_time": iso_time(round(day * DAY)),
                    "type": kind,
                    "account_id": self.account_id,
                    **fields,
                },
            )
        )

    # -- circumstances ---------------------------------------------------------------------
    def unemployed(self, day: int) -> bool:
        return self.jobless is not None and self.jobless[0] <= day < self.jobless[1]

    def broke(self, day: int) -> bool:
        """Unemployed and past the savings buffer."""
        return self.unemployed(day) and day >= self.jobless[0] + self.savings_days  # type: ignore[index]

    def sick(self, day: int) -> bool:
        return self.ill is not None and self.ill[0] <= day < self.ill[1]


def make_borrower(index: int, rng: random.Random, days: int, regions: tuple[str, ...]) -> Borrower:
    """Draw a borrower's traits."""
    risk = rng.betavariate(1.3, 14.0)
    income = math.exp(rng.gauss(math.log(8000.0), 0.45))
    return Borrower(
        account_id=f"a{index:06d}",
        region=regions[rng.randrange(len(regions))],
        risk=risk,
        income=income,
        open_day=rng.randrange(0, max(1, days // 6)),
        credit_limit=round(income * rng.uniform(0.8, 2.0), -2) or 1000.0,
        loan_limit=round(income * rng.uniform(1.5, 4.0), -2) or 2000.0,
        base_util=min(max(0.15 + 1.8 * risk + rng.gauss(0.0, 0.1), 0.05), 0.9),
    )


def live(
    b: Borrower, rng: random.Random, days: int, scenario: Scenario, products: set[str]
) -> None:
    """Generate all of the borrower's events over ``days``."""
    for product in sorted(products):
        limit = b.credit_limit if product == "credit_pay" else b.loan_limit
        b.emit(
            b.open_day + 0.25,
            "account_opened",
            product=product,
            credit_limit=limit,
            region=b.region,
            applicant={
                "age": rng.randint(20, 65),
                "monthly_income": round(b.income, 2),
                "employment": rng.choice(["salaried", "self"]),
            },
        )
    _fate(b, rng, days, scenario)
    _limits(b, rng, days, scenario, products)
    if "cash_loan" in products:
        _loans(b, rng, days, scenario)
    if "credit_pay" in products:
        _credit_pay(b, rng, days, scenario, "cash_loan" in products)


def _fate(b: Borrower, rng: random.Random, days: int, scenario: Scenario) -> None:
    """When (if) the borrower loses income or falls ill."""
    base = 0.00022 * (1.0 + 12.0 * b.risk)
    for day in range(b.open_day, days):
        if rng.random() < base * scenario.hazard(b.region, day):
            b.jobless = (day, day + int(rng.expovariate(1 / 90.0)) + 20)
            b.savings_days = int(rng.uniform(0, 45) * (1.5 - b.risk))
            break
    for day in range(b.open_day, days):
        if rng.random() < 0.00015:
            b.ill = (day, day + rng.randint(15, 45))
            break


def _pay(
    b: Borrower,
    rng: random.Random,
    product: str,
    bill_id: str,
    issued: int,
    due: int,
    amount: float,
    minimum: float,
    has_loan: bool,
    days: int,
) -> None:
    """How the borrower answers one bill (payments, borrowing, extensions)."""

    def pay(day: float, value: float) -> None:
        b.emit(day, "payment", product=product, amount=round(value, 2), bill_id=bill_id)

    def borrow_to_pay(instalments: int) -> None:
        """Draw on the cash loan just before the due day and pay the bill with it."""
        when = due - rng.randint(1, 5) + 0.45
        b.emit(
            when,
            "drawdown",
            product="cash_loan",
            loan_id=f"{bill_id}-L",
            amount=round(amount, 2),
            instalments=instalments,
        )
        pay(when + 0.1, amount)

    r = b.risk
    if b.sick(due):
        assert b.ill is not None
        if rng.random() < 0.5 and r < 0.15:  # a good history: the platform grants an extension
            b.emit(
                due - 1 + 0.4,
                "repayment_plan_changed",
                product=product,
                bill_id=bill_id,
                plan="extension",
                new_due_date=iso_date(due + 30),
            )
            due += 30
        back = b.ill[1] + rng.randint(0, 3)
        if back < days:
            pay(back + 0.5, amount)
        return
    if b.broke(due):
        assert b.jobless is not None
        can_borrow = (
            has_loan
            and b.borrowed_to_repay < 2
            and product == "credit_pay"
            and (b.loan_balance + amount < b.loan_limit)
        )
        if can_borrow and rng.random() < 0.7:
            b.borrowed_to_repay += 1
            b.loan_balance += amount
            borrow_to_pay(instalments=6)
        elif rng.random() < 0.25:
            pay(due - 0.5, minimum * 0.5)
        back = b.jobless[1]
        if back < days and rng.random() < 0.6:  # a new job: pays the arrears
            pay(back + 2.5, amount)
        return
    if b.unemployed(due):  # still living on savings: minimum only
        pay(due - rng.randint(0, 3) - 0.3, max(minimum, 0.01))
        return
    draw = rng.random()
    p_min = 0.06 + 1.5 * r
    p_late = 0.02 + 0.2 * r
    p_miss = 0.004 + 0.6 * r * r
    p_full = 1.0 - p_min - p_late - p_miss
    if product == "cash_loan":
        p_full, p_min = p_full + p_min, 0.0
    if has_loan and product == "credit_pay" and r > 0.12 and rng.random() < 0.25 * r:
        borrow_to_pay(instalments=3)
    elif draw < p_full:
        pay(due - rng.randint(0, 6) - 0.4, amount)
    elif draw < p_full + p_min:
        pay(due - rng.randint(0, 4) - 0.4, minimum)
    elif draw < p_full + p_min + p_late:
        pay(due + rng.randint(1, 8) + 0.5, amount)
    elif rng.random() < 0.75 and due + 25 < days:  # missed: most pay next cycle, a few never
        pay(due + rng.randint(12, 26) + 0.5, amount)


def _credit_pay(
    b: Borrower, rng: random.Random, days: int, scenario: Scenario, has_loan: bool
) -> None:
    statement = b.open_day + rng.randint(3, MONTH)
    n = 0
    while statement < days:
        n += 1
        util = b.base_util * scenario.spend(statement) / scenario.income(statement)
        if b.unemployed(statement):
            util += 0.2  # living on credit
        util = min(max(util + rng.gauss(0.0, 0.06), 0.02), 0.98)
        limit = b.credit_limit
        for since, value in b.credit_limits:
            if since <= statement:
                limit = value
        amount = round(limit * util, 2)
        minimum = round(amount * 0.1, 2)
        bill_id = f"{b.account_id}-C{n:02d}"
        due = statement + DUE_AFTER
        b.emit(
            statement + 0.25,
            "bill_issued",
            product="credit_pay",
            bill_id=bill_id,
            amount_due=amount,
            minimum_due=minimum,
            due_date=iso_date(due),
        )
        _pay(b, rng, "credit_pay", bill_id, statement, due, amount, minimum, has_loan, days)
        statement += MONTH


def _loans(b: Borrower, rng: random.Random, days: int, scenario: Scenario) -> None:
    day = b.open_day + 1
    n = 0
    while day < days:
        rate = 0.004 * scenario.drawdown_rate(day) * (0.5 if b.unemployed(day) else 1.0)
        if rng.random() < rate and b.loan_balance < 0.6 * b.loan_limit:
            n += 1
            principal = round(b.loan_limit * rng.uniform(0.15, 0.4), 2)
            instalments = rng.choice([3, 6, 12])
            loan_id = f"{b.account_id}-L{n:02d}"
            b.loan_balance += principal
            b.emit(
                day + 0.6,
                "drawdown",
                product="cash_loan",
                loan_id=loan_id,
                amount=principal,
                instalments=instalments,
            )
            each = round(principal / instalments * 1.01, 2)
            for k in range(1, instalments + 1):
                issued = day + k * MONTH - DUE_AFTER
                if issued >= days:
                    break
                bill_id = f"{loan_id}-{k:02d}"
                b.emit(
                    issued + 0.25,
                    "bill_issued",
                    product="cash_loan",
                    bill_id=bill_id,
                    amount_due=each,
                    minimum_due=each,
                    due_date=iso_date(issued + DUE_AFTER),
                )
                _pay(
                    b, rng, "cash_loan", bill_id, issued, issued + DUE_AFTER, each, each, True, days
                )
            b.loan_balance = max(0.0, b.loan_balance - principal * 0.5)
            day += 20
        day += 1


def _limits(
    b: Borrower, rng: random.Random, days: int, scenario: Scenario, products: set[str]
) -> None:
    """Limit increases by the platform (the credit-pay ones raise later bills too)."""
    credit = b.credit_limit
    for day in range(b.open_day + 30, days):
        if rng.random() < scenario.limit_raise(day):
            product = rng.choice(sorted(products))
            if product == "credit_pay":
                credit = round(credit * rng.uniform(1.15, 1.5), -2)
                b.credit_limits.append((day + 1, credit))
                new = credit
            else:
                b.loan_limit = round(b.loan_limit * rng.uniform(1.15, 1.5), -2)
                new = b.loan_limit
            b.emit(day + 0.2, "credit_limit_changed", product=product, new_limit=new)
