"""Every topic contract stays compatible with its released version, and is printed by the CLI."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from monitor import contracts
from monitor.contracts.compat import breaking_changes

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
