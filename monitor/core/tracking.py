"""Portfolio tracking: each input partition's book, day closes, watch and accounts by risk tier.

Every account product's contribution to its segment (:class:`~monitor.core.portfolio.Contribution`)
is kept on its ledger; :class:`PortfolioTracker` brings it up to date when the account is scored
and applies the change to its partition's :class:`~monitor.core.portfolio.PortfolioBook`. When a
partition's event-time clock leaves a day, the day is closed: the
:class:`~monitor.core.portfolio_watch.PortfolioWatch` reads the book as it stands and raises its
alerts, and book and watch are saved (one store entry per partition and day). What the accounts'
own contributions cannot rebuild (monthly transitions, vintages, the day's drawdowns) is also saved
at the end of every batch that changed it (:meth:`save_books`, a few KB per partition), so a
restart loses none of it. After a restart or a reassignment the segment sums come back from the
accounts' own contributions (:meth:`recover`); revoking a partition forgets everything held for it
(:meth:`release`).
"""

from __future__ import annotations

import base64
import pickle
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from monitor.core import ledger as lg
from monitor.core.macro import MacroBook
from monitor.core.portfolio import Contribution, Move, PortfolioBook, month_of
from monitor.core.portfolio_watch import (
    PortfolioWatch,
    WatchConfig,
    decode_portfolio,
    encode_portfolio,
)
from monitor.core.state import AccountState
from monitor.core.store import Store


def _key(partition: int) -> str:
    return f"portfolio:p{partition}"


def _book_key(partition: int) -> str:
    return f"portfolio-book:p{partition}"


def _encode_book(book: PortfolioBook) -> str:
    parts = (book.transitions, book.vintages, dict(book.drawdowns), book.changes)
    return base64.b64encode(pickle.dumps(parts, protocol=5)).decode()


def _decode_book(text: str, book: PortfolioBook) -> None:
    transitions, vintages, drawdowns, changes = pickle.loads(base64.b64decode(text))
    book.transitions, book.vintages, book.changes = transitions, vintages, changes
    book.drawdowns = defaultdict(float, drawdowns)


