"""How many of a day's looks a partition fires at each of its events.

The looks due on a day (bill looks, label-horizon ends) are spread over the day's events rather
than fired at its first one, which would pause the stream. :class:`LookPace` spreads them evenly
over the first half of as many events as the partition had yesterday (a day may have fewer events
than the one before, and looks left at its end would all fire at the next day's first event),
never more than ``cap`` at one event. Without a yesterday to go by (the first day, after a quiet
day or a restart) it fires ``cap`` per event. The pace depends on the partition's events alone,
so a replay fires the same looks at the same events.

>>> pace = LookPace(cap=2)
>>> for day in (5, 5, 5, 6):
...     pace.schedule(day)
>>> pace.next_event(5), pace.allowed()  # no yesterday: up to the cap
(None, 2)
>>> for _ in range(3):
...     pace.next_event(5)
>>> pace.next_event(6)  # 4 events yesterday, 1 look due today
>>> pace.allowed()
1
>>> pace.fired += 1
>>> [(pace.next_event(6), pace.allowed())[1] for _ in range(3)]
[0, 0, 0]
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LookPace:
    """The look budget of one partition's current day."""

    #: looks fired at one event at most
    cap: int
    day: int = -1
    #: timers put in the index for ``day`` (superseded ones too: an overestimate)
    due: int = 0
    #: events expected today: yesterday's count (0 when unknown)
    expected: int = 0
    seen: int = 0
    fired: int = 0
    #: timers put in the index, by day (kept as counts: scanning the index took 10-20 ms)
    scheduled: dict[int, int] = field(default_factory=dict)

    def schedule(self, day: int) -> None:
        """Count a timer put in the index for ``day``."""
        self.scheduled[day] = self.scheduled.get(day, 0) + 1

    def next_event(self, today: int) -> None:
        """Count an event of ``today``; on a new day, take its looks and yesterday's events."""
        if today != self.day:
            yesterday = self.seen if self.day == today - 1 else 0
            for day in [d for d in self.scheduled if d < today]:
                del self.scheduled[day]
            due = self.scheduled.pop(today, 0)
            self.day, self.due, self.expected, self.seen, self.fired = today, due, yesterday, 0, 0
        self.seen += 1

    def allowed(self) -> int:
        """How many more of today's looks may fire at this event."""
        if self.expected > 0:  # done by half of yesterday's count: today may have fewer
            target = min(-(-self.due * self.seen * 2 // self.expected), self.due)  # ceiling
        else:
            target = self.seen * self.cap
        return max(0, min(target - self.fired, self.cap))
