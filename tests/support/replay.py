"""Several input partitions through one engine in one process, on the deterministic schedule.

Each partition's events are taken in order. At an event the partition's clock is brought to the
event's day (:meth:`~monitor.core.engine.Engine.begin`); the event then waits, with the
partition's later events behind it, until the model version of its day is published, which
happens once every partition has passed the day before. This is what the scorers of several
workers do against the learner; run in one process it shows that decisions do not depend on
how the stream is spread over partitions (the schedule's tests use it; the worker itself does not
wait, see ``monitor_schedule_early_scorings_total``).
"""

from __future__ import annotations

from collections import deque

from monitor.core.engine import Decisions, Engine
from monitor.core.events import Event
from monitor.core.timeutil import DAY


class PartitionedReplay:
    """Feeds events of several partitions to one engine, each held until its day's version."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.held: dict[int, deque[tuple[Event, int, Decisions | None]]] = {}
        self.last_day = -1

    def feed(self, event: Event, partition: int, offset: int = -1) -> list[Decisions]:
        """Take one event of ``partition``; return the results of the events that went on."""
        self.held.setdefault(partition, deque()).append((event, offset, None))
        self.last_day = max(self.last_day, event.day)
        return self._drain()

    def end(self) -> list[Decisions]:
        """The stream is over: partitions that will not move again would hold the others' last
        days open, so every partition's clock is brought to the last day seen (its looks before
        it fire) and the events held go on."""
        out: list[Decisions] = []
        for partition, queue in self.held.items():
            if not queue:
                result = Decisions()
                self.engine.catch_up(partition, self.last_day * DAY, result)
                out.append(result)
        return out + self._drain(force=True)

    def _drain(self, force: bool = False) -> list[Decisions]:
        out: list[Decisions] = []
        moved = True
        while moved:
            moved = False
            for partition, queue in self.held.items():
                while queue:
                    event, offset, result = queue[0]
                    if result is None:
                        result = self.engine.begin(event, partition, offset)
                        queue[0] = (event, offset, result)
                        moved = True
                    if not (force or self.engine.ready(event.day)):
                        break
                    queue.popleft()
                    out.append(self.engine.finish(event, partition, offset, result))
                    moved = True
        return out
