"""Portfolio tracking: each input partition's book, its day closes, and accounts by risk tier.

Every account product's contribution to its segment (:class:`~monitor.core.portfolio.Contribution`)
is kept on its ledger; :class:`PortfolioTracker` brings it up to date when the account is scored
and applies the change to its partition's :class:`~monitor.core.portfolio.PortfolioBook`. When a
partition's event-time clock leaves a day, the day is closed: the book as it stands is handed on
as the partition's :class:`~monitor.core.schedule.DayPartial` of that day (the portfolio desk
merges the partitions' partials and watches the whole book), and the book is saved (one store
entry per partition and day). What the accounts' own contributions cannot rebuild
(monthly transitions, vintages, the day's drawdowns) is also saved at the end of every batch
that changed it (:meth:`save_books`, a few KB per partition), so a restart loses none of it.
After a restart or a reassignment the sums come back from the
accounts' own contributions (:meth:`recover`); revoking a partition forgets everything held for
it (:meth:`release`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from monitor.core import ledger as lg
from monitor.core.macro import MacroBook
from monitor.core.portfolio import Contribution, Move, PortfolioBook, month_of
from monitor.core.portfolio_watch import PortfolioWatch
from monitor.core.schedule import DayPartial
from monitor.core.state import AccountState
from monitor.core.store import Store, decode_extra, encode_extra


def _key(partition: int) -> str:
    return f"portfolio:p{partition}"


def _book_key(partition: int) -> str:
    return f"portfolio-book:p{partition}"


def _book_parts(book: PortfolioBook) -> tuple[Any, ...]:
    """What a restart cannot rebuild from the accounts: transitions, vintages, drawdowns."""
    return book.transitions, book.vintages, dict(book.drawdowns), book.changes


def _restore_parts(parts: Any, book: PortfolioBook) -> None:
    transitions, vintages, drawdowns, changes = parts
    book.transitions, book.vintages, book.changes = transitions, vintages, changes
    book.drawdowns = defaultdict(float, drawdowns)


class PortfolioTracker:
    """Books, closed days, streamed reserves and tier counts of the input partitions held."""

    def __init__(self, store: Store, lgd: dict[str, float]) -> None:
        self.store = store
        self.lgd = lgd
        self._books: dict[int, PortfolioBook] = {}
        self._closed: dict[int, int] = {}  # the last day closed
        self._reserves: dict[int, float] = {}  # the latest reserve_updated amount
        self._day_macro: dict[int, tuple[int, MacroBook]] = {}  # as the current day began
        self._tiers: dict[int, Counter[str]] = {}
        self._saved: dict[int, int] = {}  # partition -> book.changes when last saved

    # -- per partition --------------------------------------------------------------------
    def book(self, partition: int) -> PortfolioBook:
        """The portfolio book of a partition."""
        book = self._books.get(partition)
        if book is None:
            book = self._books[partition] = PortfolioBook()
        return book

    def closed(self, partition: int) -> int | None:
        """The last day of ``partition`` closed (None before its first event)."""
        return self._closed.get(partition)

    def day_macro(self, partition: int, day: int) -> MacroBook | None:
        """The macro indicators of ``partition`` as ``day`` began (None if not kept)."""
        kept = self._day_macro.get(partition)
        return kept[1] if kept is not None and kept[0] == day else None

    def set_reserve(self, partition: int, amount: float) -> None:
        """A streamed reserve (of the whole portfolio) arrived on ``partition``."""
        self._reserves[partition] = amount

    def recover(self, partition: int, states: Iterable[AccountState]) -> None:
        """Rebuild a partition's book, closed day and tier counts from the store: the book saved
        when its last day closed, with the segment sums recounted from ``states`` (the accounts
        of this partition)."""
        saved = self.store.get_extra(_key(partition))
        if saved is not None:
            fields: Any = decode_extra(saved)
            book, second = fields[0], fields[1]
            reserve, day_macro = fields[2:] if len(fields) > 2 else (None, None)
            if isinstance(second, PortfolioWatch):  # saved with the watch, before the desk
                reserve = second.streamed_reserve
                second = second.day
            self._books[partition], self._closed[partition] = book, second
            if reserve is not None:
                self._reserves[partition] = reserve
            if day_macro is not None:
                self._day_macro[partition] = (second + 1, day_macro)
        book = self.book(partition)
        saved_book = self.store.get_extra(_book_key(partition))
        if saved_book is not None:  # as of the last batch, newer than the day's close
            _restore_parts(decode_extra(saved_book), book)
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
        self._closed.pop(partition, None)
        self._reserves.pop(partition, None)
        self._day_macro.pop(partition, None)
        self._tiers.pop(partition, None)
        self._saved.pop(partition, None)

    def save_books(self) -> None:
        """Save each book's transitions, vintages and drawdowns if they changed since the last
        save (the worker calls this at the end of every batch, before the state is written)."""
        for partition, book in self._books.items():
            if book.changes != self._saved.get(partition):
                self.store.put_extra(
                    _book_key(partition), encode_extra(_book_parts(book)), partition
                )
                self._saved[partition] = book.changes

    def partitions(self) -> set[int]:
        """The partitions with a book, a closed day or tier counts here."""
        return {*self._books, *self._closed, *self._tiers}

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

    def close_days(self, partition: int, today: int, macro: MacroBook) -> list[DayPartial] | None:
        """Close every day of ``partition`` before ``today`` not closed yet; return their
        partials (None: the partition was at ``today`` already; the partition's first event
        closes no day). ``macro`` is the partition's macro book as ``today`` begins."""
        closed = self._closed.get(partition)
        if closed is not None and closed >= today - 1:
            return None
        self._day_macro[partition] = (today, macro.copy())
        if closed is None:
            self._closed[partition] = today - 1
            return []
        book = self.book(partition)
        reserve = self._reserves.get(partition)
        partials = []
        for day in range(closed + 1, today):
            partials.append(DayPartial(partition, day, book.copy(), macro.copy(), reserve))
            book.drawdowns.clear()  # a day's drawdowns go with that day
        book.changes += 1  # the day's drawdowns left the book
        self._closed[partition] = today - 1
        saved = (book, today - 1, reserve, self._day_macro[partition][1])
        self.store.put_extra(_key(partition), encode_extra(saved), partition)
        return partials

    # -- reading --------------------------------------------------------------------------
    def merged(self) -> PortfolioBook:
        """The books of every partition here merged."""
        return PortfolioBook.merged(list(self._books.values()))

    def accounts_by_tier(self) -> dict[str, int]:
        """Open accounts by current risk tier, over the partitions held."""
        total: Counter[str] = Counter()
        for tiers in self._tiers.values():
            total.update(tiers)
        return {tier: n for tier, n in total.items() if n}
