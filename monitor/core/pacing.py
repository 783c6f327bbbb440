"""How many of a day's looks a partition fires at each of its events.

The looks due on a day (bill looks, label-horizon ends) are spread over the day's events rather
than fired at its first one, which would pause the stream. :class:`LookPace` spreads them evenly:
it expects as many events today as the partition had yesterday, and lets the looks keep pace with
the share of those events seen so far, never more than ``cap`` at one event. Without a yesterday
to go by (the first day, after a quiet day or a restart) it fires ``cap`` per event. The pace
depends on the partition's events alone, so a replay fires the same looks at the same events.

>>> pace = LookPace(cap=2)
>>> heap = [(5, "a"), (5, "b"), (5, "c"), (6, "d")]
>>> pace.next_event(5, heap), pace.allowed()  # no yesterday: up to the cap
(None, 2)
>>> for _ in range(3):
...     pace.next_event(5, heap)
>>> pace.next_event(6, heap)  # 4 events yesterday, 1 look due today
>>> [pace.allowed()] + [(pace.next_event(6, heap), pace.allowed())[1] for _ in range(3)]
[1, 1, 1, 1]
>>> pace.fired += 1
>>> pace.allowed()
0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class LookPace:
    """The look budget of one partition's current day."""

    #: looks fired at one event at most
    cap: int
    day: int = -1
    #: timers in the index for ``day`` when it began (superseded ones too: an overestimate)
    due: int = 0
    #: events expected today: yesterday's count (0 when unknown)
    expected: int = 0
    seen: int = 0
    fired: int = 0

    def next_event(self, today: int, heap: Sequence[tuple[int, str]]) -> None:
        """Count an event of ``today``; on a new day, count its looks and yesterday's events."""
        if today != self.day:
            yesterday = self.seen if self.day == today - 1 else 0
            due = sum(1 for day, _ in heap if day == today)
            self.day, self.due, self.expected, self.seen, self.fired = today, due, yesterday, 0, 0
        self.seen += 1

    def allowed(self) -> int:
        """How many more of today's looks may fire at this event."""
        if self.expected > 0:
            target = -(-self.due * self.seen // self.expected)  # ceiling
        else:
            target = self.seen * self.cap
        return max(0, min(target - self.fired, self.cap))
