"""The engine's :class:`~monitor.core.store.Store` over changelog-backed Faust tables.

The accounts table's values are :class:`AccountState` objects: the ``account-state`` codec turns
them into bytes only on their way to the changelog (and back when a table is recovered), so an
in-memory table hands the engine ready objects instead of decoding a dict on every read.

An account is kept in several records. Its pending snapshots (the model inputs of predictions
waiting for their outcome) never change once made and are about half of its state, so each is a
record of its own, under :func:`snapshot_key`, written once when it is made and deleted when it
resolves; the account's own record (format 3) names their days only, and is what a look or an
event rewrites. The snapshot records of a write go before its account record, on the same
changelog partition, and the deletions of resolved ones after it. A state read back from its
record holds its snapshots' days only until :class:`TableStore` reads them (:meth:`TableStore.get`,
:meth:`TableStore.states`). Both kinds of record are JSON deflated against a fixed preset
dictionary (typical records, so that keys, product names and the shape of bills and snapshots
cost almost nothing). The records written before are still read: an account's own of format 2
(an older dictionary) and the self-contained ones (format 1: the whole state, deflated; or the
plain JSON, beginning with ``{``).

With an :class:`~monitor.worker.outbound.Outbound`, a write sets the table's store and queues the
changelog records there (Faust's own write would send each alone, at several times the cost); a
record is the one Faust writes: the key as JSON, the value in the codec.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import faust
import orjson
from faust.serializers import codecs

from monitor.core.macro import MacroBook
from monitor.core.state import AccountState, Snapshot
from monitor.worker.outbound import Outbound

log = logging.getLogger(__name__)

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
        if isinstance(obj, SnapshotRecord):
            return encode_snapshot(obj.snapshot)
        if isinstance(obj.stored, Written):  # its snapshots are records of their own
            return encode_account(obj)
        return encode_state(obj)

    def _loads(self, s: bytes) -> Any:
        return decode_record(s)


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
#: The preset dictionaries of an account's record of format 2 (its snapshots' days in place of
#: the snapshots) and of a snapshot's record, cut from the one of format 1: never change them.
_PENDING = _ZDICT_1.index(b'"pe":[')
_ZDICT_2 = _ZDICT_1[:_PENDING] + b'"pe":[20541,20560,20580],"al":{},"bh":0.6008}'
_ZDICT_SNAPSHOT = _ZDICT_1[_PENDING + len(b'"pe":[') : _ZDICT_1.index(b'],"al":')]
#: First byte of an account's record of format 2 and of a pending snapshot's record.
_ACCOUNT_2, _SNAPSHOT_2 = b"\x02", b"\x03"
#: The preset dictionary of an account's record of format 3 (as format 2, with this dictionary):
#: eight account records of a simulation other than the bench's (seed 101, 400 accounts, 150
#: days; drawn with random.Random(3)). Against the bench's account records it gives 185 bytes
#: where format 2's gives 212, for about 5 us more per record. Never change it.
_ZDICT_3 = (
    b'{"a":"a000121","pt":0,"r":"west","pr":[{"p":"credit_pay","l":10700.0,"o":20458,"c":0,"b'
    b'":[["a000121-C04",20556,20566,1474.86,147.49,1474.86,1,"F"],["a000121-C05",20586,20596,'
    b'2776.93,277.69,0.0,0,"X"]],"oc":"FFFFX","pr":[1.0,1.0,1.0,1.0,0.0],"lp":20563,"lb":0.0,'
    b'"pu":0.0,"pl":0,"ct":["west","1-29",2776.93,26.34,0.01186,10700.0],"mo":676,"mb":"curre'
    b'nt"}],"at":{"age":35,"monthly_income":12886.88,"employment":"self"},"br":[],"ds":-1,"ed'
    b'":0,"p":0.0118553957676498,"t":"low","pp":0.004496273160941178,"ptr":"low","le":1778652'
    b'000.0,"li":"a000121-0010","nc":20606,"of":3756,"ob":[],"oo":4272,"pe":[20556,20586,2060'
    b'3],"al":{},"bh":0.9449}{"a":"a000303","pt":0,"r":"west","pr":[{"p":"cash_loan","l":1110'
    b'0.0,"o":20461,"c":0,"b":[],"oc":"","pr":[],"lp":-1,"lb":0.0,"pu":0.0,"pl":0,"ct":["west'
    b'","current",0.0,0.0,0.00447,11100.0],"mo":672,"mb":"current"}],"at":{"age":56,"monthly_'
    b'income":4680.56,"employment":"self"},"br":[],"ds":-1,"ed":0,"p":0.004469496508725258,"t'
    b'":"low","pp":0.004469496508725258,"ptr":"low","le":1767852000.0,"li":"a000303-0001","nc'
    b'":-1,"of":185,"ob":[],"oo":185,"pe":[],"al":{},"bh":0.0}{"a":"a000278","pt":0,"r":"sout'
    b'h","pr":[{"p":"credit_pay","l":12900.0,"o":20464,"c":0,"b":[["a000278-C04",20565,20575,'
    b'2656.61,265.66,2656.61,1,"F"],["a000278-C05",20595,20605,2585.45,258.55,2585.45,1,""]],'
    b'"oc":"FFFF","pr":[1.0,1.0,1.0,1.0],"lp":20599,"lb":0.0,"pu":0.0,"pl":0,"ct":["south","c'
    b'urrent",0.0,0.0,0.00008,12900.0],"mo":676,"mb":"current"}],"at":{"age":55,"monthly_inco'
    b'me":6546.63,"employment":"salaried"},"br":[],"ds":-1,"ed":0,"p":0.00007770244478374083,'
    b'"t":"low","pp":0.004591255203919272,"ptr":"low","le":1779805440.0,"li":"a000278-0011","'
    b'nc":20626,"of":4170,"ob":[],"oo":4170,"pe":[20565,20595],"al":{},"bh":0.517}{"a":"a0000'
    b'66","pt":0,"r":"north","pr":[{"p":"credit_pay","l":17500.0,"o":20459,"c":0,"b":[["a0000'
    b'66-C04",20565,20575,350.0,35.0,350.0,1,"X"],["a000066-C05",20595,20605,1873.53,187.35,1'
    b'87.35,1,""]],"oc":"FXFX","pr":[1.0,0.0,1.0,0.0],"lp":20603,"lb":0.0,"pu":0.0,"pl":0,"ct'
    b'":["north","current",1686.18,3.67,0.00272,17500.0],"mo":676,"mb":"1-29"}],"at":{"age":5'
    b'1,"monthly_income":14417.37,"employment":"self"},"br":[],"ds":-1,"ed":0,"p":0.002719637'
    b'369589102,"t":"low","pp":0.002158662728724335,"ptr":"low","le":1780151040.0,"li":"a0000'
    b'66-0011","nc":20626,"of":4285,"ob":[],"oo":4285,"pe":[20565,20595],"al":{},"bh":0.9697}'
    b'{"a":"a000189","pt":0,"r":"south","pr":[{"p":"cash_loan","l":18500.0,"o":20477,"c":0,"b'
    b'":[["a000189-L01-01",20589,20599,407.35,407.35,407.35,1,""]],"oc":"","pr":[],"lp":20593'
    b',"lb":4432.469999999999,"pu":0.2616118918918919,"pl":0,"ct":["south","current",4432.47,'
    b'119.22,0.04138,18500.0],"mo":676,"mb":"current"},{"p":"credit_pay","l":6400.0,"o":20477'
    b',"c":0,"b":[["a000189-C04",20580,20590,3029.48,302.95,302.95,1,"M"]],"oc":"FMFM","pr":['
    b'1.0,0.1,1.0,0.1],"lp":20589,"lb":0.0,"pu":0.0,"pl":0,"ct":["south","current",2726.53,90'
    b'.26,0.04138,6400.0],"mo":676,"mb":"current"}],"at":{"age":63,"monthly_income":7458.51,"'
    b'employment":"salaried"},"br":[],"ds":-1,"ed":0,"p":0.04138010510713819,"t":"low","pp":0'
    b'.0229506986273982,"ptr":"low","le":1779287040.0,"li":"a000189-0005","nc":20611,"of":397'
    b'3,"ob":[],"oo":3973,"pe":[20550,20569,20587],"al":{},"bh":0.8437}{"a":"a000309","pt":0,'
    b'"r":"north","pr":[{"p":"credit_pay","l":5900.0,"o":20478,"c":0,"b":[["a000309-C03",2056'
    b'6,20576,731.46,73.15,731.46,1,"X"],["a000309-C04",20596,20606,1502.09,150.21,1502.09,1,'
    b'""]],"oc":"FFX","pr":[1.0,1.0,0.0],"lp":20602,"lb":0.0,"pu":0.0,"pl":0,"ct":["north","c'
    b'urrent",0.0,0.0,0.0009,5900.0],"mo":676,"mb":"1-29"}],"at":{"age":35,"monthly_income":3'
    b'834.18,"employment":"self"},"br":[],"ds":-1,"ed":0,"p":0.0009012923948225905,"t":"low",'
    b'"pp":0.02628425980976449,"ptr":"low","le":1780064640.0,"li":"a000309-0009","nc":20627,"'
    b'of":4256,"ob":[],"oo":4256,"pe":[20566,20596],"al":{},"bh":0.948}{"a":"a000242","pt":0,'
    b'"r":"east","pr":[{"p":"cash_loan","l":31100.0,"o":20469,"c":0,"b":[["a000242-L01-02",20'
    b'581,20591,755.17,755.17,755.17,1,"F"]],"oc":"FF","pr":[1.0,1.0],"lp":20589,"lb":7462.01'
    b',"pu":0.2642180064308682,"pl":0,"ct":["east","current",7462.01,4.54,0.00094,31100.0],"m'
    b'o":676,"mb":"current"},{"p":"credit_pay","l":15800.0,"o":20469,"c":0,"b":[["a000242-C04'
    b'",20564,20574,4980.07,498.01,498.01,1,"M"],["a000242-C05",20594,20604,6904.96,690.5,690'
    b'4.96,1,""]],"oc":"FXFM","pr":[1.0,0.0,1.0,0.1],"lp":20602,"lb":0.0,"pu":0.2836746835443'
    b'0375,"pl":0,"ct":["east","current",4482.06,3.35,0.00094,15800.0],"mo":676,"mb":"current'
    b'"}],"at":{"age":47,"monthly_income":10068.72,"employment":"salaried"},"br":[],"ds":-1,"'
    b'ed":0,"p":0.0009351904944263006,"t":"low","pp":0.04540303952018528,"ptr":"low","le":178'
    b'0064640.0,"li":"a000242-0017","nc":20617,"of":4268,"ob":[],"oo":4268,"pe":[20556,20581,'
    b'20601],"al":{},"bh":0.8486}{"a":"a000320","pt":0,"r":"north","pr":[{"p":"credit_pay","l'
    b'":7400.0,"o":20469,"c":0,"b":[["a000320-C03",20546,20556,2476.64,247.66,2476.64,1,"F"],'
    b'["a000320-C04",20576,20586,1684.11,168.41,1684.11,1,""]],"oc":"FFF","pr":[1.0,1.0,1.0],'
    b'"lp":20582,"lb":0.0,"pu":0.0,"pl":0,"ct":["north","current",0.0,0.0,0.00459,7400.0],"mo'
    b'":676,"mb":"current"}],"at":{"age":32,"monthly_income":6325.83,"employment":"salaried"}'
    b',"br":[],"ds":-1,"ed":0,"p":0.004592097078924802,"t":"low","pp":0.004551665559675235,"p'
    b'tr":"low","le":1778336640.0,"li":"a000320-0009","nc":20607,"of":3647,"ob":[],"oo":3647,'
    b'"pe":[20546,20576],"al":{},"bh":0.5312}'
)
_ACCOUNT_3 = b"\x04"
#: Deflate level and strategy of state records: on the bench's states level 6 with
#: Z_FILTERED gave 306 bytes per record at about 23 us, level 3 341 bytes at 18 us, level 1 365
#: at 18 us, level 9 no smaller than 6; at about 1.8 records per event, 6 is what keeps a
#: worker's output under 800 bytes per event (the reader takes any level)
_LEVEL, _STRATEGY = 6, zlib.Z_FILTERED


def _deflate(text: bytes, zdict: bytes) -> bytes:
    deflate = zlib.compressobj(_LEVEL, zlib.DEFLATED, -15, 8, _STRATEGY, zdict)
    return deflate.compress(text) + deflate.flush()


#: A compressor with the dictionary of format 3 set, copied for each record (cheaper than setting
#: the dictionary afresh): an 8 KiB window holds the dictionary and a record, and a smaller hash
#: table than the default; on the bench's account records the same bytes, about 4 us less.
_ACCOUNT_DEFLATE = zlib.compressobj(_LEVEL, zlib.DEFLATED, -13, 5, _STRATEGY, _ZDICT_3)


def _inflate(data: bytes, zdict: bytes) -> bytes:
    inflate = zlib.decompressobj(-15, zdict)
    return inflate.decompress(data) + inflate.flush()


def encode_state(state: AccountState) -> bytes:
    """An account's whole state in one self-contained record (deflated JSON, format 1): what the
    codec writes of a state outside :meth:`TableStore.put`.

    >>> state = AccountState("a1", partition=2, region="north")
    >>> record = encode_state(state)
    >>> record[:1], decode_state(record) == state, len(record) < len(orjson.dumps(state.to_dict()))
    (b'\\x01', True, True)
    """
    return _DEFLATED_1 + _deflate(orjson.dumps(state.to_dict()), _ZDICT_1)


def encode_account(state: AccountState) -> bytes:
    """An account's own record (format 3): its state with its pending snapshots' days only (of
    a state read back from its record whose snapshots were not read yet, the days it names)."""
    d = state.to_dict(snapshots=False)
    written = state.stored
    if isinstance(written, Written) and not written.loaded:
        d["pe"] = list(written.days)
    deflate = _ACCOUNT_DEFLATE.copy()
    return _ACCOUNT_3 + deflate.compress(orjson.dumps(d)) + deflate.flush()


def encode_snapshot(snapshot: Snapshot) -> bytes:
    """A pending snapshot's record (see :func:`snapshot_key`)."""
    return _SNAPSHOT_2 + _deflate(orjson.dumps(snapshot.to_list()), _ZDICT_SNAPSHOT)


