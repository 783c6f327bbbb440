"""The accounts table's codec: deflated state records, and the plain JSON ones written before."""

from __future__ import annotations

import copy

import orjson
import pytest

from monitor.bench.data import make_data
from monitor.core.engine import Engine
from monitor.core.events import parse_event
from monitor.core.state import AccountState
from monitor.core.store import MemoryStore
from monitor.worker.tablestore import AccountStateCodec, decode_state, encode_state


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


def test_a_record_in_neither_format_is_refused(states: list[AccountState]) -> None:
    with pytest.raises(ValueError, match="not an account-state record"):
        decode_state(b"\x02garbage")
    assert encode_state(states[0])[:1] == b"\x01"


def test_a_store_that_keeps_bytes_gets_the_changelog_record_without_a_second_encoding(
    states: list[AccountState], monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitor.worker.tablestore as ts
    from monitor.worker.outbound import Outbound

    codec = AccountStateCodec()
    kept: dict[str, bytes] = {}

    class BytesStore(dict):
        """Like Faust's RocksDB store: values are kept encoded with the table's codec."""

        def __setitem__(self, key: str, value: AccountState) -> None:
            kept[key] = codec.dumps(value)
            super().__setitem__(key, value)

    class Table:
        data = BytesStore()

    encodings = 0
    encode = ts.encode_state

    def counted(state: AccountState) -> bytes:
        nonlocal encodings
        encodings += 1
        return encode(state)

    monkeypatch.setattr(ts, "encode_state", counted)
    out = Outbound()
    store = ts.TableStore(Table(), {}, out, "changelog")
    for state in states[:20]:
        store.put(state)
    assert encodings == 20  # once per write, for both the changelog and the store
    records = {orjson.loads(r.key or b""): r.value for r in out.pending("changelog")}
    assert records == kept
    assert all(decode_state(kept[s.account_id]) == s for s in states[:20])
    # outside a put, the codec encodes afresh (nothing stale is handed out)
    state = copy.deepcopy(states[0])
    state.probability += 0.5
    assert decode_state(codec.dumps(state)) == state
