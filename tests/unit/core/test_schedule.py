"""The deterministic schedule: one learner, one portfolio desk, whatever the partitioning."""

from __future__ import annotations

import random
from dataclasses import replace
from functools import cache
from typing import Any

import orjson
import pytest

from monitor import simulator as sim
from monitor.core.engine import Engine, EngineConfig
from monitor.core.events import parse_event
from monitor.core.models import ModelBook
from monitor.core.portfolio_watch import WatchConfig
from monitor.core.schedule import LABEL, Learner, LocalSchedule, Outcome
from monitor.core.store import MemoryStore
from tests.support.replay import PartitionedReplay

pytestmark = pytest.mark.unit


def _outcomes(n: int, day: int, seed: int = 3) -> list[Outcome]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        dpd = rng.choice([0.0, 0.0, 5.0, 20.0])
        out.append(
            Outcome(
                LABEL,
                day,
                day * 86400.0 - rng.randint(0, 60) * 86400.0,
                f"a{i}",
                {"dpd": dpd, "pay_to_due_ratio": 1.0 if dpd == 0 else 0.2},
                rng.random() < (0.6 if dpd >= 20 else 0.05),
                0.1,
                partition=i % 3,
            )
        )
    return out


def test_a_day_is_learnt_in_one_order_whatever_order_its_outcomes_came_in() -> None:
    outcomes = _outcomes(400, day=100)
    books = []
    for order in (outcomes, list(reversed(outcomes)), outcomes + outcomes[:50]):  # + redelivered
        learner = Learner(ModelBook(min_labels=50, min_positives=5), partitions=[0, 1, 2])
        for partition in (0, 1, 2):
            learner.passed(partition, 100)
        for outcome in order:
            learner.add(outcome)
        for partition in (0, 1, 2):
            learner.passed(partition, 101)
        books.append(learner.models)
    x = {"dpd": 20.0, "pay_to_due_ratio": 0.2}
    assert books[0].labels == books[1].labels == books[2].labels == 400
    predictions = {b.champion.model.predict(x) for b in books}
    assert len(predictions) == 1 and len({b.version for b in books}) == 1


def test_a_day_closes_when_every_partition_has_passed_it_and_scores_from_the_lag_on() -> None:
    learner = Learner(ModelBook(min_labels=1, min_positives=0), lag=2, partitions=[0, 1])
    learner.passed(0, 10)
    learner.passed(1, 10)
    for outcome in _outcomes(20, day=10):
        learner.add(outcome)
    assert learner.passed(0, 11) == []  # partition 1 is still on day 10
    assert learner.versions.for_day(12).labels == 0
    assert not learner.versions.ready(12)
    assert learner.passed(1, 11) == [10]
    assert learner.versions.ready(12) and not learner.versions.ready(13)
    assert learner.versions.for_day(11).labels == 0  # day 10's learning scores from day 12
    assert learner.versions.for_day(12).labels == learner.models.labels == 20
    # a model version is a copy: what the learner learns later does not change it
    learner.add(_outcomes(5, day=11, seed=4)[0])
    learner.passed(0, 12)
    learner.passed(1, 12)
    assert learner.versions.for_day(12).labels == 20


def _events(scenario: str, seed: int) -> list[bytes]:
    config = sim.SimConfig(accounts=600, days=150, seed=seed, scenario=scenario)
    return [orjson.dumps(e) for e in sim.simulate(config).events]


def _config(partitions: int) -> EngineConfig:
    watch = WatchConfig(reserve=150_000.0, min_segment=40, partitions=partitions)
    return EngineConfig(watch=watch)


def _alerts(results: list[Any]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            a["kind"],
            a["alert_id"],
            a["status"],
            a["event_time"],
            a.get("probability"),
            a.get("model_version"),
        )
        for r in results
        for a in r.alerts
    )


@cache
def _one_partition(scenario: str, seed: int) -> list[tuple[Any, ...]]:
    engine = Engine(MemoryStore(), ModelBook(), _config(1))
    return _alerts([engine.process(parse_event(line)) for line in _events(scenario, seed)])