def snapshot_key(account_id: str, day: int) -> str:
    """The accounts table's key of an account's snapshot of ``day`` (no account id holds a NUL:
    the event contract refuses one)."""
    return f"{account_id}\x00{day}"


@dataclass(slots=True)
class Written:
    """An account's pending snapshots as its records hold them: the changelog partition they were
    written to, their days, and whether the state's ``pending`` holds them yet (a state read back
    from its record of format 2 or 3 has their days only until :class:`TableStore` reads them)."""

    partition: int
    days: tuple[int, ...]
    loaded: bool


class SnapshotRecord:
    """A pending snapshot as the accounts table holds it under :func:`snapshot_key` (whoever
    walks the table's values tells accounts from these by their type)."""

    __slots__ = ("snapshot",)

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SnapshotRecord) and other.snapshot == self.snapshot

    __hash__ = None  # type: ignore[assignment]


#: the dictionary of each format of an account's own record
_SPLIT = {_ACCOUNT_2: _ZDICT_2, _ACCOUNT_3: _ZDICT_3}


def decode_record(record: bytes) -> AccountState | SnapshotRecord:
    """A value of the accounts table from its changelog record: an account or a snapshot."""
    if record[:1] == _SNAPSHOT_2:
        try:
            row = orjson.loads(_inflate(record[1:], _ZDICT_SNAPSHOT))
        except (zlib.error, orjson.JSONDecodeError) as exc:
            raise ValueError(f"a damaged snapshot record ({exc})") from None
        return SnapshotRecord(Snapshot.from_list(row))
    return decode_state(record)


