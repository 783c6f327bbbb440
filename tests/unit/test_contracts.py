"""Every topic contract stays compatible with its released version, and is printed by the CLI."""

from __future__ import annotations

import base64
import copy
import json
import zlib
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from monitor import contracts
from monitor.contracts.compat import breaking_changes
from monitor.core import vocabulary
from monitor.core.actions import ACTIONS

RELEASED = Path(__file__).resolve().parents[1] / "contracts" / "released"


@pytest.mark.parametrize("name", sorted(contracts.SCHEMAS))
def test_contract_is_compatible_with_its_released_version(name: str) -> None:
    file_name = contracts.SCHEMAS[name]
    released = RELEASED / file_name
    assert released.exists(), f"release {file_name} by copying it to {RELEASED}"
    assert breaking_changes(json.loads(released.read_text()), contracts.load(name)) == []


@pytest.mark.parametrize("name", sorted(contracts.SCHEMAS))
def test_contract_is_a_valid_json_schema(name: str) -> None:
    Draft202012Validator.check_schema(contracts.load(name))


def test_the_rule_catches_breaking_edits() -> None:
    old = contracts.load("repayment-event")
    new = copy.deepcopy(old)
    new["properties"]["type"]["enum"].remove("drawdown")
    del new["properties"]["product"]
    new["allOf"][1]["then"]["required"].append("statement_id")
    problems = breaking_changes(old, new)
    assert any("type: enum values removed" in p for p in problems)
    assert any(p.endswith(".product: removed") for p in problems)
    assert any("'statement_id' became required" in p for p in problems)


def test_an_additive_optional_field_is_compatible() -> None:
    old = contracts.load("alert")
    new = copy.deepcopy(old)
    new["properties"]["team"] = {"type": "string"}
    assert breaking_changes(old, new) == []


def test_an_alert_must_name_its_product() -> None:
    """A borrower alert names one of the account's products (its resolution too); a portfolio
    alert names a product or ``all``. An empty product is refused."""
    from jsonschema import ValidationError

    validator = Draft202012Validator(contracts.load("alert"))
    borrower = {
        "schema_version": 1,
        "alert_id": "43d108143645e5726a60dcfe",
        "status": "resolved",
        "kind": "borrower_risk",
        "severity": "warning",
        "account_id": "a-00042",
        "product": "credit_pay",
        "region": "north",
        "probability": 0.01,
        "risk_tier": "low",
        "reasons": ["Account closed."],
        "action": "none",
        "model_version": "scorecard@0",
        "event_time": "2026-01-25T00:00:00Z",
        "opened_at": "2026-01-20T00:00:00Z",
        "trigger_event_ids": ["e9"],
        "days_past_due": 0,
    }
    validator.validate(borrower)
    for product in ("", "all"):
        with pytest.raises(ValidationError):
            validator.validate({**borrower, "product": product})
    portfolio = {
        **{k: borrower[k] for k in ("schema_version", "alert_id", "status", "severity")},
        **{k: borrower[k] for k in ("region", "reasons", "event_time", "opened_at")},
        "kind": "model_drift",
        "product": "all",
        "action": "review_model",
        "segment": "all/all",
        "series": "rolling_auc",
        "change": 0.61,
        "started_at": "2026-01-20T00:00:00Z",
        "summary": "model drift in all/all",
    }
    validator.validate(portfolio)
    with pytest.raises(ValidationError):
        validator.validate({**portfolio, "product": ""})


def _enums(name: str) -> dict[str, set[str]]:
    """Every ``enum`` of a contract's schema, by the property it constrains."""
    found: dict[str, set[str]] = {}

    def walk(node: object, key: str) -> None:
        if isinstance(node, dict):
            if "enum" in node:
                found.setdefault(key, set()).update(node["enum"])
            for k, v in node.items():
                walk(v, key if k in ("properties", "then", "if", "items") else k)
        elif isinstance(node, list):
            for item in node:
                walk(item, key)

    walk(contracts.load(name), "")
    return found


