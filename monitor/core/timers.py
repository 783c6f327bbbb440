"""Event-time timers and their pacing, per input partition.

An account is looked at again without an event of its own on the days its unpaid bills call for
(:data:`BILL_LOOKS`: before a due date, the day after it and at each DPD milestone) and when a
pending prediction's label horizon ends. :class:`Timers` keeps, per input partition, the index of
those looks and the :class:`~monitor.core.pacing.LookPace` that spreads a day's looks over the
day's events; a partition's timers run on its own clock only, so a partition that lags behind
another in a replay never has its accounts judged on another partition's clock.

The index may hold superseded entries (an account rescheduled since): the account's own
``next_check`` says which look is current, and the caller skips the others.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable

from monitor.core.pacing import LookPace
from monitor.core.state import AccountState

#: Days past due at which a past-due account is looked at again without an event.
DPD_MILESTONES = (1, 3, 7, 10, 14, 18, 23, 30, 45, 60, 90)
#: Days before a due date at which an account with an unpaid bill is looked at.
PRE_DUE_DAYS = 3
#: Days, relative to an unpaid bill's due date, on which its account is looked at again: before
#: the due date, the day after it, and at each DPD milestone (ascending).
BILL_LOOKS = tuple(sorted({-PRE_DUE_DAYS, 1, *DPD_MILESTONES}))


def unpaid_dues(state: AccountState) -> list[int]:
    """Due days of the unsatisfied bills of the account's open products."""
    return [
        bill.due
        for ledger in state.products.values()
        if not ledger.closed
        for bill in ledger.bills
        if not bill.satisfied
    ]


def is_bill_look(state: AccountState, day: int) -> bool:
    """True if ``day`` is one of the :data:`BILL_LOOKS` of an unpaid bill, rather than only a
    label horizon's end."""
    return any(day - due in BILL_LOOKS for due in unpaid_dues(state))


def next_look(state: AccountState, day: int, horizon_days: int) -> int:
    """The account's next look after ``day`` (-1: none): the earliest of its unpaid bills' next
    :data:`BILL_LOOKS` and its pending snapshots' horizon ends."""
    nxt = -1
    for due in unpaid_dues(state):
        i = bisect.bisect_right(BILL_LOOKS, day - due)
        if i < len(BILL_LOOKS) and (nxt < 0 or due + BILL_LOOKS[i] < nxt):
            nxt = due + BILL_LOOKS[i]
    if state.pending:
        end = min(s.day for s in state.pending) + horizon_days + 1
        nxt = end if nxt < 0 else min(nxt, end)
    return nxt


class Timers:
    """The look index and pace of every input partition held."""

    def __init__(self, looks_per_event: int) -> None:
        self.looks_per_event = looks_per_event
        self._heaps: dict[int, list[tuple[int, str]]] = {}
        self._paces: dict[int, LookPace] = {}

    def push(self, partition: int, day: int, account_id: str) -> None:
        """Index a look of ``account_id`` on ``day``."""
        heapq.heappush(self._heaps.setdefault(partition, []), (day, account_id))
        self._pace(partition).schedule(day)

    def _pace(self, partition: int) -> LookPace:
        pace = self._paces.get(partition)
        if pace is None:
            pace = self._paces[partition] = LookPace(self.looks_per_event)
        return pace

    def catch_up(
        self,
        partition: int,
        today: int,
        look: Callable[[int, str], bool],
        close: Callable[[int], None],
    ) -> None:
        """Count an event of ``partition`` on ``today`` and fire every look due before
        ``today``; ``close(day)`` is called before each (the days before it close) and once for
        ``today``. ``look(day, account)`` fires a look and says whether it was current."""
        heap = self._heaps.get(partition)
        self._pace(partition).next_event(today)
        while heap and heap[0][0] < today:
            day, account_id = heapq.heappop(heap)
            close(day)
            look(day, account_id)
        close(today)

    def fire_today(self, partition: int, today: int, look: Callable[[int, str], bool]) -> None:
        """After :meth:`catch_up`, fire as many of today's looks as the partition's pace
        allows at this event."""
        heap = self._heaps.get(partition)
        pace = self._pace(partition)
        allowed = pace.allowed()
        while heap and heap[0][0] <= today and allowed > 0:
            day, account_id = heapq.heappop(heap)
            if look(day, account_id):
                allowed -= 1
                pace.fired += 1

    def release(self, partition: int) -> None:
        """Forget a partition's index and pace (it was revoked)."""
        self._heaps.pop(partition, None)
        self._paces.pop(partition, None)

    def partitions(self) -> set[int]:
        """The partitions with an index or a pace here."""
        return {*self._heaps, *self._paces}
