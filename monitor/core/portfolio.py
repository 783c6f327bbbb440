"""Portfolio aggregates on event time: DPD buckets, balances, expected loss, roll rates, vintages.

Every account product contributes to its segment (product, region): a count and a balance in
its DPD bucket, its probability of default, its limit and its expected loss
``PD x exposure x LGD``. The engine reports each change of an account's contribution as a
:class:`Move`; :class:`PortfolioBook` keeps the sums, so nothing is ever rescanned. Month by month
it also counts bucket transitions (roll and cure rates) and, per opening month, how many accounts
first reached 30+ DPD at each month on book (vintage curves). One book is kept per input
partition, on that partition's own clock.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from monitor.core.ledger import BUCKETS

LATE_BUCKETS = ("30-59", "60-89", "90+")
_MONTHS_KEPT = 13


class Contribution(NamedTuple):
    """What one account product adds to its segment."""

    region: str
    bucket: str
    balance: float
    expected_loss: float
    pd: float
    limit: float


class Move(NamedTuple):
    """An account product's contribution changing (None: not counted, e.g. closed)."""

    product: str
    old: Contribution | None
    new: Contribution | None


def segment(product: str, region: str) -> str:
    """The key of a segment."""
    return f"{product}|{region}"


@functools.lru_cache(maxsize=4096)
def month_of(day: int) -> int:
    """Months since 1970-01 of a day number (remembered: asked for on every scoring).

    >>> month_of(0), month_of(31), month_name(month_of(20_454))
    (0, 1, '2026-01')
    """
    date = dt.date(1970, 1, 1) + dt.timedelta(days=day)
    return (date.year - 1970) * 12 + date.month - 1


def month_name(month: int) -> str:
    """``YYYY-MM`` of a month index."""
    return f"{1970 + month // 12:04d}-{month % 12 + 1:02d}"


@dataclass
class Segment:
    """Running sums of one segment."""

    counts: dict[str, int] = field(default_factory=lambda: {b: 0 for b, _ in BUCKETS})
    balances: dict[str, float] = field(default_factory=lambda: {b: 0.0 for b, _ in BUCKETS})
    expected_loss: float = 0.0
    pd_sum: float = 0.0
    limit: float = 0.0

    @property
    def accounts(self) -> int:
        return sum(self.counts.values())

    @property
    def rate_30_plus(self) -> float:
        n = self.accounts
        return sum(self.counts[b] for b in LATE_BUCKETS) / n if n else 0.0

    @property
    def rate_past_due(self) -> float:
        n = self.accounts
        return (n - self.counts["current"]) / n if n else 0.0

    @property
    def mean_pd(self) -> float:
        n = self.accounts
        return self.pd_sum / n if n else 0.0


