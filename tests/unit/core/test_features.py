import pytest

from monitor.core import features as ft
from monitor.core.engine import Engine
from monitor.core.events import Event
from monitor.core.store import MemoryStore
from monitor.core.timeutil import parse_date
from tests.unit.core.helpers import bill, drawdown, macro, opened, pay


def features_after(events: list[Event], day: str) -> dict[str, float]:
    engine = Engine(MemoryStore())
    for e in events:
        engine.process(e)
    # the stream's clock reaches ``day`` (an event of another region), firing due timers
    engine.process(macro(f"{day}T00:00:00Z", region="elsewhere", value=1.0))
    state = engine.store.get(events[0].account_id)
    assert state is not None
    return ft.as_dict(ft.vector(state, parse_date(day), engine.macro(0)))


def test_payment_history_shares_and_ratios() -> None:
    events = [
        opened("a", "2026-01-01", limit=1000.0),
        bill("a", "2026-01-05", "b1", 500.0, "2026-01-20"),
        pay("a", "2026-01-19", 500.0, "b1"),  # full
        bill("a", "2026-02-05", "b2", 400.0, "2026-02-20"),
        pay("a", "2026-02-19", 40.0, "b2"),  # minimum only
        bill("a", "2026-03-05", "b3", 300.0, "2026-03-20"),  # missed
    ]
    x = features_after(events, "2026-03-25")
    assert x["share_paid_full"] == pytest.approx(1 / 3)
    assert x["share_minimum_only"] == pytest.approx(1 / 3)
    assert x["share_missed"] == pytest.approx(1 / 3)
    assert x["pay_to_due_ratio"] == pytest.approx((1.0 + 0.1 + 0.0) / 3)
    assert x["consecutive_misses"] == 1
    assert x["dpd"] == 5
    assert x["days_since_payment"] == parse_date("2026-03-25") - parse_date("2026-02-19")
    # unpaid: 360 of b2 and 300 of b3 against a limit of 1000
    assert x["utilisation"] == pytest.approx(0.66)


def test_borrowing_to_repay_counts_drawdowns_just_before_a_credit_pay_due_date() -> None:
    events = [
        opened("a", "2026-01-01"),
        opened("a", "2026-01-01", product="cash_loan", limit=5000.0),
        bill("a", "2026-01-05", "b1", 800.0, "2026-01-20"),
        drawdown("a", "2026-01-17", "L1", 800.0, instalments=6),
        pay("a", "2026-01-18", 800.0, "b1"),
        # nothing due soon: not borrowing to repay
        drawdown("a", "2026-02-01", "L2", 100.0, instalments=3),
    ]
    x = features_after(events, "2026-02-02")
    assert x["borrow_to_repay_90d"] == 1
    assert x["active_products"] == 2
    assert x["cash_loan_utilisation"] == pytest.approx(900.0 / 5000.0)
    assert features_after(events, "2026-05-01")["borrow_to_repay_90d"] == 0


def test_macro_change_is_joined_by_region() -> None:
    events = [opened("a", "2026-01-01", region="south")]
    for i, value in enumerate((5.0, 5.0, 5.0, 8.0)):
        events.append(macro(f"2026-01-0{i + 2}", region="south", value=value))
    x = features_after(events, "2026-01-10")
    assert x["macro_unemployment"] == 8.0
    assert x["macro_unemployment_change"] == pytest.approx(3.0)


def test_vector_has_one_value_per_feature_name() -> None:
    x = features_after([opened("a", "2026-01-01")], "2026-01-02")
    assert list(x) == list(ft.FEATURE_NAMES)


def test_last_payment_and_statement_over_the_limit() -> None:
    from monitor.core import ledger as lg
    from monitor.core.macro import MacroBook

    engine = Engine(MemoryStore())
    for event in (
        opened("a", "2026-01-01", limit=1000.0),
        bill("a", "2026-01-05", "b1", 400.0, "2026-01-15"),
        pay("a", "2026-01-14", 400.0, "b1"),
        bill("a", "2026-02-05", "b2", 800.0, "2026-02-15"),
        pay("a", "2026-02-14", 200.0, "b2"),
    ):
        engine.process(event)
    state = engine.store.get("a")
    assert state is not None
    day = parse_date("2026-02-20")  # b2 fell due with a quarter of it paid
    lg.settle(state.products["credit_pay"], day)
    x = ft.as_dict(ft.vector(state, day, MacroBook()))
    assert x["last_pay_ratio"] == pytest.approx(0.25)
    assert x["pay_to_due_ratio"] == pytest.approx((1.0 + 0.25) / 2)
    assert x["statement_utilisation"] == pytest.approx(0.8)
