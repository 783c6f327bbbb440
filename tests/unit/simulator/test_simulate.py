"""The simulator: deterministic, valid under the contract, truthful about delinquency."""

from __future__ import annotations

from collections import Counter, defaultdict

import orjson
import pytest
from jsonschema import Draft202012Validator

from monitor import contracts
from monitor.offline.backtest import replay_lines
from monitor.simulator import SimConfig, Simulation, simulate


@pytest.fixture(scope="module")
def baseline() -> Simulation:
    return simulate(SimConfig(accounts=600, days=150, seed=3))


@pytest.fixture(scope="module")
def shocked() -> Simulation:
    return simulate(SimConfig(accounts=1500, days=180, seed=3, scenario="macro-shock"))


def test_same_seed_same_stream_other_seed_other_stream(baseline: Simulation) -> None:
    again = simulate(SimConfig(accounts=600, days=150, seed=3))
    assert again.events == baseline.events and again.truth == baseline.truth
    other = simulate(SimConfig(accounts=600, days=150, seed=4))
    assert other.events != baseline.events


def test_every_event_follows_the_contract_and_time_order(baseline: Simulation) -> None:
    validator = Draft202012Validator(contracts.load("repayment-event"))
    for event in baseline.events:
        validator.validate(event)
    times = [e["event_time"] for e in baseline.events]
    assert times == sorted(times)
    assert len({e["event_id"] for e in baseline.events}) == len(baseline.events)


def test_the_stream_has_every_behaviour(baseline: Simulation) -> None:
    kinds = Counter(e["type"] for e in baseline.events)
    assert {
        "account_opened",
        "bill_issued",
        "payment",
        "drawdown",
        "credit_limit_changed",
        "macro_indicator",
    } <= set(kinds)
    products = Counter(e.get("product") for e in baseline.events if e["type"] == "bill_issued")
    assert products["credit_pay"] and products["cash_loan"]


def test_truth_agrees_with_the_core_on_who_reaches_30_days_past_due(baseline: Simulation) -> None:
    run = replay_lines([orjson.dumps(e) for e in baseline.events])
    core = {s.account_id for s in run.engine.store.states() if s.ever_delinquent}
    truth = {row.account_id for row in baseline.truth if row.label}
    assert truth, "some accounts go delinquent"
    assert core == truth


def test_baseline_delinquency_is_plausible(baseline: Simulation) -> None:
    rate = sum(row.label for row in baseline.truth) / len(baseline.truth)
    assert 0.01 <= rate <= 0.08


def test_macro_shock_hits_its_region_after_the_shock(shocked: Simulation) -> None:
    region = {e["account_id"]: e["region"] for e in shocked.events if e["type"] == "account_opened"}
    start = shocked.scenario["shock_start"]
    late: defaultdict[str, int] = defaultdict(int)
    size = Counter(region.values())
    for row in shocked.truth:
        if row.label and row.delinquent_at > start:
            late[region[row.account_id]] += 1
    hit = shocked.scenario["shock_region"]
    others = [late[r] / size[r] for r in size if r != hit]
    assert late[hit] / size[hit] > 1.8 * max(others)


def test_borrowing_to_repay_happens(shocked: Simulation) -> None:
    draws = [e for e in shocked.events if e["type"] == "drawdown" and "-C" in e["loan_id"]]
    assert len(draws) >= 5


def test_unknown_scenario_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'boom': choose one of baseline"):
        simulate(SimConfig(scenario="boom"))
