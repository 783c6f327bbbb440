"""The engine's :class:`~monitor.core.store.Store` over changelog-backed Faust tables.

The accounts table's values are :class:`AccountState` objects: the ``account-state`` codec turns
them into bytes only on their way to the changelog (and back when a table is recovered), so an
in-memory table hands the engine ready objects instead of decoding a dict on every read. A state
is written as the JSON of :meth:`AccountState.to_dict`, deflated against a fixed preset
dictionary (a typical state's JSON, so that the keys, product names and the shape of bills and
pending snapshots cost almost nothing): about 27% of its JSON, for about 23 us of CPU per
record. A record that begins with ``{`` is the plain JSON written before, and is still read.
With an :class:`~monitor.worker.outbound.Outbound`, a write sets the table's store and queues the
changelog record there (Faust's own write would send it alone, at several times the cost); the
record is the one Faust writes: the key as JSON, the value in the codec.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import faust
import orjson
from faust.serializers import codecs

from monitor.core.macro import MacroBook
from monitor.core.state import AccountState
from monitor.worker.outbound import Outbound

#: Name of the Faust codec of account states (the accounts table's value serializer).
ACCOUNT_CODEC = "account-state"


class AccountStateCodec(codecs.Codec):
    """Account states in changelogs: :func:`encode_state` and :func:`decode_state`.

    >>> codec = AccountStateCodec()
    >>> codec.loads(codec.dumps(AccountState("a1", partition=2))).partition
    2
    """

    def _dumps(self, obj: Any) -> bytes:
        if _primed[0] is obj:  # TableStore.put encoded it a moment ago
            return _primed[1]  # type: ignore[return-value]
        return encode_state(obj)

    def _loads(self, s: bytes) -> Any:
        return decode_state(s)


codecs.register(ACCOUNT_CODEC, AccountStateCodec())


def accounts_table(app: Any, partitions: int) -> Any:
    """The Faust table of account states, written and read with the ``account-state`` codec.

    A Table takes its serializers from ``value_type`` (json unless a faust Record), and making
    its changelog topic overwrites the schema's value serializer with that: the table, its schema
    and the changelog topic (whose schema decodes recovered records) are each set here.
    """
    table = app.Table(
        "accounts",
        default=None,
        schema=faust.Schema(key_type=str, key_serializer="json"),
        partitions=partitions,
    )
    table.value_serializer = ACCOUNT_CODEC
    table.schema.value_serializer = ACCOUNT_CODEC
    topic = table.changelog_topic
    topic.value_serializer = ACCOUNT_CODEC
    topic.schema.value_serializer = ACCOUNT_CODEC
    return table


#: The preset dictionary of the deflated state records of format 1: never change it (records
#: of format 1 in changelogs and RocksDB are read with it); a new dictionary is a new format.
_ZDICT_1 = (
    b'{"a":"a000009","pt":0,"r":"north","pr":[{"p":"cash_loan","l":20600.0,"o":20454,"c":0,'
    b'"b":[["a000009-L01-01",20580,20590,2352.89,2352.89,2352.89,1,"F"]],"oc":"F","pr":[1.0],'
    b'"lp":20584,"lb":4635.889999999999,"pu":0.3392611650485437,"pl":0,"ct":["north","current",'
    b'4635.89,3.83,0.00127,20600.0],"mo":676,"mb":"current"},{"p":"credit_pay","l":12500.0,'
    b'"o":20454,"c":0,"b":[["a000009-C04",20554,20564,250.0,25.0,250.0,1,"F"],["a000009-C05",'
    b'20584,20594,1460.91,146.09,146.09,1,""]],"oc":"FFXF","pr":[1.0,1.0,0.0,1.0],"lp":20593,'
    b'"lb":0.0,"pu":0.0,"pl":0,"ct":["north","current",1314.82,1.34,0.00127,12500.0],"mo":676,'
    b'"mb":"current"}],"at":{"age":35,"monthly_income":7940.61,"employment":"salaried"},"br":[],'
    b'"ds":-1,"ed":0,"p":0.0012696436258092649,"t":"low","pp":0.02537952211231668,"ptr":"low",'
    b'"le":1779287040.0,"li":"a000009-0017","nc":20602,"of":19271,"ob":[],"oo":19271,"pe":[[20541,'
    b"0.23934,[7.0,1.0,0.6666666666666666,0.0,0.3333333333333333,0.6666666666666666,1.0,"
    b"0.0959056,0.0959056,41.0,0.0,2.0,0.0,0.0,2.9,10.407318772389159,5.13,-0.04924058543389975,"
    b'60.0,0.9552,0.0,0.0959056],"scorecard@0"],[20560,0.00191,[0.0,0.0,0.6666666666666666,0.0,'
    b"0.3333333333333333,0.6666666666666666,1.0,0.0,0.0,3.0,0.0,2.0,0.0,0.3392611650485437,"
    b"3.533333333333333,10.407318772389159,5.14,-0.0405963867813135,60.0,0.9552,0.0,0.02],"
    b'"online-logistic@1987"],[20580,0.00246,[0.0,0.0,0.75,0.0,0.25,0.6666666666666666,0.0,0.0,'
    b"0.0,23.0,0.0,2.0,0.0,0.3392611650485437,4.2,10.407318772389159,5.27,0.08460523403642206,"
    b'10.0,0.5885,1.0,0.02],"online-logistic@3221"]],"al":{},"bh":0.6008}'
)
#: First byte of a deflated state record of format 1 (plain JSON records begin with ``{``).
_DEFLATED_1 = b"\x01"
#: Deflate level and strategy of state records: on the bench's states level 6 with
#: Z_FILTERED gave 306 bytes per record at about 23 us, level 3 341 bytes at 18 us, level 1 365
#: at 18 us, level 9 no smaller than 6; at about 1.8 records per event, 6 is what keeps a
#: worker's output under 800 bytes per event (the reader takes any level)
_LEVEL, _STRATEGY = 6, zlib.Z_FILTERED


def encode_state(state: AccountState) -> bytes:
    """An account's state as its changelog record holds it (deflated JSON, format 1).

    >>> state = AccountState("a1", partition=2, region="north")
    >>> record = encode_state(state)
    >>> record[:1], decode_state(record) == state, len(record) < len(orjson.dumps(state.to_dict()))
    (b'\\x01', True, True)
    """
    deflate = zlib.compressobj(_LEVEL, zlib.DEFLATED, -15, 8, _STRATEGY, _ZDICT_1)
    return _DEFLATED_1 + deflate.compress(orjson.dumps(state.to_dict())) + deflate.flush()


def decode_state(record: bytes) -> AccountState:
    """An account's state from its changelog record: deflated JSON (format 1) or plain JSON.

    Raises ValueError for a record in neither.

    >>> decode_state(b'{"a":"a1","pt":0,"r":"","pr":[],"at":{},"br":[],"ds":-1,"ed":0,"p":0.0,'
    ...     b'"t":"","pp":-1.0,"ptr":"","le":0.0,"li":"","nc":-1,"of":-1,"ob":[],"oo":-1,"pe":[],'
    ...     b'"al":{}}').account_id
    'a1'
    """
    if record[:1] == _DEFLATED_1:
        inflate = zlib.decompressobj(-15, _ZDICT_1)
        record = inflate.decompress(record[1:]) + inflate.flush()
    elif record[:1] != b"{":
        raise ValueError(f"not an account-state record (begins with {record[:1]!r})")
    return AccountState.from_dict(orjson.loads(record))


def state_bytes(state: AccountState) -> int:
    """Bytes of an account's state as its changelog record holds it."""
    return len(encode_state(state))


