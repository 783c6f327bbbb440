"""The engine's :class:`~monitor.core.store.Store` over changelog-backed Faust tables.

The accounts table's values are :class:`AccountState` objects: the ``account-state`` codec turns
them into compact JSON only on their way to the changelog (and back when a table is recovered),
so an in-memory table hands the engine ready objects instead of decoding a dict on every read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from faust.serializers import codecs

from monitor.core.macro import MacroBook
from monitor.core.state import AccountState

#: Name of the Faust codec of account states (the accounts table's value serializer).
ACCOUNT_CODEC = "account-state"


class AccountStateCodec(codecs.Codec):
    """Account states as the JSON of :meth:`AccountState.to_dict` in changelogs.

    >>> codec = AccountStateCodec()
    >>> codec.loads(codec.dumps(AccountState("a1", partition=2))).partition
    2
    """

    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(obj.to_dict())

    def _loads(self, s: bytes) -> Any:
        return AccountState.from_dict(orjson.loads(s))


codecs.register(ACCOUNT_CODEC, AccountStateCodec())


def state_bytes(state: AccountState) -> int:
    """Bytes of an account's state as its changelog record holds it."""
    return len(orjson.dumps(state.to_dict()))


class TableStore:
    """Account states in one Faust table, macro books (one per partition) in another."""

    def __init__(self, accounts: Any, macro: Any) -> None:
        self.accounts = accounts
        self.macro = macro

    def get(self, account_id: str) -> AccountState | None:
        state: AccountState | None = self.accounts.get(account_id)
        return state

    def put(self, state: AccountState) -> None:
        self.accounts[state.account_id] = state

    def delete(self, account_id: str) -> None:
        if account_id in self.accounts:
            del self.accounts[account_id]

    def get_macro(self, partition: int) -> MacroBook | None:
        raw = self.macro.get(f"p{partition}")
        return MacroBook.from_dict(raw) if raw is not None else None

    def put_macro(self, partition: int, book: MacroBook) -> None:
        self.macro[f"p{partition}"] = book.to_dict()

    def states(self) -> Iterator[AccountState]:
        for state in list(self.accounts.values()):
            if state is not None:
                yield state

    def get_extra(self, key: str) -> str | None:
        value = self.macro.get(key)
        return value if isinstance(value, str) else None

    def put_extra(self, key: str, value: str, partition: int = 0) -> None:
        self.macro[key] = value
