"""Fuzzing the parser and the engine: bad input is refused with a reason, never a crash."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import fastjsonschema
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.core import events
from monitor.core.engine import Engine
from monitor.core.events import Event, InvalidEvent, parse_event
from monitor.core.store import MemoryStore
from monitor.core.vocabulary import ALERT_STATUSES, EVENT_TYPES, INVALID_EVENT_REASONS, PRODUCTS
from tests.unit.core.helpers import raw, raw_bill

pytestmark = pytest.mark.reliability

json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
TEMPLATE = raw_bill("a1", "2026-01-05", "b1", 100.0, "2026-01-20")


def _parse(data: bytes) -> Event | None:
    try:
        return parse_event(data)
    except InvalidEvent as exc:
        assert exc.reason and exc.kind in INVALID_EVENT_REASONS
        return None


@settings(deadline=None)  # a shared, loaded machine is slow, not wrong
@given(st.binary(max_size=2000))
def test_random_bytes_are_refused_with_a_reason(data: bytes) -> None:
    _parse(data)


@settings(deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(TEMPLATE)), json_values, max_size=6))
def test_mutated_events_parse_or_are_refused(changes: dict) -> None:
    # the standard library writes what orjson would refuse (64-bit overflow): the parser must
    # still answer with a reason
    _parse(json.dumps({**TEMPLATE, **changes}).encode())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(EVENT_TYPES),
            st.integers(0, 120),
            st.sampled_from(["a", "b"]),
            st.floats(0.01, 5000),
            st.sampled_from(PRODUCTS),
            st.integers(0, 3),
        ),
        max_size=40,
    )
)
def test_any_sequence_of_valid_events_keeps_the_engine_consistent(
    steps: list[tuple[str, int, str, float, str, int]],
) -> None:
    engine = Engine(MemoryStore())
    import datetime as dt

    for i, (kind, day, account, amount, product, n) in enumerate(sorted(steps, key=lambda s: s[1])):
        date = (dt.date(2026, 1, 1) + dt.timedelta(days=day)).isoformat()
        fields: dict = {"account_id": account, "product": product}
        if kind == "account_opened":
            fields.update(credit_limit=amount, region="north")
        elif kind == "bill_issued":
            due = (dt.date(2026, 1, 1) + dt.timedelta(days=day + 10)).isoformat()
            fields.update(bill_id=f"b{n}", amount_due=amount, minimum_due=amount / 10, due_date=due)
        elif kind == "payment":
            fields.update(amount=amount, bill_id=f"b{n}")
        elif kind == "drawdown":
            fields.update(product="cash_loan", loan_id=f"l{n}", amount=amount, instalments=3)
        elif kind == "credit_limit_changed":
            fields.update(new_limit=amount)
        elif kind == "repayment_plan_changed":
            fields.update(bill_id=f"b{n}", plan="extension", new_due_date=date)
        elif kind == "macro_indicator":
            fields = {"region": "north", "indicator": "unemployment_rate", "value": amount / 500}
        elif kind == "reserve_updated":
            fields = {"amount": amount}
        event = parse_event(orjson.dumps(raw(kind, date, **fields)))
        result = engine.process(event, partition=0, offset=i)
        for alert in result.alerts:
            assert alert["status"] in ALERT_STATUSES
    for state in engine.store.states():
        assert 0.0 <= state.probability <= 1.0
        assert len(state.alerts) <= 1


def _examples() -> list[dict]:
    """One valid event of every type, from the simulator."""
    from monitor import simulator as sim

    found: dict[str, dict] = {}
    for event in sim.simulate(sim.SimConfig(accounts=200, days=120, seed=2)).events:
        found.setdefault(event["type"], event)
    found.setdefault("reserve_updated", raw("reserve_updated", "2026-01-01", amount=5.0))
    found.setdefault(
        "account_closed",
        raw("account_closed", "2026-03-01", account_id="a1", product="cash_loan"),
    )
    return list(found.values())


EXAMPLES = _examples()
TYPES = sorted({e["type"] for e in EXAMPLES} | {"nonsense"})


def _accepts(validator: Callable[[dict[str, Any]], Any], data: dict[str, Any]) -> bool:
    try:
        validator(data)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(EXAMPLES),
    st.dictionaries(
        st.text(max_size=12) | st.sampled_from(sorted(TEMPLATE)), json_values, max_size=4
    ),
    st.none() | st.sampled_from(TYPES),
)
def test_the_per_type_validators_accept_exactly_what_the_whole_schema_accepts(
    example: dict, changes: dict, kind: str | None
) -> None:
    data = {**example, **changes, **({"type": kind} if kind else {})}
    assert _accepts(events._validate, data) == _accepts(events._validate_any, data)


def test_every_example_type_is_covered() -> None:
    assert {e["type"] for e in EXAMPLES} == set(EVENT_TYPES)
    assert all(_accepts(events._validate, e) for e in EXAMPLES)