@pytest.mark.parametrize(
    ("name", "field", "words"),
    [
        ("repayment-event", "type", vocabulary.EVENT_TYPES),
        ("repayment-event", "product", vocabulary.PRODUCTS),
        ("account-risk", "product", vocabulary.PRODUCTS),
        ("account-risk", "risk_tier", vocabulary.RISK_TIERS),
        ("account-risk", "action", ACTIONS),
        ("alert", "kind", vocabulary.ALERT_KINDS),
        ("alert", "product", vocabulary.PRODUCTS),
        ("alert", "status", vocabulary.ALERT_STATUSES),
        ("alert", "severity", vocabulary.ALERT_SEVERITIES),
        ("alert", "risk_tier", vocabulary.RISK_TIERS),
        ("dead-letter", "reason_kind", vocabulary.DEAD_LETTER_REASONS),
    ],
)
def test_contracts_list_the_vocabulary(name: str, field: str, words: tuple[str, ...]) -> None:
    """The topic contracts spell the same words as ``monitor.core.vocabulary``, the one place the
    code takes them from."""
    assert _enums(name)[field] == set(words)


def test_the_scorers_outcome_and_clock_records_follow_the_outcomes_contract() -> None:
    from monitor.core.group import clock_record, outcome_record, outcomes_of, outcomes_record
    from monitor.core.schedule import BEHAVIOUR, LABEL, Outcome

    schema = contracts.load("model-outcome")
    validator = Draft202012Validator(schema)
    entry = Draft202012Validator({**schema["$defs"]["outcome"], "$defs": schema["$defs"]})
    label = Outcome(LABEL, 20454, 20400 * 86400.0, "a1", {"dpd": 4.0}, True, 0.25, "m@1", 2, 9)
    cycle = Outcome(BEHAVIOUR, 20453, 20450 * 86400.0, "a1", {"paid": float("nan")}, None, 0, "", 2)
    entries = [outcome_record(label), outcome_record(cycle, "p-3f2a")]
    batch = outcomes_record(2, entries)
    for record in (batch, clock_record(3, 20454)):
        assert list(validator.iter_errors(record)) == []
    assert batch["day"] == 20453 and batch["count"] == 2
    # what the contract says a reader does: base64, then zlib, then a JSON array of outcomes
    inner = json.loads(zlib.decompress(base64.b64decode(batch["outcomes"])))
    assert [list(entry.iter_errors(e)) for e in inner] == [[], []]
    assert inner[1]["account_id"] == "p-3f2a" and inner[1]["x"] == {"paid": None}
    assert outcomes_of(batch)[0] == label
    broken = dict(entries[0])
    del broken["x"]
    assert list(entry.iter_errors(broken))
    assert list(validator.iter_errors({k: v for k, v in batch.items() if k != "outcomes"}))


def test_a_version_1_outcome_record_is_still_read() -> None:
    """A keeper replaying the outcomes topic after an upgrade meets records of version 1."""
    from monitor.core.group import outcomes_of
    from monitor.core.schedule import LABEL, Outcome

    released = json.loads((RELEASED / "model-outcome.v1.json").read_text())
    record = {
        "schema_version": 1,
        "type": "outcome",
        "kind": "label",
        "day": 20454,
        "time": 20400 * 86400.0,
        "account_id": "a1",
        "x": {"dpd": 4.0, "gap": None},
        "label": True,
        "probability": 0.25,
        "model_version": "m@1",
        "partition": 2,
        "offset": 9,
    }
    assert list(Draft202012Validator(released).iter_errors(record)) == []
    [outcome] = outcomes_of(record)
    assert (
        outcome.key == Outcome(LABEL, 20454, 20400 * 86400.0, "a1", {}, True, 0.25, "m@1", 2, 9).key
    )
    assert outcome.x["dpd"] == 4.0 and outcome.x["gap"] != outcome.x["gap"]  # None -> NaN
