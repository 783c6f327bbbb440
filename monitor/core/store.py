"""Where the engine keeps account state: a small protocol with an in-memory implementation.

Inside the worker the store is backed by changelogged Faust tables; in the backtest and in unit
tests it is :class:`MemoryStore`.
"""

from __future__ import annotations

import base64
import pickle
import zlib
from collections.abc import Callable, Collection, Iterator
from typing import Protocol

from monitor.core.macro import MacroBook
from monitor.core.state import AccountState

#: Marks a deflated extra (the text of one written before is the plain pickle's base64).
_DEFLATED = "Z:"


def encode_extra(value: object) -> str:
    """The monitor's own state (books, desk, learner, outcomes) as text for a store extra: its
    pickle, deflated (about half the bytes for the models, a quarter for the books).

    >>> text = encode_extra({"north": [1.0] * 100})
    >>> text[:2], decode_extra(text) == {"north": [1.0] * 100}
    ('Z:', True)
    >>> decode_extra(base64.b64encode(pickle.dumps([1, 2])).decode())  # written before
    [1, 2]
    """
    packed = zlib.compress(pickle.dumps(value, protocol=5), 6)
    return _DEFLATED + base64.b64encode(packed).decode()


def decode_extra(text: str) -> object:
    """The inverse of :func:`encode_extra` (the monitor's own state only; also reads the
    undeflated extras written before)."""
    if text.startswith(_DEFLATED):
        return pickle.loads(zlib.decompress(base64.b64decode(text[len(_DEFLATED) :])))
    return pickle.loads(base64.b64decode(text))


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

    def put_extra(self, key: str, value: str, partition: int = 0) -> None:
        """Keep ``value`` under ``key``; it belongs to input ``partition``."""
        ...

    def delete_extra(self, key: str, partition: int = 0) -> None:
        """Forget ``key`` (of input ``partition``)."""
        ...

    def extras(self, prefix: str) -> Iterator[tuple[str, str]]:
        """Every (key, value) whose key starts with ``prefix``."""
        ...


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

    def put_extra(self, key: str, value: str, partition: int = 0) -> None:
        self.extra[key] = value

    def delete_extra(self, key: str, partition: int = 0) -> None:
        self.extra.pop(key, None)

    def extras(self, prefix: str) -> Iterator[tuple[str, str]]:
        return iter([(k, v) for k, v in self.extra.items() if k.startswith(prefix)])


