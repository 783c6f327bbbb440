from prometheus_client import CollectorRegistry

from monitor.core.portfolio import Contribution, Move, PortfolioBook
from monitor.metrics import Metrics, PortfolioView
from monitor.worker.status import PAGE, RECENT_ALERTS, StatusBoard


def test_state_reports_buckets_rates_tiers_and_newest_alerts_first() -> None:
    metrics = Metrics(CollectorRegistry())
    board = StatusBoard(metrics)

    def opened(region: str, bucket: str) -> Move:
        return Move("credit_pay", None, Contribution(region, bucket, 100.0, 1.0, 0.01, 1000.0))

    moves = [opened("north", "current")] * 5 + [opened("south", "current")] * 3
    moves += [opened("north", "30-59")] * 2
    book = PortfolioBook()
    for move in moves:
        book.apply(move)
    metrics.portfolio_view = lambda: PortfolioView(book, [], {"low": 1, "critical": 1})
    metrics.events.labels(type="payment", outcome="ok").inc(10)
    metrics.events.labels(type="unknown", outcome="invalid").inc(2)
    metrics.event_lag.set(1_767_225_600)
    for i in range(RECENT_ALERTS + 5):
        board.add_alert({"alert_id": str(i), "kind": "borrower_risk"})
    board.add_alert({"alert_id": "p1", "kind": "segment_drift", "status": "firing"})
    board.add_alert({"alert_id": "p2", "kind": "segment_drift", "status": "firing"})
    board.add_alert({"alert_id": "p1", "kind": "segment_drift", "status": "resolved"})
    state = board.state("scorecard@0", 0)
    assert state["portfolio"]["buckets"]["credit_pay"] == {"current": 8.0, "30-59": 2.0}
    assert state["portfolio"]["rate_30_plus"] == {"credit_pay": 0.2}
    assert state["portfolio"]["tiers"] == {"low": 1.0, "critical": 1.0}
    assert state["pipeline"]["processed"] == 10 and state["pipeline"]["invalid"] == 2
    assert state["event_time"] == "2026-01-01T00:00:00Z"
    assert len(state["alerts"]) == RECENT_ALERTS
    assert state["alerts"][0]["alert_id"] == str(RECENT_ALERTS + 4)
    assert [d["alert_id"] for d in state["drift"]] == ["p2"]


def test_page_reads_the_state_api() -> None:
    assert "fetch('api/state')" in PAGE
