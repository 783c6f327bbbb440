"""The core's boundaries: what it imports, and what it holds per input partition."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import monitor.core
from monitor.core.engine import Engine
from monitor.core.store import MemoryStore
from tests.unit.core.helpers import bill, ev, opened, pay

pytestmark = pytest.mark.unit


#: the versioned JSON Schemas the core validates input against: shipped data, not code
_DATA = {"monitor.contracts"}


def test_the_core_imports_nothing_of_the_monitor_outside_the_core() -> None:
    outside = []
    for path in Path(monitor.core.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
                if node.module == "monitor":  # from monitor import contracts
                    names = [f"monitor.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            outside += [
                f"{path.name}: {name}"
                for name in names
                if name.split(".")[0] == "monitor"
                and not name.startswith("monitor.core")
                and name not in _DATA
            ]
    assert outside == []


def _two_partitions() -> tuple[MemoryStore, Engine]:
    store = MemoryStore()
    engine = Engine(store)
    for partition, account in ((0, "a"), (1, "z")):
        stream = [
            opened(account, "2026-01-01"),
            bill(account, "2026-01-05", f"{account}1", 900.0, "2026-01-15"),
            pay(account, "2026-01-08", 100.0),
            ev(
                "macro_indicator",
                "2026-02-20",
                region="north",
                indicator="unemployment_rate",
                value=5.0,
            ),
        ]
        for offset, event in enumerate(stream):
            engine.process(event, partition=partition, offset=offset)
    return store, engine


def test_releasing_a_partition_forgets_everything_held_for_it() -> None:
    _, engine = _two_partitions()
    held = engine.book(1).summary()
    assert engine.partitions() == {0, 1}
    assert engine.portfolio()[0].summary()["credit_pay|north"]["accounts"] == 2
    engine.release(1)
    # books, watches, timers, paces, tier counts and the macro cache: nothing of partition 1
    assert engine.partitions() == {0}
    assert engine.portfolio()[0].summary()["credit_pay|north"]["accounts"] == 1
    assert sum(engine.accounts_by_tier().values()) == 1
    # the state stays in the store, so the partition comes back as it was
    engine.recover(1, from_offset=4)
    assert engine.book(1).summary() == held
    assert sum(engine.accounts_by_tier().values()) == 2
    assert engine.macro(1).level("north") == engine.macro(0).level("north")


def test_a_recovered_partition_has_its_timers_again() -> None:
    store, engine = _two_partitions()
    engine.release(1)
    engine.recover(1, from_offset=4)
    tick = ev("macro_indicator", "2026-03-01", region="north", indicator="x", value=1.0)
    fresh = Engine(store)
    fresh.recover(1, from_offset=4)
    assert engine.process(tick, partition=1).timers == fresh.process(tick, partition=1).timers
