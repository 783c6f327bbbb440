"""Where the engine keeps account state: a small protocol with an in-memory implementation.

Inside the worker the store is backed by changelogged Faust tables; in the backtest and in unit
tests it is :class:`MemoryStore`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from monitor.core.macro import MacroBook
from monitor.core.state import AccountState


class Store(Protocol):
    """Account states by id, one macro book per input partition, and other per-partition
    state (the portfolio book) as opaque strings."""

    def get(self, account_id: str) -> AccountState | None: ...

    def put(self, state: AccountState) -> None: ...

    def delete(self, account_id: str) -> None: ...

    def get_macro(self, partition: int) -> MacroBook | None: ...

    def put_macro(self, partition: int, book: MacroBook) -> None: ...

    def states(self) -> Iterator[AccountState]: ...

    def get_extra(self, key: str) -> str | None: ...

    def put_extra(self, key: str, value: str) -> None: ...


class MemoryStore:
    """A dict-backed :class:`Store`."""

    def __init__(self) -> None:
        self.accounts: dict[str, AccountState] = {}
        self.macro: dict[int, MacroBook] = {}
        self.extra: dict[str, str] = {}

    def get(self, account_id: str) -> AccountState | None:
        return self.accounts.get(account_id)

    def put(self, state: AccountState) -> None:
        self.accounts[state.account_id] = state

    def delete(self, account_id: str) -> None:
        self.accounts.pop(account_id, None)

    def get_macro(self, partition: int) -> MacroBook | None:
        return self.macro.get(partition)

    def put_macro(self, partition: int, book: MacroBook) -> None:
        self.macro[partition] = book

    def states(self) -> Iterator[AccountState]:
        return iter(list(self.accounts.values()))

    def get_extra(self, key: str) -> str | None:
        return self.extra.get(key)

    def put_extra(self, key: str, value: str) -> None:
        self.extra[key] = value
