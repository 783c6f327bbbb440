"""Portfolio early warning, once per event-time day: drift and shocks per segment, reserves
against expected loss, over-lending, and the champion model's own performance.

Alerts follow the borrower policy's rules against storms: one open alert per kind and segment,
resolved when the condition has been gone for ``clear_after_days``.

A change of the model that scores is not a change of the book: when another model scores (the
online champion taking over from the scorecard, or falling back), each segment's mean-PD
detector starts afresh, so PD is only ever compared within one model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from river import drift

from monitor.core.alerts import portfolio_alert
from monitor.core.drift import SegmentWatch
from monitor.core.macro import MacroBook
from monitor.core.portfolio import PortfolioBook
from monitor.core.timeutil import DAY


@dataclass(frozen=True)
class WatchConfig:
    """Thresholds of the portfolio alerts."""

    reserve: float = 0.0  # reserve of the whole portfolio; 0 switches coverage alerts off
    partitions: int = 1  # input partitions the portfolio is spread over
    coverage_min: float = 1.2  # alert when reserve / expected loss falls below this
    projection_days: int = 30  # ... or is projected to within this many days at the trend
    limit_growth: float = 0.15  # over-lending: 30-day growth of limits per account above this,
    drawdown_growth: float = 1.0  # ... or of drawdowns (a small book's drawdowns are noisy),
    pd_growth: float = 0.10  # ... while the mean PD grew by more than this (relative)
    clear_after_days: int = 14
    auc_floor: float = 0.75  # model drift: the rolling AUC fell (Page-Hinkley) and is below this
    min_segment: int = 100  # accounts a segment needs to be watched


@dataclass
class PortfolioWatch:
    """Detectors and open portfolio alerts of the portfolio."""

    config: WatchConfig = field(default_factory=WatchConfig)
    segments: dict[str, SegmentWatch] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)  # per day, product totals
    open: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> alert
    last_seen: dict[str, int] = field(default_factory=dict)  # key -> last day condition held
    model: Any = field(
        default_factory=lambda: drift.PageHinkley(
            min_instances=10, delta=0.005, threshold=0.15, mode="down"
        )
    )
    day: int = -1
    streamed_reserve: float | None = None  # the latest reserve_updated amount (whole portfolio)
    scoring_model: str | None = None  # the model that scored the last day closed
    share: float = 1.0  # the part of the portfolio the last day's book held

    def close_day(
        self,
        day: int,
        book: PortfolioBook,
        macro: MacroBook,
        model_auc: float | None,
        model: str | None = None,
        share: float = 1.0,
    ) -> list[dict[str, Any]]:
        """Readings of ``day`` (the book as it stands at its end); the alerts they raise.

        ``model`` names the model that scored the day; ``share`` is the part of the portfolio
        ``book`` holds (of the reserve it is compared with)."""
        self.day = day
        self.share = share
        if model is not None:
            if getattr(self, "scoring_model", None) not in (None, model):
                for watch in self.segments.values():
                    watch.restart("mean_pd")
            self.scoring_model = model
        alerts: list[dict[str, Any]] = []
        products: dict[str, list[Any]] = {}
        for key, seg in book.segments.items():
            products.setdefault(key.split("|")[0], []).append((key, seg))
        totals: dict[str, float] = {}
        for product, members in products.items():
            n = sum(seg.accounts for _, seg in members) or 1
            past_due = sum(seg.accounts * seg.rate_past_due for _, seg in members) / n
            mean_pd = sum(seg.pd_sum for _, seg in members) / n
            totals[f"{product}|limit"] = sum(seg.limit for _, seg in members)
            totals[f"{product}|accounts"] = float(sum(seg.accounts for _, seg in members))
            totals[f"{product}|mean_pd"] = mean_pd
            totals[f"{product}|el"] = sum(seg.expected_loss for _, seg in members)
            totals[f"{product}|drawn"] = book.drawdowns.pop(f"{product}|", 0.0) + sum(
                book.drawdowns.pop(key, 0.0) for key, _ in members
            )
            for key, seg in members:
                if seg.accounts < self.config.min_segment:
                    continue  # too small to say anything
                region = key.split("|")[1]
                readings = {
                    "past_due_rate": seg.rate_past_due - past_due,
                    "mean_pd": seg.mean_pd - mean_pd,
                    "unemployment": macro.level(region),
                }
                watch = self.segments.setdefault(key, SegmentWatch())
                for change in watch.update(day, readings):
                    alerts += self._raise("segment_drift", product, region, day, change, seg)
                if any(series.holding for series in watch.series.values()):
                    self.last_seen[f"segment_drift|{product}|{region}"] = day
        self.history = [*self.history, totals][-90:]
        alerts += self._reserves(day, totals)
        alerts += self._over_lending(day, products)
        if model_auc is not None:
            self.model.update(model_auc)
            if self.model.drift_detected and model_auc < self.config.auc_floor:
                alerts += self._raise(
                    "model_drift",
                    "all",
                    "all",
                    day,
                    {
                        "series": "rolling_auc",
                        "size": model_auc,
                        "started": day,
                        "value": model_auc,
                    },
                    None,
                )
        alerts += self._clear(day)
        return alerts

    # -- conditions -----------------------------------------------------------------------
    def _reserves(self, day: int, totals: dict[str, float]) -> list[dict[str, Any]]:
        reserve = self.config.reserve
        if self.streamed_reserve is not None:
            reserve = self.streamed_reserve
        reserve *= getattr(self, "share", 1.0)
        if reserve <= 0 or len(self.history) < 2:
            return []
        el = sum(v for k, v in totals.items() if k.endswith("|el"))
        coverage = reserve / el if el > 0 else float("inf")
        back = self.history[-min(len(self.history), 15)]
        el_before = sum(v for k, v in back.items() if k.endswith("|el"))
        days = min(len(self.history) - 1, 14) or 1
        slope = (el - el_before) / days
        projected = reserve / (el + slope * self.config.projection_days) if el > 0 else coverage
        if coverage >= self.config.coverage_min and (
            slope <= 0 or projected >= self.config.coverage_min
        ):
            return []
        change = {
            "series": "reserve_coverage",
            "size": round(coverage, 3),
            "started": day,
            "value": round(coverage, 3),
            "projected": round(projected, 3),
            "expected_loss": round(el, 2),
        }
        return self._raise("reserve_coverage", "all", "all", day, change, None)

    def _over_lending(self, day: int, products: dict[str, Any]) -> list[dict[str, Any]]:
        if len(self.history) < 90:
            return []  # the book must have settled for 60 days before a 30-day comparison
        now, then = self.history[-1], self.history[-31]
        growths = lending_growth(self.history)
        alerts = []
        for product in products:
            growth = growths.get(product)
            if growth is None:
                continue
            accounts_now = now.get(f"{product}|accounts", 0.0)
            accounts_then = then.get(f"{product}|accounts", 0.0)
            if accounts_then < 2 * self.config.min_segment or accounts_now / accounts_then > 1.1:
                continue  # still filling up: growth of a young book says nothing
            lending = growth["limit_per_account"] > self.config.limit_growth or (
                growth["drawdowns"] > self.config.drawdown_growth
            )
            if lending and (growth["mean_pd"] > self.config.pd_growth):
                change = {
                    "series": "limit_growth",
                    "size": round(max(growth["limit_per_account"], growth["drawdowns"]), 4),
                    "started": day - 30,
                    "value": round(growth["mean_pd"], 4),
                }
                alerts += self._raise("over_lending", product, "all", day, change, None)
        return alerts

    def _raise(
        self, kind: str, product: str, region: str, day: int, change: dict[str, Any], seg: Any
    ) -> list[dict[str, Any]]:
        # one open alert per kind and segment: a second series drifting in a segment already
        # alerted keeps that alert open instead of raising another with the same start
        key = f"{kind}|{product}|{region}"
        self.last_seen[key] = day
        if key in self.open:
            return []
        alert = portfolio_alert(
            kind=kind,
            product=product,
            region=region,
            change=change,
            time=(day + 1) * DAY,
            status="firing",
            rate_30_plus=seg.rate_30_plus if seg is not None else None,
        )
        self.open[key] = alert
        return [alert]

    def _clear(self, day: int) -> list[dict[str, Any]]:
        resolved = []
        for key, alert in list(self.open.items()):
            if day - self.last_seen.get(key, day) >= self.config.clear_after_days:
                del self.open[key]
                resolved.append(dict(alert, status="resolved", event_time=_iso((day + 1) * DAY)))
        return resolved


def lending_growth(history: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per product, the 30-day growth (relative) of limits per account, of drawdowns (the last
    30 days' sum against the 30 before) and of mean PD, from daily product totals; empty before
    31 days. Drawdown growth is 0 unless both windows drew something.

    >>> day = {"cash|limit": 1000.0, "cash|accounts": 10.0, "cash|mean_pd": 0.1, "cash|drawn": 1.0}
    >>> later = dict(day, **{"cash|limit": 1200.0, "cash|mean_pd": 0.12})
    >>> {k: round(v, 2) for k, v in lending_growth([day] * 60 + [later])["cash"].items()}
    {'limit_per_account': 0.2, 'drawdowns': 0.0, 'mean_pd': 0.2}
    """
    if len(history) < 31:
        return {}
    now, then = history[-1], history[-31]
    out = {}
    for key in now:
        if not key.endswith("|limit"):
            continue
        product = key.removesuffix("|limit")
        limit_then = then.get(f"{product}|limit", 0.0)
        pd_then = then.get(f"{product}|mean_pd", 0.0)
        accounts_now = now.get(f"{product}|accounts", 0.0)
        accounts_then = then.get(f"{product}|accounts", 0.0)
        if limit_then <= 0 or pd_then <= 0 or accounts_now <= 0 or accounts_then <= 0:
            continue
        growth = (now[key] / accounts_now) / (limit_then / accounts_then) - 1
        drawn_now = sum(h.get(f"{product}|drawn", 0.0) for h in history[-30:])
        drawn_then = sum(h.get(f"{product}|drawn", 0.0) for h in history[-60:-30])
        drawn = drawn_now / drawn_then - 1 if drawn_then > 0 and drawn_now > 0 else 0.0
        out[product] = {
            "limit_per_account": growth,
            "drawdowns": drawn,
            "mean_pd": now.get(f"{product}|mean_pd", 0.0) / pd_then - 1,
        }
    return out


def _iso(ts: float) -> str:
    from monitor.core.timeutil import iso_time

    return iso_time(ts)