#: the state :meth:`TableStore.put` is writing and its record, while it writes it (else None)
_primed: list[object] = [None, None]


class TableStore:
    """Account states in one Faust table, macro books (one per partition) in another; account
    writes go to the table's store, their changelog records to ``outbound`` (topic
    ``changelog``)."""

    def __init__(self, accounts: Any, macro: Any, outbound: Outbound, changelog: str) -> None:
        self.accounts = accounts
        self.macro = macro
        self.outbound = outbound
        self.changelog = changelog
        topic = getattr(macro, "changelog_topic", None)
        #: the macro table's changelog: its writes (macro books, the learner, the portfolio and
        #: the outcomes kept) leave with the account states, not in Faust's own later sends
        self.macro_changelog = topic.get_topic_name() if topic is not None else ""

    def get(self, account_id: str) -> AccountState | None:
        state: AccountState | None = self.accounts.get(account_id)
        return state

    def put(self, state: AccountState) -> None:
        # what the table's own write does, with the changelog record produced in a batch; a
        # store that keeps bytes (RocksDB) encodes the state with the codec, which takes the
        # record encoded here instead of deflating the same state twice
        record = encode_state(state)
        _primed[0], _primed[1] = state, record
        try:
            self.accounts.data[state.account_id] = state
        finally:
            _primed[0] = _primed[1] = None
        self.outbound.add(
            self.changelog, orjson.dumps(state.account_id), record, partition=state.partition
        )

    def delete(self, account_id: str) -> None:
        if account_id not in self.accounts:
            return
        partition = self.accounts.data[account_id].partition
        del self.accounts.data[account_id]
        self.outbound.add(self.changelog, orjson.dumps(account_id), None, partition=partition)

    def get_macro(self, partition: int) -> MacroBook | None:
        raw = self.macro.get(f"p{partition}")
        return MacroBook.from_dict(raw) if raw is not None else None

    def put_macro(self, partition: int, book: MacroBook) -> None:
        self._put_other(f"p{partition}", book.to_dict(), partition)

    def _put_other(self, key: str, value: Any, partition: int) -> None:
        """What the macro table's own write does, with its changelog record produced in the
        batch (so that it is written with the account states of the same events)."""
        if not self.macro_changelog:
            self.macro[key] = value
            return
        self.macro.data[key] = value
        self.outbound.add(
            self.macro_changelog, orjson.dumps(key), orjson.dumps(value), partition=partition
        )

    def states(self) -> Iterator[AccountState]:
        for state in list(self.accounts.values()):
            if state is not None:
                yield state

    def get_extra(self, key: str) -> str | None:
        value = self.macro.get(key)
        return value if isinstance(value, str) else None

    def put_extra(self, key: str, value: str, partition: int = 0) -> None:
        self._put_other(key, value, partition)

    def delete_extra(self, key: str, partition: int = 0) -> None:
        if key not in self.macro:
            return
        if not self.macro_changelog:
            del self.macro[key]
            return
        del self.macro.data[key]
        self.outbound.add(self.macro_changelog, orjson.dumps(key), None, partition=partition)

    def extras(self, prefix: str) -> Iterator[tuple[str, str]]:
        for key, value in list(self.macro.items()):
            if isinstance(key, str) and key.startswith(prefix) and isinstance(value, str):
                yield key, value
