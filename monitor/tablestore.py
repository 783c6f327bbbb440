"""The engine's :class:`~monitor.core.store.Store` over changelog-backed Faust tables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from monitor.core.macro import MacroBook
from monitor.core.state import AccountState


class TableStore:
    """Account states in one Faust table, macro books (one per partition) in another."""

    def __init__(self, accounts: Any, macro: Any) -> None:
        self.accounts = accounts
        self.macro = macro

    def get(self, account_id: str) -> AccountState | None:
        raw = self.accounts.get(account_id)
        return AccountState.from_dict(raw) if raw is not None else None

    def put(self, state: AccountState) -> None:
        self.accounts[state.account_id] = state.to_dict()

    def delete(self, account_id: str) -> None:
        if account_id in self.accounts:
            del self.accounts[account_id]

    def get_macro(self, partition: int) -> MacroBook | None:
        raw = self.macro.get(f"p{partition}")
        return MacroBook.from_dict(raw) if raw is not None else None

    def put_macro(self, partition: int, book: MacroBook) -> None:
        self.macro[f"p{partition}"] = book.to_dict()

    def states(self) -> Iterator[AccountState]:
        for raw in list(self.accounts.values()):
            if raw is not None:
                yield AccountState.from_dict(raw)

    def get_extra(self, key: str) -> str | None:
        value = self.macro.get(key)
        return value if isinstance(value, str) else None

    def put_extra(self, key: str, value: str, partition: int = 0) -> None:
        self.macro[key] = value