class PortfolioTracker:
    """Books, watches and tier counts of the input partitions held."""

    def __init__(self, store: Store, lgd: dict[str, float], watch: WatchConfig) -> None:
        self.store = store
        self.lgd = lgd
        self.watch_config = watch
        self._books: dict[int, PortfolioBook] = {}
        self._watches: dict[int, PortfolioWatch] = {}
        self._tiers: dict[int, Counter[str]] = {}
        self._saved: dict[int, int] = {}  # partition -> book.changes when last saved

    # -- per partition --------------------------------------------------------------------
    def book(self, partition: int) -> PortfolioBook:
        """The portfolio book of a partition."""
        book = self._books.get(partition)
        if book is None:
            book = self._books[partition] = PortfolioBook()
        return book

    def watch(self, partition: int, today: int) -> PortfolioWatch:
        """The portfolio watch of a partition (started at ``today`` if there is none)."""
        watch = self._watches.get(partition)
        if watch is None:
            watch = self._watches[partition] = PortfolioWatch(self.watch_config, day=today - 1)
        return watch

    def held_watch(self, partition: int) -> PortfolioWatch | None:
        """The watch of a partition, None before its first event."""
        return self._watches.get(partition)

    def recover(self, partition: int, states: Iterable[AccountState]) -> None:
        """Rebuild a partition's book, watch and tier counts from the store: the saved book and
        watch of its last closed day, with the segment sums recounted from ``states`` (the
        accounts of this partition)."""
        saved = self.store.get_extra(_key(partition))
        if saved is not None:
            self._books[partition], self._watches[partition] = decode_portfolio(saved)
        book = self.book(partition)
        saved_book = self.store.get_extra(_book_key(partition))
        if saved_book is not None:  # as of the last batch, newer than the day's close
            _decode_book(saved_book, book)
        self._saved[partition] = book.changes
        book.segments.clear()  # the sums come back from the accounts' own contributions
        tiers = self._tiers[partition] = Counter()
        for state in states:
            for ledger in state.products.values():
                if ledger.contrib is not None:
                    book.apply(Move(ledger.product, None, Contribution(*ledger.contrib)))
            if state.tier:
                tiers[state.tier] += 1

    def release(self, partition: int) -> None:
        """Forget everything held for a partition (it was revoked)."""
        self._books.pop(partition, None)
        self._watches.pop(partition, None)
        self._tiers.pop(partition, None)
        self._saved.pop(partition, None)

    def save_books(self) -> None:
        """Save each book's transitions, vintages and drawdowns if they changed since the last
        save (the worker calls this at the end of every batch, before the state is written)."""
        for partition, book in self._books.items():
            if book.changes != self._saved.get(partition):
                self.store.put_extra(_book_key(partition), _encode_book(book), partition)
                self._saved[partition] = book.changes

    def partitions(self) -> set[int]:
        """The partitions with a book, a watch or tier counts here."""
        return {*self._books, *self._watches, *self._tiers}

    # -- changes --------------------------------------------------------------------------
    def tier_moved(self, partition: int, old: str | None, new: str | None) -> None:
        """An account of ``partition`` moved from tier ``old`` to ``new`` (None: not counted)."""
        tiers = self._tiers.setdefault(partition, Counter())
        if old:
            tiers[old] -= 1
        if new:
            tiers[new] += 1

    def contribute(self, state: AccountState, day: int) -> list[Move]:
        """Bring each product's contribution to the portfolio book up to date; return the
        changes."""
        book = self.book(state.partition)
        region = state.region or "unknown"
        moves = []
        for ledger in state.products.values():
            new = None
            if not ledger.closed:
                bucket = lg.bucket_of(lg.dpd(ledger, day))
                exposure = lg.outstanding(ledger)
                lgd = self.lgd.get(ledger.product, 1.0)
                new = Contribution(
                    region,
                    bucket,
                    round(exposure, 2),
                    round(state.probability * exposure * lgd, 2),
                    round(state.probability, 5),
                    ledger.limit,
                )
                month = month_of(day)
                if ledger.month != month:
                    if ledger.month >= 0:
                        book.transition(
                            ledger.month, ledger.product, region, ledger.month_bucket, bucket
                        )
                    ledger.month, ledger.month_bucket = month, bucket
            old = Contribution(*ledger.contrib) if ledger.contrib is not None else None
            if new != old:
                move = Move(ledger.product, old, new)
                book.apply(move)
                moves.append(move)
                ledger.contrib = list(new) if new is not None else None
        return moves

    def close_days(
        self,
        partition: int,
        today: int,
        macro: MacroBook,
        model_auc: Callable[[], float | None],
    ) -> list[dict[str, Any]]:
        """Close every day of ``partition`` before ``today`` not closed yet; return the alerts."""
        watch = self.watch(partition, today)
        if watch.day >= today - 1:
            return []
        book = self.book(partition)
        auc = model_auc()
        alerts: list[dict[str, Any]] = []
        for day in range(watch.day + 1, today):
            alerts += watch.close_day(day, book, macro, auc)
        book.changes += 1  # a close takes the day's drawdowns out of the book
        self.store.put_extra(_key(partition), encode_portfolio(book, watch), partition)
        return alerts

    # -- reading --------------------------------------------------------------------------
    def portfolio(self) -> tuple[PortfolioBook, list[dict[str, Any]]]:
        """The books of every partition here merged, and the open portfolio alerts."""
        merged = PortfolioBook.merged(list(self._books.values()))
        open_alerts = [a for w in self._watches.values() for a in w.open.values()]
        return merged, open_alerts

    def accounts_by_tier(self) -> dict[str, int]:
        """Open accounts by current risk tier, over the partitions held."""
        total: Counter[str] = Counter()
        for tiers in self._tiers.values():
            total.update(tiers)
        return {tier: n for tier, n in total.items() if n}
