"""The write-back store: batched state writes give exactly the decisions of one-at-a-time."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from monitor import simulator as sim
from monitor.core.engine import Decisions, Engine
from monitor.core.events import Event, event_from_dict
from monitor.core.macro import MacroBook
from monitor.core.state import AccountState
from monitor.core.store import MemoryStore, WriteBackStore


class SerialisingStore:
    """Like the worker's table store: every write is serialised to bytes, every read parsed,
    and each write is counted per partition."""

    def __init__(self) -> None:
        self.accounts: dict[str, bytes] = {}
        self.macro: dict[int, bytes] = {}
        self.extra: dict[str, str] = {}
        self.writes = 0
        self.partition_written: list[int] = []
        self.current = -1

    def get(self, account_id: str) -> AccountState | None:
        raw = self.accounts.get(account_id)
        return AccountState.from_dict(orjson.loads(raw)) if raw is not None else None

    def put(self, state: AccountState) -> None:
        assert state.partition == self.current, "written outside its partition"
        self.accounts[state.account_id] = orjson.dumps(state.to_dict())
        self.writes += 1

    def delete(self, account_id: str) -> None:
        self.accounts.pop(account_id, None)
        self.writes += 1

    def get_macro(self, partition: int) -> MacroBook | None:
        raw = self.macro.get(partition)
        return MacroBook.from_dict(orjson.loads(raw)) if raw is not None else None

    def put_macro(self, partition: int, book: MacroBook) -> None:
        assert partition == self.current
        self.macro[partition] = orjson.dumps(book.to_dict())

    def states(self) -> Iterator[AccountState]:
        for raw in list(self.accounts.values()):
            yield AccountState.from_dict(orjson.loads(raw))

    def get_extra(self, key: str) -> str | None:
        return self.extra.get(key)

    def put_extra(self, key: str, value: str, partition: int = 0) -> None:
        assert partition == self.current
        self.extra[key] = value

    def delete_extra(self, key: str, partition: int = 0) -> None:
        assert partition == self.current
        self.extra.pop(key, None)

    def extras(self, prefix: str) -> Iterator[tuple[str, str]]:
        return iter([(k, v) for k, v in self.extra.items() if k.startswith(prefix)])


def _events(accounts: int = 300, days: int = 120) -> list[dict]:
    return sim.simulate(sim.SimConfig(accounts=accounts, days=days, seed=3)).events


def _partition(event: dict, partitions: int) -> int:
    return hash(event.get("account_id", "")) % partitions


def _alert_ids(results: list[Decisions]) -> list[tuple[str, str]]:
    return [(a["alert_id"], a["status"]) for r in results for a in r.alerts]


def _batched(events: list[Event], homes: list[int], batch: int) -> tuple[list[Decisions], int]:
    inner = SerialisingStore()
    store = WriteBackStore(inner)
    engine = Engine(store)

    def at(partition: int) -> None:
        inner.current = partition

    got = []
    for start in range(0, len(events), batch):
        chunk = range(start, min(start + batch, len(events)))
        got += [engine.process(events[i], homes[i], i) for i in chunk]
        store.flush(at)
    return got, inner.writes


@pytest.mark.parametrize("batch", [7, 500])
def test_batched_writes_give_the_same_alerts_as_one_at_a_time(batch: int) -> None:
    events = [event_from_dict(e) for e in _events()]
    partitions = 2
    homes = [_partition(e.data, partitions) if e.account_id else 0 for e in events]

    single = Engine(MemoryStore())
    expected = [single.process(e, p, i) for i, (e, p) in enumerate(zip(events, homes, strict=True))]
    one_by_one, writes_one_by_one = _batched(events, homes, 1)
    got, writes = _batched(events, homes, batch)

    assert len(_alert_ids(expected)) > 10  # the stream does raise alerts
    assert _alert_ids(one_by_one) == _alert_ids(expected)
    assert _alert_ids(got) == _alert_ids(expected)
    assert [r.risk for r in got] == [r.risk for r in expected]
    assert writes < writes_one_by_one  # an account changed twice in a batch is written once


def test_states_are_read_once_per_batch_and_iterated_without_duplicates() -> None:
    inner = MemoryStore()
    inner.put(AccountState("a", partition=0))
    inner.put(AccountState("b", partition=0))
    store = WriteBackStore(inner)
    changed = store.get("a")
    assert changed is store.get("a")  # the same object until the flush
    store.put(AccountState("c", partition=1))
    store.delete("b")
    assert sorted(s.account_id for s in store.states()) == ["a", "c"]
    assert inner.get("c") is None  # nothing written before the flush
    assert store.flush() == 2
    assert sorted(inner.accounts) == ["a", "c"]