def decode_state(record: bytes) -> AccountState:
    """An account's state from its record: format 3 or 2 (its snapshots' days only, see
    :class:`Written`), format 1 (deflated JSON) or plain JSON.

    Raises ValueError for a record in none of them.

    >>> decode_state(b'{"a":"a1","pt":0,"r":"","pr":[],"at":{},"br":[],"ds":-1,"ed":0,"p":0.0,'
    ...     b'"t":"","pp":-1.0,"ptr":"","le":0.0,"li":"","nc":-1,"of":-1,"ob":[],"oo":-1,"pe":[],'
    ...     b'"al":{}}').account_id
    'a1'
    """
    head = record[:1]
    try:
        if head in _SPLIT:
            d = orjson.loads(_inflate(record[1:], _SPLIT[head]))
            days, d["pe"] = tuple(d["pe"]), []
            state = AccountState.from_dict(d)
            state.stored = Written(state.partition, days, loaded=not days)
            return state
        if head == _DEFLATED_1:
            record = _inflate(record[1:], _ZDICT_1)
        elif head != b"{":
            raise ValueError(f"not an account-state record (begins with {head!r})")
        return AccountState.from_dict(orjson.loads(record))
    except (zlib.error, orjson.JSONDecodeError) as exc:
        raise ValueError(f"a damaged account-state record ({exc})") from None


