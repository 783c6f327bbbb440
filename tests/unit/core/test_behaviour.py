"""The behaviour-change detector: unusual cycles score high, it runs once per bill, and its score
reaches the models as a feature and can be an alert reason."""

from __future__ import annotations

import random

import pytest

from monitor.core import behaviour as bh
from monitor.core import features as ft
from monitor.core.engine import Engine
from monitor.core.explain import top_reasons
from monitor.core.models import ModelBook
from monitor.core.state import AccountState
from monitor.core.store import MemoryStore
from tests.unit.core.helpers import bill, opened, pay


def _steady(rng: random.Random) -> dict[str, float]:
    return {
        "paid": 0.66 + rng.uniform(-0.02, 0.0),
        "drop": 0.5 + rng.uniform(-0.03, 0.03),
        "utilisation": rng.uniform(0.1, 0.3),
        "utilisation_change": 0.5 + rng.uniform(-0.05, 0.05),
        "since_payment": rng.uniform(0.15, 0.3),
        "missed": 0.0,
    }


def test_a_break_from_the_usual_scores_higher_than_usual_behaviour() -> None:
    rng = random.Random(3)
    watch = bh.BehaviourWatch(seed=5)
    for _ in range(1500):
        watch.update(_steady(rng))
    usual = [watch.score(_steady(rng)) for _ in range(50)]
    broken = {
        "paid": 0.0,
        "drop": 1.0,
        "utilisation": 0.95,
        "utilisation_change": 0.9,
        "since_payment": 0.7,
        "missed": 1.0,
    }
    assert watch.score(broken) > max(usual)
    assert all(0.0 <= s <= 1.0 for s in usual)


def test_no_score_before_the_trees_have_seen_one_window() -> None:
    watch = bh.BehaviourWatch(window_size=50)
    x = _steady(random.Random(1))
    assert [watch.update(x) for _ in range(50)] == [0.0] * 50
    assert watch.update(x) >= 0.0 and watch.seen == 51


def test_behaviour_of_an_account_follows_its_latest_bill() -> None:
    engine = Engine(MemoryStore())
    for event in (
        opened("a", "2026-01-01"),
        bill("a", "2026-01-05", "b1", 400.0, "2026-01-15"),
        pay("a", "2026-01-14", 400.0, "b1"),
        bill("a", "2026-02-05", "b2", 800.0, "2026-02-15"),
    ):
        engine.process(event)
    state = engine.store.get("a")
    assert state is not None
    before = bh.behaviour(state, 40)
    engine.process(bill("a", "2026-03-05", "b3", 900.0, "2026-03-15"))  # b2 fell due unpaid
    after = bh.behaviour(state, 64)
    assert before["missed"] == 0.0 and before["paid"] == pytest.approx(1.0 / 1.5)
    assert after["missed"] == 1.0 and after["paid"] == 0.0 and after["drop"] == 1.0
    assert all(0.0 <= v <= 1.0 for v in after.values())


def test_the_engine_updates_the_detector_once_per_bill_and_feeds_the_score_to_the_model() -> None:
    book = ModelBook()
    book.behaviour = bh.BehaviourWatch(window_size=10)
    engine = Engine(MemoryStore(), book)
    accounts = [f"a{i}" for i in range(30)]
    for account in accounts:
        engine.process(opened(account, "2026-01-01"))
    for month in (1, 2, 3):
        for account in accounts:
            engine.process(
                bill(account, f"2026-0{month}-05", f"{account}-{month}", 300.0, f"2026-0{month}-15")
            )
            if account != "a0" or month == 1:  # a0 stops paying after its first bill
                engine.process(pay(account, f"2026-0{month}-14", 300.0, f"{account}-{month}"))
    # three bills issued, two of them fallen due per account: one observation each, no more,
    # learnt by the one detector when its day closes (the last day's are still waiting)
    learner = engine.local.learner
    waiting = sum(o.kind == "behaviour" for day in learner.pending.values() for o in day.values())
    assert book.behaviour.seen + waiting == 2 * len(accounts)
    broken, steady = engine.store.get("a0"), engine.store.get("a5")
    assert broken is not None and steady is not None
    assert broken.behaviour > steady.behaviour
    x = ft.as_dict(ft.vector(broken, 70, engine.macro(0)))
    assert x["behaviour_change"] == broken.behaviour
    assert AccountState.from_dict(broken.to_dict()) == broken


def test_the_detector_score_can_be_an_alert_reason() -> None:
    reasons = top_reasons({"behaviour_change": 0.8, "dpd": 0.1}, {"behaviour_change": 0.9}, k=1)
    assert reasons == ["Behaviour changed sharply from the account's own recent pattern."]


def test_state_written_before_the_detector_still_loads() -> None:
    state = AccountState("old")
    data = state.to_dict()
    del data["bh"]
    assert AccountState.from_dict(data).behaviour == 0.0
    short = [1.0] * ft.FEATURE_NAMES.index("behaviour_change")  # as stored before it
    assert ft.as_dict(short)["behaviour_change"] == 0.0
