"""The Taiwan credit-default data (UCI "default of credit card clients") as repayment events.

Each client (one CSV row) becomes account ``tw-<ID>`` with one ``credit_pay`` product opened
with ``LIMIT_BAL`` as its limit and the applicant's age, sex, education and marriage. Its six
months April..September 2005 become six consecutive statements, 30 days apart, from a start
date staggered over ``spread_days`` (a seeded shuffle of the clients), so outcomes arrive all
through the stream. Month ``m``'s bill is ``max(BILL_AMT, 0)`` with a minimum due of 10%, due 20
days after the statement.

Repayment status (``PAY_0`` = September ... ``PAY_6`` = April; -2 no consumption, -1 paid in
full, 0 minimum paid, ``d`` >= 1: ``d`` months behind) decides when each bill is satisfied, so
that the core's DPD at the next statement is the one the status records: status ``d`` >= 1 in
month ``m`` leaves bill ``m-d+1`` unpaid at the next statement (DPD ``30(d-1)+10``: 1-29 days for
one month behind, 30-59 for two, ...) with the older bills paid; status <= 0 has month ``m``'s
bill paid by its due date. Each satisfying payment is the real amount paid the next month
(``PAY_AMT``), raised to the minimum where the status requires the bill satisfied; a bill the
status keeps unpaid gets the real amount only when it stays below the minimum.

``as_of`` is five days after September's due date: every event of the six months comes before
it, every event of the outcome month (October) after it. October brings a bill of September's
balance; a client with ``default_next_month = 1`` pays nothing more (the account reaches, or
stays at, 30+ DPD on the stream's own clock), any other pays everything owed before the due
date. A regional indicator every 30 days keeps the clock moving after the last client, so every
outcome resolves. ``delinquent_at`` is when the account first reaches 30+ DPD by the core's
definition (possibly before ``as_of``, for clients already two months behind).

Because October is decided by the label (paid in full two days before the due date, or not at
all), alert figures on this stream (precision, recall, lead time) are made by the converter: an
unpaid October bill one day past due already means default. Only the ranking of the as-of
scores (ROC and PR AUC against the label) measures early warning here.

``TaiwanConfig.id_mod`` keeps a subset of the clients by ``ID`` (``monitor convert taiwan
--id-mod 4:1``), so that one part can be fitted on and another measured, each its own stream.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.core.timeutil import DAY, iso_date, iso_time
from monitor.core.truth import first_30_plus
from monitor.simulator import TruthRow

STATUS = ["PAY_6", "PAY_5", "PAY_4", "PAY_3", "PAY_2", "PAY_0"]  # April .. September
BILLS = ["BILL_AMT6", "BILL_AMT5", "BILL_AMT4", "BILL_AMT3", "BILL_AMT2", "BILL_AMT1"]
PAID = ["PAY_AMT6", "PAY_AMT5", "PAY_AMT4", "PAY_AMT3", "PAY_AMT2", "PAY_AMT1"]
COLUMNS = [
    "ID",
    "LIMIT_BAL",
    "SEX",
    "EDUCATION",
    "MARRIAGE",
    "AGE",
    *STATUS,
    *BILLS,
    *PAID,
    "default_next_month",
]
MONTH, DUE_AFTER = 30, 20
SEX = {"1": "male", "2": "female"}
EDUCATION = {"1": "graduate school", "2": "university", "3": "high school"}
MARRIAGE = {"1": "married", "2": "single"}


#: What ``monitor convert taiwan`` writes beside the truth (``T.source.json``): the backtest
#: then reports the ranking figures only (see the module's docstring).
SOURCE_NOTE = {
    "source": "taiwan-credit-default",
    "alert_figures": (
        "not reported: the converter decides October by the label (paid in full two days "
        "before the due date, or not at all), so an unpaid bill one day past due already means "
        "default; only the ranking of the as-of scores (truth_roc_auc, truth_pr_auc) measures "
        "early warning on this stream"
    ),
}


@dataclass(frozen=True)
class TaiwanConfig:
    """How the clients are laid out in time."""

    start: dt.date = dt.date(2026, 1, 1)
    spread_days: int = 365
    seed: int = 2005
    region: str = "TW"
    #: keep only the clients whose ``ID % m == r`` (``(m, r)``), for a split by client; None: all
    id_mod: tuple[int, int] | None = None


def read_clients(path: Path) -> Iterator[dict[str, str]]:
    """The rows of the CSV; a missing file or column is a ValueError with one sentence."""
    if not path.is_file():
        raise ValueError(f"no Taiwan credit-default CSV at {path}: check the path.")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"{path} lacks the columns {', '.join(missing)}: is it the "
                "default-of-credit-card-clients layout?"
            )
        yield from reader


def _schedule(
    status: list[int], statement: list[int], due: list[int]
) -> tuple[list[tuple[int, int] | None], list[int | None]]:
    """For each bill, the last day it may be paid with the month whose status sets that day
    (``None``: no status asks it paid), and the day it must still be unpaid on (``None``: none).

    A status <= 0 in month ``m`` asks every bill up to ``m`` paid by ``m``'s due date; a status
    ``d`` >= 1 asks the bills older than ``m - d + 1`` paid before the next statement and that
    one unpaid on it.
    """
    deadline: list[tuple[int, int] | None] = [None] * 6
    unpaid_on: list[int | None] = [None] * 6

    def pay_by(j: int, day: int, month: int) -> None:
        current = deadline[j]
        if current is None or day < current[0]:
            deadline[j] = (day, month)

    for m, d in enumerate(status):
        if d <= 0:
            for j in range(m + 1):
                pay_by(j, due[m] - 1, m)
        else:
            oldest = m - d + 1
            for j in range(max(oldest, 0)):
                pay_by(j, statement[m + 1] - 2, m)
            if 0 <= oldest <= 5:
                previous = unpaid_on[oldest]
                unpaid_on[oldest] = max(previous or 0, statement[m + 1])
    return deadline, unpaid_on


def client_events(
    row: dict[str, str], start: int, region: str
) -> tuple[list[dict[str, Any]], float]:
    """One client's events from day ``start``; and its ``as_of`` time."""
    account = f"tw-{row['ID']}"
    events: list[dict[str, Any]] = []

    def emit(day: float, kind: str, **fields: Any) -> None:
        events.append(
            {
                "schema_version": 1,
                "event_id": f"{account}-{len(events) + 1:02d}",
                "event_time": iso_time(round(day * DAY)),
                "type": kind,
                "account_id": account,
                "product": "credit_pay",
                **fields,
            }
        )

    applicant: dict[str, Any] = {"age": min(max(int(row["AGE"]), 16), 120)}
    for key, field, names in (
        ("sex", "SEX", SEX),
        ("education", "EDUCATION", EDUCATION),
        ("marital_status", "MARRIAGE", MARRIAGE),
    ):
        applicant[key] = names.get(row[field], "other")
    emit(
        start - 1 + 0.3,
        "account_opened",
        credit_limit=float(row["LIMIT_BAL"]),
        region=region,
        applicant=applicant,
    )
    status = [int(row[c]) for c in STATUS]
    bills = [max(float(row[c]), 0.0) for c in BILLS]
    paid = [max(float(row[c]), 0.0) for c in PAID]
    statement = [start + MONTH * m for m in range(7)]
    due = [s + DUE_AFTER for s in statement]
    as_of = due[5] + 5
    minimum = [round(b * 0.1, 2) for b in bills]
    deadline, unpaid_on = _schedule(status, statement, due)
    owed: list[float] = []
    for m in range(6):
        emit(
            statement[m] + 0.25,
            "bill_issued",
            bill_id=f"{account}-{m}",
            amount_due=bills[m],
            minimum_due=minimum[m],
            due_date=iso_date(due[m]),
        )
        owed.append(bills[m])
        real = paid[m + 1] if m + 1 < 6 else paid[5]
        rule = deadline[m]
        if rule is not None:
            # satisfied by the earliest day a status asks, but not before a day it must be unpaid
            when, by = rule
            after = unpaid_on[m]
            if after is not None:
                when = max(when, after + 1)
            when = min(when, as_of - 1)
            amount = max(real, minimum[m]) if bills[m] > 0 else 0.0
            amount = min(amount, bills[m]) if status[by] != -1 else bills[m]
            if amount > 0:
                emit(when + 0.5, "payment", amount=round(amount, 2), bill_id=f"{account}-{m}")
                owed[m] -= amount
        elif 0 < real < minimum[m]:
            emit(due[m] - 1 + 0.5, "payment", amount=round(real, 2), bill_id=f"{account}-{m}")
            owed[m] -= real
    return events, as_of * DAY