def records_of(state: AccountState) -> list[tuple[str, Any, bytes | None, int]]:
    """The changelog records that write ``state`` (whose pending snapshots are loaded), as
    (key, table value, record, changelog partition), a record None for a deletion: its new
    snapshots, its own record, then the deletions of the snapshots resolved since the last
    write. Notes on the state what was written.

    >>> state = AccountState("a1")
    >>> state.pending.append(Snapshot(10, 0.1, [1.0], "v1"))
    >>> [(key, record is not None) for key, _, record, _ in records_of(state)]
    [('a1\\x0010', True), ('a1', True)]
    >>> state.pending.append(Snapshot(24, 0.2, [2.0], "v1"))
    >>> [key for key, *_ in records_of(state)]  # the snapshot of day 10 was written already
    ['a1\\x0024', 'a1']
    >>> state.pending = []
    >>> [(key, record) for key, _, record, _ in records_of(state)][1:]
    [('a1\\x0010', None), ('a1\\x0024', None)]
    """
    account, partition = state.account_id, state.partition
    before = state.stored if isinstance(state.stored, Written) else None
    if before is not None and not before.loaded:
        raise ValueError("the state's pending snapshots were not read from the table")
    days = tuple([snapshot.day for snapshot in state.pending])
    if before is not None and before.days == days and before.partition == partition:
        return [(account, state, encode_account(state), partition)]  # no snapshot made or gone
    if len(set(days)) != len(days):  # keys name the day: the engine makes one a day at most
        raise ValueError("two pending snapshots of one day (snapshot_every_days must be >= 1)")
    kept = set(before.days) if before is not None and before.partition == partition else set()
    out: list[tuple[str, Any, bytes | None, int]] = []
    for snapshot in state.pending:  # a snapshot never changes once made
        if snapshot.day not in kept:
            key = snapshot_key(account, snapshot.day)
            out.append((key, SnapshotRecord(snapshot), encode_snapshot(snapshot), partition))
    state.stored = Written(partition, days, loaded=True)
    out.append((account, state, encode_account(state), partition))
    if before is not None:
        gone = set(before.days).difference(days) if kept else set(before.days)
        out += [(snapshot_key(account, day), None, None, before.partition) for day in sorted(gone)]
    return out


