import random

import pytest
from prometheus_client import CollectorRegistry

from monitor.core.models import ModelBook
from monitor.core.scoring import OnlineLogistic
from monitor.metrics import Metrics, PortfolioView
from tests.support.metrics import sample


def test_model_quality_gauges_for_every_role() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    book = ModelBook(min_labels=50, min_positives=5)
    rng = random.Random(1)
    for _ in range(400):
        dpd = rng.choice([0.0, 0.0, 0.0, 5.0, 20.0])
        book.learn(
            {"dpd": dpd, "pay_to_due_ratio": 1.0 if dpd == 0 else 0.2},
            rng.random() < (0.6 if dpd >= 20 else 0.02),
        )
    metrics.record_models(book)
    for role in ("scorecard", "champion", "challenger"):
        assert sample(registry, "monitor_model_roc_auc", {"role": role}) > 0.7
        assert sample(registry, "monitor_model_log_loss", {"role": role}) > 0
        assert 0 < sample(registry, "monitor_model_brier_score", {"role": role}) < 0.25
    active = {
        role: sample(registry, "monitor_model_active", {"role": role})
        for role in ("scorecard", "champion", "challenger")
    }
    assert sum(active.values()) == 1
    top = sample(
        registry,
        "monitor_model_calibration",
        {"role": "champion", "decile": "10", "kind": "observed"},
    )
    low = sample(
        registry,
        "monitor_model_calibration",
        {"role": "champion", "decile": "1", "kind": "observed"},
    )
    assert top > low


def test_model_gauges_read_the_live_book_at_every_scrape() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    assert registry.get_sample_value("monitor_model_outcomes_learned") is None  # no book yet
    book = ModelBook(min_labels=5, min_positives=1)
    metrics.record_models(book)
    assert sample(registry, "monitor_model_outcomes_learned") == 0
    assert registry.get_sample_value("monitor_model_brier_score", {"role": "champion"}) is None
    rng = random.Random(4)
    for _ in range(40):  # learnt after the book was handed over: no call sets the gauges
        dpd = rng.choice([0.0, 20.0])
        book.learn({"dpd": dpd}, rng.random() < dpd / 25)
    assert sample(registry, "monitor_model_outcomes_learned") == 40
    recent = list(book.champion.recent)
    expected = sum((p - y) ** 2 for y, p in recent) / len(recent)
    assert sample(registry, "monitor_model_brier_score", {"role": "champion"}) == expected
    # another book (a warm start): the gauges follow it, and the old fallback role is gone
    warm = ModelBook.warm_started(OnlineLogistic(), {"examples": 10})
    metrics.record_models(warm)
    assert sample(registry, "monitor_model_active", {"role": "warm_start"}) == 1
    assert registry.get_sample_value("monitor_model_active", {"role": "scorecard"}) is None
    assert registry.get_sample_value("monitor_model_brier_score", {"role": "champion"}) is None


def test_portfolio_gauges_for_the_dashboards() -> None:
    from monitor.core.macro import MacroBook
    from monitor.core.portfolio import Contribution, Move, PortfolioBook

    registry = CollectorRegistry()
    metrics = Metrics(registry)
    book = PortfolioBook()
    for i in range(4):
        book.apply(
            Move("credit_pay", None, Contribution("north", "current", 100.0, 2.0, 0.1 * i, 1e3))
        )
    book.transition(5, "credit_pay", "north", "current", "current")
    book.transition(6, "credit_pay", "north", "1-29", "current")
    book.transition(6, "credit_pay", "north", "1-29", "30-59")
    book.transition(6, "credit_pay", "north", "1-29", "30-59")
    for month in range(14):
        book.opened("credit_pay", month)
    book.went_bad("credit_pay", 13, 1)
    book.went_bad("credit_pay", 0, 2)  # the oldest vintage is not among the newest 12
    alert = {
        "kind": "reserve_coverage",
        "product": "all",
        "region": "all",
        "series": "reserve_coverage",
        "severity": "critical",
        "action": "increase_reserves",
    }
    view = PortfolioView(book, [alert], {}, 10.0)
    metrics.portfolio_view = lambda: view

    def value(name: str, **labels: str) -> float | None:  # None: no such sample
        return registry.get_sample_value(name, labels)

    assert value("monitor_reserve_amount") == 10.0
    assert value("monitor_mean_pd", product="credit_pay", region="north") == pytest.approx(0.15)
    seg = {"product": "credit_pay", "region": "north"}
    assert value("monitor_roll_accounts", **seg, from_bucket="1-29", to_bucket="30-59") == 2
    assert value("monitor_roll_accounts", **seg, from_bucket="current", to_bucket="current") is None
    assert value("monitor_vintage_accounts", product="credit_pay", vintage="1971-02") == 1
    assert value("monitor_vintage_accounts", product="credit_pay", vintage="1970-01") is None
    cumulative = [
        value(
            "monitor_vintage_30plus_accounts",
            product="credit_pay",
            vintage="1971-02",
            months_on_book=str(m),
        )
        for m in range(3)
    ]
    assert cumulative == [0, 1, None]
    assert value("monitor_portfolio_alert_open", **alert) == 1
    view.open_alerts = []
    assert value("monitor_portfolio_alert_open", **alert) is None  # closed alerts leave the table

    macro = MacroBook()
    macro.update("north", "unemployment_rate", 5.5)
    metrics.record_macro(macro)
    assert value("monitor_macro_indicator", region="north", indicator="unemployment_rate") == 5.5

    metrics.saw_event(3, 200.0)
    metrics.saw_event(3, 100.0)  # a late event does not move the newest event time back
    assert value("monitor_partition_event_time_seconds", partition="3") == 200.0

    day = {"c|limit": 100.0, "c|accounts": 1.0, "c|mean_pd": 0.1, "c|drawn": 0.0}
    metrics.record_lending([day] * 30 + [dict(day, **{"c|limit": 150.0})])
    assert value("monitor_lending_growth", product="c", series="limit_per_account") == 0.5


def test_the_schedule_counts_are_exported_from_the_engine_at_scrape_time() -> None:
    from monitor.core.engine import Engine
    from monitor.core.store import MemoryStore
    from monitor.metrics import PortfolioView
    from tests.unit.core.helpers import bill, opened, pay

    registry = CollectorRegistry()
    metrics = Metrics(registry)
    engine = Engine(MemoryStore())
    metrics.portfolio_view = lambda: PortfolioView(schedule=engine.schedule.counts())
    assert sample(registry, "monitor_learner_outcomes_total") == 0
    engine.process(opened("a", "2026-01-01"))
    engine.process(bill("a", "2026-01-05", "b1", 900.0, "2026-01-15"))
    engine.process(pay("a", "2026-01-10", 900.0, "b1"))
    engine.process(pay("a", "2026-04-10", 1.0))  # the snapshots' horizons have passed
    learnt = sample(registry, "monitor_learner_outcomes_total")
    assert learnt is not None and learnt == engine.local.learner.learnt > 0
    closed = sample(registry, "monitor_learner_closed_day_seconds")
    assert closed == 20_553 * 86400  # 2026-04-10 begins: every day before it is learnt
    assert sample(registry, "monitor_schedule_early_scorings_total") == 0