def outcome_events(events: list[dict[str, Any]], row: dict[str, str], start: int) -> None:
    """October: a bill of September's balance, then all paid or nothing (by the label)."""
    account = f"tw-{row['ID']}"
    statement, due = start + 6 * MONTH, start + 6 * MONTH + DUE_AFTER
    amount = max(float(row["BILL_AMT1"]), 0.0)
    n = len(events)
    events.append(
        {
            "schema_version": 1,
            "event_id": f"{account}-{n + 1:02d}",
            "event_time": iso_time(round((statement + 0.25) * DAY)),
            "type": "bill_issued",
            "account_id": account,
            "product": "credit_pay",
            "bill_id": f"{account}-6",
            "amount_due": amount,
            "minimum_due": round(amount * 0.1, 2),
            "due_date": iso_date(due),
        }
    )
    if row["default_next_month"] == "1":
        return
    billed = sum(e.get("amount_due", 0.0) for e in events if e["type"] == "bill_issued")
    paid = sum(e.get("amount", 0.0) for e in events if e["type"] == "payment")
    events.append(
        {
            "schema_version": 1,
            "event_id": f"{account}-{n + 2:02d}",
            "event_time": iso_time(round((due - 2 + 0.5) * DAY)),
            "type": "payment",
            "account_id": account,
            "product": "credit_pay",
            "amount": round(max(billed - paid, 0.01), 2),
        }
    )