def _spread(scenario: str, seed: int, partitions: int) -> list[tuple[Any, ...]]:
    config = _config(partitions)
    schedule = LocalSchedule(ModelBook(), config.watch, partitions=range(partitions))
    replay = PartitionedReplay(Engine(MemoryStore(), config=config, schedule=schedule))
    offsets = [0] * partitions
    results = []
    for line in _events(scenario, seed):
        event = parse_event(line)
        if event.account_id:
            targets = [sum(event.account_id.encode()) % partitions]
        else:  # macro indicators and reserves go to every partition
            targets = list(range(partitions))
        for partition in targets:
            results += replay.feed(event, partition, offsets[partition])
            offsets[partition] += 1
    results += replay.end()
    assert schedule.early == 0  # every scoring waited for its day's version
    return _alerts(results)


@pytest.mark.parametrize("partitions", [2, 3])
def test_the_alerts_do_not_depend_on_how_the_stream_is_spread_over_partitions(
    partitions: int,
) -> None:
    alone = _one_partition("macro-shock", 11)
    # borrower and portfolio alerts alike, scored by the scorecard and then the online champion
    assert {"borrower_risk", "segment_drift", "reserve_coverage"} <= {a[0] for a in alone}
    assert {a[-1].split("@")[0] for a in alone if a[0] == "borrower_risk"} == {
        "scorecard",
        "online-logistic",
    }
    assert _spread("macro-shock", 11, partitions) == alone


def test_an_idle_partition_holds_days_open_only_up_to_the_bound() -> None:
    learner = Learner(ModelBook(), lag=1, idle_days=7)  # the partitions are those that report
    for partition in (0, 1):
        learner.passed(partition, 100)
    closed = []
    for day in range(101, 112):  # partition 1 receives nothing from day 100 on
        learner.add(_outcomes(1, day=day - 1, seed=day)[0])
        closed += learner.passed(0, day)
    assert learner.clocks.idle() == [1]
    assert closed == list(range(100, 104))  # up to the newest day minus the bound
    assert learner.versions.ready(104) and not learner.versions.ready(105)
    # it wakes up: what it hands on for a day closed already is learnt with the next one
    learner.add(_outcomes(1, day=100, seed=99)[0])
    assert learner.late == 1
    before = learner.models.labels
    learner.passed(1, 111)
    assert learner.clocks.idle() == [] and learner.models.labels == before + 8


def test_an_outcome_handed_on_again_after_its_day_is_learnt_is_not_learnt_twice() -> None:
    learner = Learner(ModelBook(), partitions=[0])
    learner.passed(0, 100)
    outcomes = _outcomes(30, day=100)
    for outcome in outcomes:
        learner.add(outcome)
    learner.passed(0, 101)
    assert learner.models.labels == 30
    for outcome in outcomes:  # the events that made them are processed again after a restart
        learner.add(outcome)
    learner.passed(0, 102)
    assert learner.models.labels == 30 and learner.late == 0


def test_an_outcome_handed_on_again_days_after_it_was_learnt_is_known_by_its_offset() -> None:
    """A worker taking a partition over sends its last records again, and a batch may span more
    event-time days than the learner remembers keys of: an outcome from an input before what
    its partition handed on since is not learnt again; one that is new is, late if its day is
    closed (a partition presumed idle wakes up)."""
    learner = Learner(ModelBook(), partitions=[0, 1], idle_days=3)
    first = [replace(o, partition=0, offset=i) for i, o in enumerate(_outcomes(30, day=100))]
    for outcome in first:
        learner.add(outcome)
    for day in range(101, 112):  # partition 0 goes on (one outcome a day); 1 falls idle
        later = _outcomes(1, day=day - 1, seed=day)[0]
        learner.add(replace(later, partition=0, offset=100 + day))
        learner.passed(0, day)
        if day == 101:
            learner.passed(1, day)
    learnt, late = learner.models.labels, learner.late
    assert learner.versions.closed_through is not None and learner.versions.closed_through > 104
    assert all(learner.add(outcome) is None for outcome in first)  # handed on again
    assert learner.add(replace(first[-1], account="a-new")) is None  # at an older offset
    assert (learner.models.labels, learner.late) == (learnt, late)
    woken = replace(_outcomes(1, day=102, seed=5)[0], partition=1, offset=7)
    assert learner.add(woken) is not None and learner.late == late + 1
    again = replace(_outcomes(1, day=110, seed=6)[0], partition=0, offset=211)  # the newest
    assert learner.add(again) is not None  # (offset 211 is after everything 0 handed on)