def deletions_of(state: AccountState) -> list[tuple[str, int]]:
    """The keys (and changelog partitions) deleting ``state`` as written deletes."""
    keys = [(state.account_id, state.partition)]
    written = state.stored
    if isinstance(written, Written):
        keys += [(snapshot_key(state.account_id, day), written.partition) for day in written.days]
    return keys


def state_bytes(state: AccountState) -> int:
    """Bytes of an account's records: its own and those of the pending snapshots it holds (of a
    state read back from its record and not yet read by :class:`TableStore`, as a RocksDB
    table's values are, its own only)."""
    return len(encode_account(state)) + sum(len(encode_snapshot(s)) for s in state.pending)


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
        state = self.accounts.get(account_id)
        if not isinstance(state, AccountState):
            return None
        self._load(state)
        return state

    def _load(self, state: AccountState) -> None:
        """Read the pending snapshots of a state read back from its record of format 2 or 3."""
        written = state.stored
        if not isinstance(written, Written) or written.loaded:
            return
        pending, days = [], []
        for day in written.days:
            key = snapshot_key(state.account_id, day)
            record = self.accounts.get(key)
            if isinstance(record, SnapshotRecord):
                pending.append(record.snapshot)
                days.append(day)
            else:  # only a damaged changelog does this: the prediction's outcome is not learnt
                log.warning("a pending snapshot named by an account's record is missing")
        state.pending = pending
        state.stored = Written(written.partition, tuple(days), loaded=True)

    def put(self, state: AccountState) -> None:
        # what the table's own writes do, with the changelog records produced in a batch; a
        # store that keeps bytes (RocksDB) encodes each value with the codec, which takes the
        # record encoded here instead of deflating the same value twice
        self._load(state)
        data = self.accounts.data
        for key, value, record, partition in records_of(state):
            if value is None:
                if key in data:
                    del data[key]
            else:
                _primed[0], _primed[1] = value, record
                try:
                    data[key] = value
                finally:
                    _primed[0] = _primed[1] = None
            self.outbound.add(self.changelog, orjson.dumps(key), record, partition=partition)

    def delete(self, account_id: str) -> None:
        if account_id not in self.accounts:
            return
        data = self.accounts.data
        for key, partition in deletions_of(data[account_id]):
            if key in data:
                del data[key]
            self.outbound.add(self.changelog, orjson.dumps(key), None, partition=partition)

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
            if isinstance(state, AccountState):
                self._load(state)
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