class WriteBackStore:
    """A :class:`Store` that holds the states it reads or writes until :meth:`flush`.

    Between flushes, an account read or written several times is converted once and written once
    (to a changelogged table, one record per account per flush instead of one per change). The
    caller flushes at the end of each batch, before the batch's input offsets are committed.
    :meth:`flush` also empties the cache, so memory stays bounded by a batch.

    >>> inner = MemoryStore()
    >>> store = WriteBackStore(inner)
    >>> store.put(AccountState("a1", partition=3))
    >>> inner.get("a1") is None, store.get("a1").account_id
    (True, 'a1')
    >>> store.flush(lambda partition: print("writing partition", partition))
    writing partition 3
    1
    >>> inner.get("a1").account_id
    'a1'
    """

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self._cache: dict[str, AccountState | None] = {}
        self._dirty: dict[str, int] = {}  # account id -> partition
        self._macro: dict[int, MacroBook] = {}
        #: None: deleted; a callable: rendered when read or flushed (see put_extra_later)
        self._extra: dict[str, tuple[str | Callable[[], str] | None, int]] = {}

    def get(self, account_id: str) -> AccountState | None:
        try:
            return self._cache[account_id]
        except KeyError:
            state = self._cache[account_id] = self.inner.get(account_id)
            return state

    def put(self, state: AccountState) -> None:
        self._cache[state.account_id] = state
        self._dirty[state.account_id] = state.partition

    def delete(self, account_id: str) -> None:
        state = self.get(account_id)
        if state is not None:
            self._cache[account_id] = None
            self._dirty[account_id] = state.partition

    def get_macro(self, partition: int) -> MacroBook | None:
        if partition in self._macro:
            return self._macro[partition]
        return self.inner.get_macro(partition)

    def put_macro(self, partition: int, book: MacroBook) -> None:
        self._macro[partition] = book

    def states(self) -> Iterator[AccountState]:
        cached = dict(self._cache)
        yield from (state for state in cached.values() if state is not None)
        yield from (state for state in self.inner.states() if state.account_id not in cached)

    def get_extra(self, key: str) -> str | None:
        if key in self._extra:
            return _text(self._extra[key][0])
        return self.inner.get_extra(key)

    def put_extra(self, key: str, value: str, partition: int = 0) -> None:
        self._extra[key] = (value, partition)

    def put_extra_later(self, key: str, render: Callable[[], str], partition: int = 0) -> None:
        """Keep under ``key`` what ``render()`` returns when the store is flushed (or ``key`` read
        before): a value that grows during a batch is encoded once, as it stands at the end."""
        self._extra[key] = (render, partition)

    def delete_extra(self, key: str, partition: int = 0) -> None:
        self._extra[key] = (None, partition)

    def extras(self, prefix: str) -> Iterator[tuple[str, str]]:
        pending = {k: _text(v) for k, (v, _) in self._extra.items() if k.startswith(prefix)}
        yield from ((k, v) for k, v in pending.items() if v is not None)
        yield from ((k, v) for k, v in self.inner.extras(prefix) if k not in pending)

    def flush(
        self,
        before: Callable[[int], None] | None = None,
        skip: Collection[int] = (),
    ) -> int:
        """Write every changed state, macro book and extra to the inner store; forget the rest.

        Writes go partition by partition; ``before(partition)`` is called before each (the
        worker points Faust's current event at that partition, which its tables write to).
        What belongs to a partition in ``skip`` stays held, for a later flush (a partition
        whose batch is still under way). Returns the number of account writes (deletes
        included).

        >>> store = WriteBackStore(MemoryStore())
        >>> store.put(AccountState("a1", partition=0)); store.put(AccountState("b1", partition=1))
        >>> store.flush(skip={1}), store.inner.get("b1") is None, store.get("b1").account_id
        (1, True, 'b1')
        >>> store.flush(), store.inner.get("b1").account_id
        (1, 'b1')
        """
        partitions = self.partitions()
        written = 0
        for partition in sorted(partitions - set(skip)):
            if before is not None:
                before(partition)
            for account_id, home in self._dirty.items():
                if home == partition:
                    written += 1
                    state = self._cache[account_id]
                    if state is None:
                        self.inner.delete(account_id)
                    else:
                        self.inner.put(state)
            if partition in self._macro:
                self.inner.put_macro(partition, self._macro[partition])
            for key, (value, home) in self._extra.items():
                if home == partition:
                    if value is None:
                        self.inner.delete_extra(key, home)
                    else:
                        self.inner.put_extra(key, _text(value) or "", home)
        if not skip:
            self._cache.clear()
            self._dirty.clear()
            self._macro.clear()
            self._extra.clear()
            return written
        held = set(skip)
        self._dirty = {a: p for a, p in self._dirty.items() if p in held}
        self._cache = {a: self._cache[a] for a in self._dirty}
        self._macro = {p: book for p, book in self._macro.items() if p in held}
        self._extra = {k: v for k, v in self._extra.items() if v[1] in held}
        return written

    def partitions(self) -> set[int]:
        """The partitions that something held for the next flush belongs to."""
        return {*self._dirty.values(), *self._macro, *(p for _, p in self._extra.values())}

    def discard(self, partition: int) -> None:
        """Forget what is held for ``partition`` unwritten (its batch is abandoned)."""
        self._dirty = {a: p for a, p in self._dirty.items() if p != partition}
        self._cache = {a: s for a, s in self._cache.items() if a in self._dirty}
        self._macro.pop(partition, None)
        self._extra = {k: v for k, v in self._extra.items() if v[1] != partition}


def _text(value: str | Callable[[], str] | None) -> str | None:
    return value() if callable(value) else value