def test_the_desk_watches_the_whole_book_once_whatever_its_partitions() -> None:
    from monitor.core.macro import MacroBook
    from monitor.core.portfolio import Contribution, Move, PortfolioBook
    from monitor.core.portfolio_watch import PortfolioWatch
    from monitor.core.schedule import DayPartial, PortfolioDesk

    rng = random.Random(2)

    def share(late: dict[str, int], n: int) -> PortfolioBook:
        book = PortfolioBook()
        for region in ("north", "south", "east", "west"):
            for i in range(n):
                bucket = "1-29" if i < late[region] else "current"
                contribution = Contribution(region, bucket, 500.0, 10.0, 0.03, 1000.0)
                book.apply(Move("credit_pay", None, contribution))
        return book

    # a regional rise in past due, over a book of 4 x 120 accounts spread over two partitions:
    # 60 per segment in each, too few for a segment to be watched in a partition on its own
    desk = PortfolioDesk(WatchConfig(min_segment=100, reserve=1e9, partitions=2), [0, 1])
    alone = [PortfolioWatch(WatchConfig(min_segment=100, reserve=1e9 / 2)) for _ in (0, 1)]
    alerts, alone_alerts = [], []
    for day in range(120):
        for partition in (0, 1):
            late = {r: 10 + rng.randint(-2, 2) for r in ("north", "south", "east", "west")}
            if day >= 60:
                late["north"] += min(2 * (day - 60), 30)
            book = share(late, 60)
            desk.add(DayPartial(partition, day, book, MacroBook()))
            alone_alerts += alone[partition].close_day(day, book, MacroBook(), None)
        for ready in desk.ready():
            alerts += desk.close(ready, None, "scorecard")
    firing = [(a["kind"], a["region"]) for a in alerts if a["status"] == "firing"]
    assert firing == [("segment_drift", "north")]  # once, for the whole book
    assert alone_alerts == []
    assert desk.book.summary()["credit_pay|north"]["accounts"] == 120


def test_the_saved_learner_is_the_size_of_its_models_not_of_the_outcomes_waiting() -> None:
    """A saved learner (a snapshot) goes to the changelog as one record: the outcomes waiting for
    their day are kept apart in the store (and added back at a restart), and the outcomes learnt
    are remembered by small digests, so a large book does not make the record too large for
    Kafka."""
    schedule = LocalSchedule(ModelBook(), WatchConfig(), partitions=[0])
    schedule.learner.passed(0, 100)
    for outcome in _outcomes(100, day=100):
        schedule.outcome(outcome)
    schedule.learner.passed(0, 101)
    small = len(schedule.save_learner())
    for outcome in _outcomes(20_000, day=101, seed=5):
        schedule.outcome(outcome)
    assert len(schedule.save_learner()) < small * 1.05
    schedule.learner.passed(0, 102)  # 20,000 outcomes learnt and remembered
    assert schedule.learner.models.labels == 20_100
    remembered = schedule.learner.__getstate__()["done"]
    assert sum(len(keys) for keys in remembered.values()) <= 20_100 * 8  # 8 bytes an outcome
    assert len(schedule.save_learner()) < 512 * 1024  # one record of the worker's batches
    restored = LocalSchedule(ModelBook(), WatchConfig(), partitions=[0])
    restored.restore_learner(schedule.save_learner())
    assert restored.learner.models.labels == 20_100
    for outcome in _outcomes(20_000, day=101, seed=5):  # handed on again after a restart
        restored.outcome(outcome)
    restored.learner.passed(0, 103)
    assert restored.learner.models.labels == 20_100 and restored.learner.late == 0
