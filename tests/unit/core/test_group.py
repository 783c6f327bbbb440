"""The schedule spread over a group: scorers in several processes, one keeper, records between."""

from __future__ import annotations

import random
from collections import deque
from typing import Any

import orjson
import pytest

from monitor.core.engine import Decisions, Engine
from monitor.core.events import Event, parse_event
from monitor.core.group import OUTCOMES, PARTIALS, GroupSchedule, Keeper
from monitor.core.models import ModelBook
from monitor.core.store import MemoryStore
from tests.unit.core.test_schedule import _alerts, _config, _events, _one_partition

pytestmark = pytest.mark.unit


class _Group:
    """Scorers (an engine each, holding some of the input partitions), one keeper, and the
    three topics between them as lists, read at random paces."""

    def __init__(self, partitions: int, workers: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.config = _config(partitions)
        self.keeper = Keeper(ModelBook(), self.config.watch, partitions=partitions)
        self.topics: dict[str, list[bytes]] = {OUTCOMES: [], PARTIALS: []}
        self.models: list[tuple[bytes, bytes | None]] = []
        self.read: list[int] = [0] * workers  # how far each scorer has read the models topic
        self.engines = [
            Engine(MemoryStore(), config=self.config, schedule=GroupSchedule())
            for _ in range(workers)
        ]
        self.owner = {p: p % workers for p in range(partitions)}
        self.held: dict[int, deque[tuple[Event, int, Decisions | None]]] = {
            p: deque() for p in range(partitions)
        }
        self.results: list[Decisions] = []
        self.portfolio: list[dict[str, Any]] = []
        self.snapshot: bytes | None = None
        self._publish(self.keeper.start())

    def _publish(self, records: list[tuple[bytes, bytes | None]]) -> None:
        self.models += records

    def feed(self, event: Event, partition: int, offset: int) -> None:
        self.held[partition].append((event, offset, None))

    def step(self, force: bool = False) -> bool:
        """Move every partition as far as its version allows, then let the keeper and the
        scorers read part of what is on the topics; True if anything moved."""
        moved = False
        for partition, queue in self.held.items():
            engine = self.engines[self.owner[partition]]
            while queue:
                event, offset, result = queue[0]
                if result is None:
                    result = engine.begin(event, partition, offset)
                    queue[0] = (event, offset, result)
                    moved = True
                if not (force or engine.ready(event.day)):
                    break
                queue.popleft()
                self.results.append(engine.finish(event, partition, offset, result))
                moved = True
        for engine in self.engines:
            assert isinstance(engine.schedule, GroupSchedule)
            for topic, _, value in engine.schedule.drain():
                self.topics[topic].append(value)
        for topic in (OUTCOMES, PARTIALS):  # the keeper reads each topic at its own pace
            log = self.topics[topic]
            end = self.keeper.positions[topic]
            upto = len(log) if self.rng.random() < 0.5 else self.rng.randint(end, len(log))
            for offset in range(end, upto):
                self.keeper.take(topic, log[offset], offset)
                moved = True
        self._publish(self.keeper.publish())
        self.portfolio += self.keeper.take_alerts()
        if self.keeper.changed:  # as the keeper's worker does once what it publishes is written
            self.snapshot, self.keeper.changed = self.keeper.snapshot(), False
        for i, engine in enumerate(self.engines):
            upto = self.rng.randint(self.read[i], len(self.models))
            schedule = engine.schedule
            assert isinstance(schedule, GroupSchedule)
            for key, published in self.models[self.read[i] : upto]:
                schedule.take(key, published)
                moved = True
            self.read[i] = upto
        return moved

    def resend(self, partition: int, records: int) -> None:
        """A worker takes ``partition`` over and sends its last ``records`` schedule records
        again (those its state kept, which had reached the topics after all)."""
        for topic in (OUTCOMES, PARTIALS):
            mine = [v for v in self.topics[topic] if orjson.loads(v)["partition"] == partition]
            self.topics[topic] += mine[-records:]

    def crash(self) -> None:
        """The keeper's worker dies: another starts from the last snapshot (what it published
        since is published again, the same)."""
        self.keeper = Keeper(ModelBook(), self.config.watch, partitions=len(self.held))
        self._publish(self.keeper.start(self.snapshot))

    def alerts(self) -> list[tuple[Any, ...]]:
        portfolio = Decisions(alerts=self.portfolio)  # a crash may raise one twice: by id
        return sorted(set(_alerts([*self.results, portfolio])))


def _run(
    partitions: int, workers: int, seed: int, crashes: int = 0, resends: int = 0
) -> tuple[_Group, list[tuple[Any, ...]]]:
    group = _Group(partitions, workers, seed)
    lines = _events("macro-shock", 11)
    rng = random.Random(seed)
    at = set(rng.sample(range(len(lines)), crashes))
    again = set(rng.sample(range(len(lines)), resends))
    offsets = [0] * partitions
    for n, line in enumerate(lines):
        if n in at:
            group.crash()
        if n in again:
            group.resend(rng.randrange(partitions), rng.randint(1, 40))
        event = parse_event(line)
        if event.account_id:
            targets = [sum(event.account_id.encode()) % partitions]
        else:  # macro indicators and reserves go to every partition
            targets = list(range(partitions))
        for partition in targets:
            group.feed(event, partition, offsets[partition])
            offsets[partition] += 1
        group.step()
    while group.step():
        pass
    return group, group.alerts()


@pytest.mark.parametrize(("partitions", "workers", "seed"), [(4, 2, 1), (3, 3, 2), (2, 1, 3)])
def test_a_group_of_scorers_and_one_keeper_decide_what_one_process_does(
    partitions: int, workers: int, seed: int
) -> None:
    group, alerts = _run(partitions, workers, seed)
    for engine in group.engines:
        assert isinstance(engine.schedule, GroupSchedule)
        assert engine.schedule.early == 0  # every scoring waited for its day's version
    assert alerts == _one_partition("macro-shock", 11)


def test_a_keeper_that_takes_over_from_the_last_snapshot_changes_no_decision() -> None:
    group, alerts = _run(4, 2, seed=5, crashes=6)
    assert alerts == _one_partition("macro-shock", 11)
    assert group.keeper.learner.late == 0


def test_records_a_partition_hands_on_again_change_no_decision() -> None:
    """After a takeover a worker sends again what the partition's state kept, which may have
    reached the topics already and span more days than the learner remembers keys of."""
    group, alerts = _run(4, 2, seed=8, crashes=2, resends=12)
    assert alerts == _one_partition("macro-shock", 11)
    assert group.keeper.learner.late == 0


def test_a_partitions_outcomes_leave_as_one_record_before_its_clock() -> None:
    """A partition's outcomes since its last drain or clock leave together, ahead of the clock
    that may close their day; a partition held back keeps its outcomes for a later drain, and
    a partition abandoned forgets them."""
    import orjson

    from monitor.core.group import outcomes_of
    from monitor.core.schedule import LABEL, Outcome

    def outcome(partition: int, n: int) -> Outcome:
        return Outcome(
            LABEL, 10, float(n), f"a{n}", {"dpd": float(n)}, n % 2 == 0, 0.5, "m@1", partition, n
        )

    scorer = GroupSchedule()
    for n in range(3):
        scorer.outcome(outcome(0, n))
    scorer.outcome(outcome(1, 7))
    scorer.passed(0, 11, [])
    scorer.outcome(outcome(0, 3))
    scorer.outcome(outcome(2, 8))
    out = scorer.drain(skip={1})
    records = [(key, orjson.loads(value)) for topic, key, value in out if topic == OUTCOMES]
    kinds = [(key, r["type"]) for key, r in records]
    assert kinds == [(b"0", "outcomes"), (b"0", "clock"), (b"0", "outcomes"), (b"2", "outcomes")]
    assert [o.offset for o in outcomes_of(records[0][1])] == [0, 1, 2]
    assert [o.offset for o in outcomes_of(records[2][1])] == [3]
    scorer.outcome(outcome(1, 9))
    [(_, key, value)] = scorer.drain()
    assert key == b"1" and [o.offset for o in outcomes_of(orjson.loads(value))] == [7, 9]
    scorer.outcome(outcome(3, 5))
    scorer.discard(3)
    assert scorer.drain() == []
