import random

import pytest

from monitor.core.macro import MacroBook
from monitor.core.portfolio import Contribution, Move, PortfolioBook
from monitor.core.portfolio_watch import PortfolioWatch, WatchConfig

REGIONS = ("north", "south", "east", "west")


def _book(past_due: dict[str, int], n: int = 400, pd: float = 0.03) -> PortfolioBook:
    book = PortfolioBook()
    for region in REGIONS:
        late = past_due.get(region, 20)
        for i in range(n):
            bucket = "1-29" if i < late else "current"
            book.apply(
                Move(
                    "credit_pay",
                    None,
                    Contribution(region, bucket, 500.0, pd * 500 * 0.8, pd, 1000.0),
                )
            )
    return book


def _run(days: int, shock_day: int | None, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    watch, macro, alerts = PortfolioWatch(), MacroBook(), []
    for day in range(days):
        late = {r: 20 + rng.randint(-4, 4) for r in REGIONS}
        if shock_day is not None and day >= shock_day:
            late["north"] += min(4 * (day - shock_day), 60)  # a rising share past due
        alerts += watch.close_day(day, _book(late), macro, None)
    return alerts


def test_a_regional_rise_in_past_due_raises_one_segment_alert_with_its_start() -> None:
    alerts = [a for a in _run(120, shock_day=60) if a["status"] == "firing"]
    assert [(a["kind"], a["region"]) for a in alerts] == [("segment_drift", "north")]
    alert = alerts[0]
    assert alert["series"] == "past_due_rate" and alert["change"] > 0
    assert "1970-03-02" <= alert["started_at"][:10] <= "1970-03-06"  # day 60 is 1970-03-02
    assert alert["event_time"][:10] <= "1970-03-16"  # within 14 days


def test_noise_alone_raises_nothing() -> None:
    assert _run(365, shock_day=None) == []


def test_reserve_coverage_alert_when_expected_loss_outgrows_the_reserve() -> None:
    watch = PortfolioWatch(WatchConfig(reserve=1000.0, coverage_min=1.2))
    alerts = []
    for day in range(40):
        pd = 0.01 + 0.001 * day  # expected loss grows every day
        alerts += watch.close_day(day, _book({}, n=100, pd=pd), MacroBook(), None)
    kinds = [a["kind"] for a in alerts if a["status"] == "firing"]
    assert kinds == ["reserve_coverage"]


def test_a_streamed_reserve_replaces_the_configured_one() -> None:
    from monitor.core.engine import Engine, EngineConfig
    from monitor.core.store import MemoryStore
    from tests.unit.core.helpers import bill, ev, macro, opened

    engine = Engine(MemoryStore(), config=EngineConfig(watch=WatchConfig(reserve=10**9)))
    alerts = []
    stream = [opened(f"a{i}", "2026-01-01", limit=5000.0) for i in range(5)]
    stream += [bill(f"a{i}", "2026-01-02", f"b{i}", 4000.0, "2026-01-20") for i in range(5)]
    stream += [ev("reserve_updated", "2026-01-03", amount=1.0)]
    stream += [macro(f"2026-01-{d:02d}") for d in range(4, 12)]
    for e in stream:
        alerts += engine.process(e).alerts
    assert [a["kind"] for a in alerts if a["status"] == "firing"] == ["reserve_coverage"]


def _lending(days: int, grow_from: int, pd_growth: float) -> list[dict]:
    watch, alerts = PortfolioWatch(), []
    for day in range(days):
        grown = day >= grow_from
        book = PortfolioBook()
        pd = 0.03 * (1 + pd_growth) if grown else 0.03
        for region in REGIONS:
            for _ in range(100):
                contribution = Contribution(
                    region, "current", 500.0, pd * 400, pd, 1300.0 if grown else 1000.0
                )
                book.apply(Move("credit_pay", None, contribution))
        alerts += watch.close_day(day, book, MacroBook(), None)
    return [a for a in alerts if a["status"] == "firing"]


def test_limits_growing_with_mean_pd_raise_over_lending_and_without_it_nothing() -> None:
    alerts = _lending(120, grow_from=100, pd_growth=0.3)
    assert [(a["kind"], a["product"]) for a in alerts] == [("over_lending", "credit_pay")]
    assert alerts[0]["change"] == pytest.approx(0.3)
    assert _lending(120, grow_from=100, pd_growth=0.0) == []


def test_lending_growth_reads_the_daily_totals_the_alert_reads() -> None:
    from monitor.core.portfolio_watch import lending_growth

    watch = PortfolioWatch()
    for day in range(40):
        book = PortfolioBook()
        grown = day >= 35
        for _ in range(10):
            book.apply(
                Move(
                    "cash_loan",
                    None,
                    Contribution("north", "current", 1.0, 0.1, 0.1, 200.0 if grown else 100.0),
                )
            )
        book.drew("cash_loan", "north", 5.0)
        watch.close_day(day, book, MacroBook(), None)
    growth = lending_growth(watch.history)["cash_loan"]
    assert growth["limit_per_account"] == pytest.approx(1.0)
    assert growth["mean_pd"] == pytest.approx(0.0)
    assert growth["drawdowns"] == pytest.approx(30 / 10 - 1)  # 30 days against the 10 before


def _pd_book(pds: dict[str, float], n: int = 200) -> PortfolioBook:
    book = PortfolioBook()
    for region in REGIONS:
        pd = pds.get(region, 0.03)
        for _ in range(n):
            book.apply(
                Move("cash_loan", None, Contribution(region, "current", 500.0, pd * 400, pd, 0.0))
            )
    return book


def _pd_run(models: list[str]) -> list[dict]:
    """A second model scores from day 60 on and ranks the east higher than the first did."""
    watch, alerts = PortfolioWatch(), []
    for day in range(120):
        pds = {"east": 0.08} if day >= 60 else {}
        alerts += watch.close_day(day, _pd_book(pds), MacroBook(), None, models[day >= 60])
    return [a for a in alerts if a["status"] == "firing"]


def test_a_change_of_model_does_not_read_as_a_change_of_the_book() -> None:
    # the same step in the east's mean PD under one model is a drift ...
    same = _pd_run(["online-logistic", "online-logistic"])
    assert [(a["kind"], a["region"], a["series"]) for a in same] == [
        ("segment_drift", "east", "mean_pd")
    ]
    # ... but when it comes with the champion taking over, PD is compared within the new model
    assert _pd_run(["scorecard", "online-logistic"]) == []


def test_two_series_drifting_in_one_segment_raise_one_alert() -> None:
    """The share past due and the mean PD of the east step up on the same day: one segment
    drift alert for the segment (both would share its kind, segment and start)."""
    watch, alerts = PortfolioWatch(), []
    for day in range(120):
        book = PortfolioBook()
        for region in REGIONS:
            shocked = region == "east" and day >= 60
            for n in range(200):
                late = shocked and n < 40
                pd = 0.08 if shocked else 0.03
                bucket = "1-29" if late else "current"
                book.apply(
                    Move("cash_loan", None, Contribution(region, bucket, 500.0, pd * 400, pd, 0.0))
                )
        alerts += watch.close_day(day, book, MacroBook(), None, "online-logistic")
    firing = [(a["kind"], a["region"]) for a in alerts if a["status"] == "firing"]
    assert firing == [("segment_drift", "east")]
    ids = [(a["alert_id"], a["status"]) for a in alerts]
    assert len(ids) == len(set(ids))
