import random

import pytest
from prometheus_client import CollectorRegistry

from monitor.core.models import ModelBook
from monitor.metrics import Metrics

pytestmark = pytest.mark.unit


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
        auc = registry.get_sample_value("monitor_model_roc_auc", {"role": role})
        assert auc is not None and auc > 0.7
        assert registry.get_sample_value("monitor_model_log_loss", {"role": role}) > 0
        assert 0 < registry.get_sample_value("monitor_model_brier_score", {"role": role}) < 0.25
    active = {
        role: registry.get_sample_value("monitor_model_active", {"role": role})
        for role in ("scorecard", "champion", "challenger")
    }
    assert sum(active.values()) == 1
    top = registry.get_sample_value(
        "monitor_model_calibration", {"role": "champion", "decile": "10", "kind": "observed"}
    )
    low = registry.get_sample_value(
        "monitor_model_calibration", {"role": "champion", "decile": "1", "kind": "observed"}
    )
    assert top > low


def test_the_schedule_counts_are_exported_from_the_engine_at_scrape_time() -> None:
    from monitor.core.engine import Engine
    from monitor.core.store import MemoryStore
    from monitor.metrics import PortfolioView
    from tests.unit.core.helpers import bill, opened, pay

    registry = CollectorRegistry()
    metrics = Metrics(registry)
    engine = Engine(MemoryStore())
    metrics.portfolio_view = lambda: PortfolioView(schedule=engine.schedule.counts())
    assert registry.get_sample_value("monitor_learner_outcomes_total") == 0
    engine.process(opened("a", "2026-01-01"))
    engine.process(bill("a", "2026-01-05", "b1", 900.0, "2026-01-15"))
    engine.process(pay("a", "2026-01-10", 900.0, "b1"))
    engine.process(pay("a", "2026-04-10", 1.0))  # the snapshots' horizons have passed
    learnt = registry.get_sample_value("monitor_learner_outcomes_total")
    assert learnt is not None and learnt == engine.schedule.learner.learnt > 0
    closed = registry.get_sample_value("monitor_learner_closed_day_seconds")
    assert closed == 20_553 * 86400  # 2026-04-10 begins: every day before it is learnt
    assert registry.get_sample_value("monitor_schedule_early_scorings_total") == 0