@dataclass
class PortfolioBook:
    """Segment sums, monthly transitions and vintages of one partition."""

    segments: dict[str, Segment] = field(default_factory=lambda: defaultdict(Segment))
    transitions: dict[int, dict[str, int]] = field(default_factory=dict)
    vintages: dict[str, dict[str, Any]] = field(default_factory=dict)
    drawdowns: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    #: counts changes of the transitions, vintages and drawdowns (what the accounts' own
    #: contributions cannot rebuild), so the tracker saves the book only when it changed
    changes: int = 0

    def apply(self, move: Move) -> None:
        """Take an account product's old contribution out and its new one in."""
        for contribution, sign in ((move.old, -1), (move.new, 1)):
            if contribution is None:
                continue
            seg = self.segments[segment(move.product, contribution.region)]
            seg.counts[contribution.bucket] += sign
            seg.balances[contribution.bucket] += sign * contribution.balance
            seg.expected_loss += sign * contribution.expected_loss
            seg.pd_sum += sign * contribution.pd
            seg.limit += sign * contribution.limit

    def transition(self, month: int, product: str, region: str, old: str, new: str) -> None:
        """An account product went from bucket ``old`` at the start of ``month`` to ``new``."""
        self.changes += 1
        counts = self.transitions.setdefault(month, {})
        key = f"{segment(product, region)}|{old}|{new}"
        counts[key] = counts.get(key, 0) + 1
        for stale in sorted(self.transitions)[:-_MONTHS_KEPT]:
            del self.transitions[stale]

    def opened(self, product: str, month: int) -> None:
        """An account product opened in ``month`` (a new member of its vintage)."""
        self.changes += 1
        vintage = self.vintages.setdefault(f"{product}|{month_name(month)}", {"n": 0, "bad": {}})
        vintage["n"] += 1

    def went_bad(self, product: str, opened_month: int, months_on_book: int) -> None:
        """An account product first reached 30+ DPD ``months_on_book`` after opening."""
        vintage = self.vintages.setdefault(
            f"{product}|{month_name(opened_month)}", {"n": 0, "bad": {}}
        )
        self.changes += 1
        key = str(months_on_book)
        vintage["bad"][key] = vintage["bad"].get(key, 0) + 1

    def drew(self, product: str, region: str, amount: float) -> None:
        """A drawdown (cash-loan growth), summed per segment until the day closes."""
        self.changes += 1
        self.drawdowns[segment(product, region)] += amount

    def copy(self) -> PortfolioBook:
        """An independent copy of the book as it stands."""
        out = PortfolioBook()
        for key, seg in self.segments.items():
            out.segments[key] = Segment(
                dict(seg.counts), dict(seg.balances), seg.expected_loss, seg.pd_sum, seg.limit
            )
        out.transitions = {month: dict(counts) for month, counts in self.transitions.items()}
        out.vintages = {
            key: {"n": vintage["n"], "bad": dict(vintage["bad"])}
            for key, vintage in self.vintages.items()
        }
        out.drawdowns.update(self.drawdowns)
        return out

    @classmethod
    def merged(cls, books: list[PortfolioBook]) -> PortfolioBook:
        """One book summing several (the partitions a worker holds)."""
        total = cls()
        for book in books:
            for key, seg in book.segments.items():
                into = total.segments[key]
                for bucket in seg.counts:
                    into.counts[bucket] += seg.counts[bucket]
                    into.balances[bucket] += seg.balances[bucket]
                into.expected_loss += seg.expected_loss
                into.pd_sum += seg.pd_sum
                into.limit += seg.limit
            for month, counts in book.transitions.items():
                into_month = total.transitions.setdefault(month, {})
                for key, n in counts.items():
                    into_month[key] = into_month.get(key, 0) + n
            for key, vintage in book.vintages.items():
                into_v = total.vintages.setdefault(key, {"n": 0, "bad": {}})
                into_v["n"] += vintage["n"]
                for mob, n in vintage["bad"].items():
                    into_v["bad"][mob] = into_v["bad"].get(mob, 0) + n
        return total

    # -- reports --------------------------------------------------------------------------
    def roll_rates(self, month: int | None = None) -> dict[str, dict[str, dict[str, float]]]:
        """Per segment, the share of accounts in each bucket moving to each bucket."""
        months = sorted(self.transitions)
        if not months:
            return {}
        counts = self.transitions[months[-1] if month is None else month]
        totals: dict[str, int] = defaultdict(int)
        for key, n in counts.items():
            product, region, old, _ = key.split("|")
            totals[f"{product}|{region}|{old}"] += n
        out: dict[str, dict[str, dict[str, float]]] = {}
        for key, n in counts.items():
            product, region, old, new = key.split("|")
            share = n / totals[f"{product}|{region}|{old}"]
            out.setdefault(segment(product, region), {}).setdefault(old, {})[new] = round(share, 4)
        return out

    def vintage_curves(self) -> dict[str, list[float]]:
        """Cumulative share of each vintage that reached 30+ DPD, by month on book."""
        curves = {}
        for key, vintage in sorted(self.vintages.items()):
            if not vintage["n"]:
                continue
            horizon = max((int(m) for m in vintage["bad"]), default=-1) + 1
            running, curve = 0, []
            for mob in range(horizon):
                running += vintage["bad"].get(str(mob), 0)
                curve.append(round(running / vintage["n"], 4))
            curves[key] = curve
        return curves

    def summary(self) -> dict[str, Any]:
        """Segment figures as plain data (for the web API and metrics)."""
        return {
            key: {
                "accounts": seg.accounts,
                "counts": dict(seg.counts),
                "balances": {b: round(v, 2) for b, v in seg.balances.items()},
                "rate_30_plus": round(seg.rate_30_plus, 5),
                "expected_loss": round(seg.expected_loss, 2),
                "mean_pd": round(seg.mean_pd, 5),
                "limit": round(seg.limit, 2),
            }
            for key, seg in sorted(self.segments.items())
        }
