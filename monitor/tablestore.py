"""The engine's :class:`~monitor.core.store.Store` over changelog-backed Faust tables.

The accounts table's values are :class:`AccountState` objects: the ``account-state`` codec turns
them into compact JSON only on their way to the changelog (and back when a table is recovered),
so an in-memory table hands the engine ready objects instead of decoding a dict on every read.
With an :class:`~monitor.outbound.Outbound`, a write sets the table's store and queues the
changelog record there (Faust's own write would send it alone, at several times the cost); the
record is the one Faust writes: the key as JSON, the value in the codec.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import faust
import orjson
from faust.serializers import codecs

from monitor.core.macro import MacroBook
from monitor.core.state import AccountState
from monitor.outbound import Outbound

#: Name of the Faust codec of account states (the accounts table's value serializer).
ACCOUNT_CODEC = "account-state"


class AccountStateCodec(codecs.Codec):
    """Account states as the JSON of :meth:`AccountState.to_dict` in changelogs.

    >>> codec = AccountStateCodec()
    >>> codec.loads(codec.dumps(AccountState("a1", partition=2))).partition
    2
    """

    def _dumps(self, obj: Any) -> bytes:
        return encode_state(obj)

    def _loads(self, s: bytes) -> Any:
        return AccountState.from_dict(orjson.loads(s))


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


def encode_state(state: AccountState) -> bytes:
    """An account's state as its changelog record holds it."""
    return orjson.dumps(state.to_dict())


def state_bytes(state: AccountState) -> int:
    """Bytes of an account's state as its changelog record holds it."""
    return len(encode_state(state))


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
        # what the table's own write does, with the changelog record produced in a batch
        self.accounts.data[state.account_id] = state
        self.outbound.add(
            self.changelog,
            orjson.dumps(state.account_id),
            encode_state(state),
            partition=state.partition,
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
