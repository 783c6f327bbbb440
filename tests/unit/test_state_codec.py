"""The accounts table's records: an account's own and its pending snapshots', and the whole-state
records (deflated or plain JSON) written before."""

from __future__ import annotations

import copy
from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson
import pytest

from monitor.bench.data import make_data
from monitor.core.engine import Engine
from monitor.core.events import parse_event
from monitor.core.state import AccountState
from monitor.core.store import MemoryStore, WriteBackStore
from monitor.worker.outbound import Outbound, Record
from monitor.worker.tablestore import (
    AccountStateCodec,
    SnapshotRecord,
    TableStore,
    decode_record,
    decode_state,
    encode_state,
    snapshot_key,
)


@pytest.fixture(scope="module")
def states() -> list[AccountState]:
    """Account states with history: bills, outcomes, pending snapshots, open alerts."""
    store = MemoryStore()
    engine = Engine(store)
    for offset, line in enumerate(make_data(6000, 300, 300).preload):
        engine.process(parse_event(line, 100_000), 0, offset)
    return list(store.accounts.values())


def test_states_come_back_equal_from_their_records_at_under_half_their_json(
    states: list[AccountState],
) -> None:
    assert any(s.pending for s in states) and any(s.alerts for s in states)
    codec = AccountStateCodec()
    deflated = json = 0
    for state in states:
        record = codec.dumps(state)
        assert codec.loads(record) == state
        deflated += len(record)
        json += len(orjson.dumps(state.to_dict()))
    assert deflated < json / 2


def test_records_of_plain_json_written_before_are_still_read(states: list[AccountState]) -> None:
    for state in states[:50]:
        assert decode_state(orjson.dumps(state.to_dict())) == state


def test_accounts_records_of_format_2_written_before_are_still_read(
    states: list[AccountState],
) -> None:
    import monitor.worker.tablestore as ts

    for state in states[:50]:
        text = orjson.dumps(state.to_dict(snapshots=False))
        old = decode_state(ts._ACCOUNT_2 + ts._deflate(text, ts._ZDICT_2))
        new = decode_state(ts.encode_account(state))
        assert old == new and old.stored == new.stored
        assert new.stored.days == tuple(s.day for s in state.pending)


def test_a_record_in_no_format_is_refused_and_a_damaged_one_named(
    states: list[AccountState],
) -> None:
    with pytest.raises(ValueError, match="not an account-state record"):
        decode_state(b"\x09garbage")
    with pytest.raises(ValueError, match="a damaged account-state record"):
        decode_state(b"\x02garbage")
    with pytest.raises(ValueError, match="a damaged snapshot record"):
        decode_record(b"\x03garbage")
    assert encode_state(states[0])[:1] == b"\x01"


class _Table:
    """A Faust table over an in-memory store: ``data`` holds the values themselves."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def values(self) -> list[Any]:
        return list(self.data.values())


class _Bytes(MutableMapping[str, Any]):
    """Like Faust's RocksDB store: values kept encoded with the table's codec, decoded anew on
    every read."""

    def __init__(self) -> None:
        self.kept: dict[str, bytes] = {}
        self.codec = AccountStateCodec()

    def __getitem__(self, key: str) -> Any:
        return self.codec.loads(self.kept[key])

    def __setitem__(self, key: str, value: Any) -> None:
        self.kept[key] = self.codec.dumps(value)

    def __delitem__(self, key: str) -> None:
        del self.kept[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.kept))

    def __len__(self) -> int:
        return len(self.kept)


class _BytesTable(_Table):
    def __init__(self) -> None:
        self.data = _Bytes()  # type: ignore[assignment]


def _faust_memory() -> Any:
    """Faust's in-memory store (its mapping alone: no app, no table)."""
    from faust.stores.memory import Store as MemoryTable

    store = MemoryTable.__new__(MemoryTable)
    store.data, store._key_partition = {}, {}
    return store


class _FaustTable(_Table):
    """A Faust table over its in-memory store, which holds the values themselves."""

    def __init__(self) -> None:
        self.data = _faust_memory()


def _recovered(records: list[Record], into: _Table | None = None) -> _Table:
    """A table as Faust's in-memory store recovers it from its changelog: the records applied
    in one batch (each decoded with the codec, a deletion where the value is None)."""
    from types import SimpleNamespace

    codec = AccountStateCodec()
    batch = [
        SimpleNamespace(
            key=r.key,
            value=r.value,
            message=SimpleNamespace(value=r.value, partition=r.partition or 0),
        )
        for r in records
    ]
    table = into if into is not None else _FaustTable()
    if isinstance(table.data, _Bytes):  # a store that keeps bytes takes the records as they are
        for record in records:
            key = orjson.loads(record.key or b"")
            if record.value is None:
                table.data.kept.pop(key, None)
            else:
                table.data.kept[key] = record.value
        return table
    faust_store: Any = table.data
    if not hasattr(faust_store, "apply_changelog_batch"):  # a plain dict
        faust_store = _faust_memory()
        faust_store.data = table.data
    faust_store.apply_changelog_batch(
        batch,
        lambda key: orjson.loads(key),
        lambda value: None if value is None else codec.loads(value),
    )
    return table