def convert(
    path: Path, config: TaiwanConfig | None = None
) -> tuple[list[dict[str, Any]], list[TruthRow]]:
    """All clients as one time-ordered stream, and their truth."""
    config = config or TaiwanConfig()
    rows = list(read_clients(path))
    if config.id_mod is not None:
        m, r = config.id_mod
        rows = [row for row in rows if int(row["ID"]) % m == r]
    order = list(range(len(rows)))
    random.Random(config.seed).shuffle(order)
    base = (config.start - dt.date(1970, 1, 1)).days
    stream: list[tuple[str, int, dict[str, Any]]] = []
    truth = []
    last = base
    for rank, index in enumerate(order):
        row = rows[index]
        start = base + config.spread_days * rank // max(len(rows), 1)
        events, as_of = client_events(row, start, config.region)
        outcome_events(events, row, start)
        end = (start + 6 * MONTH + DUE_AFTER + 61) * DAY
        when = first_30_plus(events, end)
        truth.append(
            TruthRow(
                f"tw-{row['ID']}",
                int(row["default_next_month"]),
                iso_time(as_of),
                iso_time(when) if when else "",
            )
        )
        stream += [(e["event_time"], i, e) for i, e in enumerate(events)]
        last = max(last, start + 6 * MONTH + DUE_AFTER + 61)
    for n, day in enumerate(range(base, last + 1, MONTH)):
        stream.append(
            (
                iso_time(day * DAY + 60),
                -1,
                {
                    "schema_version": 1,
                    "event_id": f"tw-clock-{n:03d}",
                    "event_time": iso_time(day * DAY + 60),
                    "type": "macro_indicator",
                    "region": config.region,
                    "indicator": "unemployment_rate",
                    "value": 4.0,
                },
            )
        )
    stream.sort(key=lambda t: (t[0], t[1]))
    return [e for _, _, e in stream], truth