@pytest.mark.parametrize("kind", [_Table, _BytesTable, _FaustTable])
def test_an_engine_over_the_table_store_is_rebuilt_exactly_from_its_changelog(
    kind: type[_Table],
) -> None:
    """Accounts and their pending snapshots kept in records of their own come back from the
    changelog as the engine left them, and as an engine over a plain memory store has them."""
    table, out = kind(), Outbound()
    store = WriteBackStore(TableStore(table, {}, out, "changelog"))
    engine, plain = Engine(store), MemoryStore()
    reference = Engine(plain)
    for offset, line in enumerate(make_data(6000, 300, 300).preload):
        event = parse_event(line, 100_000)
        engine.process(event, 0, offset)
        reference.process(event, 0, offset)
        if offset % 50 == 49:
            store.flush()
    store.flush()
    records = out.pending("changelog")
    back = TableStore(_recovered(records), {}, Outbound(), "changelog")
    states = {state.account_id: state for state in back.states()}
    assert states == plain.accounts
    assert {s.account_id: s for s in TableStore(table, {}, out, "changelog").states()} == states
    assert sum(len(s.pending) for s in states.values()) > 100
    # each snapshot is written once: far fewer snapshot records than account records
    kinds = [r.value[:1] for r in records if r.value]
    assert kinds.count(b"\x03") < kinds.count(b"\x04") / 2
    # no snapshot is left behind that no account names
    named = {snapshot_key(a, s.day) for a, state in states.items() for s in state.pending}
    left = {k for k, v in _recovered(records).data.items() if isinstance(v, SnapshotRecord)}
    assert left == named
    # a rebalance that leaves the partition here has Faust apply the changelog again from where
    # its last recovery ended (it knows nothing of the worker's own writes since): the accounts
    # written in that tail are read back from their records, and their snapshots still found
    _recovered(records[-len(records) // 20 :], into=table)  # snapshots made before it pend
    assert {s.account_id: s for s in TableStore(table, {}, out, "changelog").states()} == states


def test_a_write_carries_only_the_snapshots_made_or_resolved_since_the_last(
    states: list[AccountState],
) -> None:
    state = copy.deepcopy(next(s for s in states if len(s.pending) >= 2))
    out = Outbound()
    store = TableStore(_Table(), {}, out, "changelog")
    store.put(state)
    first = out.pending("changelog")
    assert [r.value[:1] for r in first if r.value] == [b"\x03"] * len(state.pending) + [b"\x04"]
    state.probability += 0.1
    store.put(state)
    assert len(out.pending("changelog")) == len(first) + 1  # the account's own record only
    resolved = state.pending.pop(0)
    store.put(state)
    last = out.pending("changelog")[-2:]
    assert [orjson.loads(r.key or b"") for r in last] == [
        state.account_id,
        snapshot_key(state.account_id, resolved.day),
    ]
    assert last[1].value is None
    store.delete(state.account_id)
    deleted = out.pending("changelog")[-len(state.pending) - 1 :]
    assert all(r.value is None for r in deleted) and store.get(state.account_id) is None
    assert _recovered(out.pending("changelog")).data == {}


def test_a_store_that_keeps_bytes_gets_the_changelog_records_without_a_second_encoding(
    states: list[AccountState], monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitor.worker.tablestore as ts

    encodings = 0
    for name in ("encode_account", "encode_snapshot"):
        encode = getattr(ts, name)

        def counted(value: Any, encode: Any = encode) -> bytes:
            nonlocal encodings
            encodings += 1
            return bytes(encode(value))

        monkeypatch.setattr(ts, name, counted)
    out, table = Outbound(), _BytesTable()
    store = ts.TableStore(table, {}, out, "changelog")
    for state in copy.deepcopy(states[:20]):
        store.put(state)
    records = {orjson.loads(r.key or b""): r.value for r in out.pending("changelog")}
    assert encodings == len(records)  # once per record, for both the changelog and the store
    assert records == table.data.kept  # type: ignore[attr-defined]
    assert all(store.get(s.account_id) == s for s in states[:20])
    # outside a put, the codec encodes afresh (nothing stale is handed out): a state never
    # written whole, a state kept in several records as an account's own record (of one read back
    # and not yet loaded, naming the snapshots its record names)
    codec = AccountStateCodec()
    state = copy.deepcopy(states[0])
    state.probability += 0.5
    assert decode_state(codec.dumps(state)) == state
    unloaded = decode_state(table.data.kept[states[1].account_id])  # type: ignore[attr-defined]
    assert unloaded.stored.days and not unloaded.stored.loaded
    again = decode_state(codec.dumps(unloaded))
    assert again.stored == unloaded.stored and again == unloaded


def test_two_snapshots_of_one_day_are_refused_rather_than_kept_under_one_key() -> None:
    from monitor.core.state import Snapshot
    from monitor.worker.tablestore import records_of

    state = AccountState("a1")
    state.pending = [Snapshot(10, 0.1, [1.0], "v1"), Snapshot(10, 0.2, [2.0], "v1")]
    with pytest.raises(ValueError, match="two pending snapshots of one day"):
        records_of(state)
