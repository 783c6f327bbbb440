"""The core's boundaries: what it imports, and what it holds per input partition."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

import monitor.core
from monitor.core.engine import Decisions, Engine
from monitor.core.store import MemoryStore
from tests.unit.core.helpers import bill, ev, macro, opened, pay

pytestmark = pytest.mark.unit


#: the versioned JSON Schemas the core validates input against: shipped data, not code
_DATA = {"monitor.contracts"}


def test_the_core_imports_nothing_of_the_monitor_outside_the_core() -> None:
    outside = []
    for path in Path(monitor.core.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
                if node.module == "monitor":  # from monitor import contracts
                    names = [f"monitor.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            outside += [
                f"{path.name}: {name}"
                for name in names
                if name.split(".")[0] == "monitor"
                and not name.startswith("monitor.core")
                and name not in _DATA
            ]
    assert outside == []


def _two_partitions() -> tuple[MemoryStore, Engine]:
    store = MemoryStore()
    engine = Engine(store)
    for partition, account in ((0, "a"), (1, "z")):
        stream = [
            opened(account, "2026-01-01"),
            bill(account, "2026-01-05", f"{account}1", 900.0, "2026-01-15"),
            pay(account, "2026-01-08", 100.0),
            macro("2026-02-20"),
        ]
        for offset, event in enumerate(stream):
            engine.process(event, partition=partition, offset=offset)
    return store, engine


def test_releasing_a_partition_forgets_everything_held_for_it() -> None:
    _, engine = _two_partitions()
    held = engine.book(1).summary()
    assert engine.partitions() == {0, 1}
    assert engine.portfolio()[0].summary()["credit_pay|north"]["accounts"] == 2
    engine.release(1)
    # books, watches, timers, paces, tier counts and the macro cache: nothing of partition 1
    assert engine.partitions() == {0}
    assert engine.portfolio()[0].summary()["credit_pay|north"]["accounts"] == 1
    assert sum(engine.accounts_by_tier().values()) == 1
    # the state stays in the store, so the partition comes back as it was
    engine.recover(1, from_offset=4)
    assert engine.book(1).summary() == held
    assert sum(engine.accounts_by_tier().values()) == 2
    assert engine.macro(1).level("north") == engine.macro(0).level("north")


def test_a_recovered_partition_has_its_timers_again() -> None:
    store, engine = _two_partitions()
    engine.release(1)
    engine.recover(1, from_offset=4)
    tick = ev("macro_indicator", "2026-03-01", region="north", indicator="x", value=1.0)
    fresh = Engine(store)
    fresh.recover(1, from_offset=4)
    assert engine.process(tick, partition=1).timers == fresh.process(tick, partition=1).timers


def _stream() -> list:
    import orjson

    from monitor import simulator as sim
    from monitor.core.events import parse_event

    config = sim.SimConfig(accounts=400, days=120, seed=5, scenario="macro-shock")
    return [parse_event(orjson.dumps(e)) for e in sim.simulate(config).events]


def _decisions(results: list[Decisions]) -> list[tuple[Any, ...]]:
    return [
        (a["alert_id"], a["status"], a.get("probability"), a.get("model_version"))
        for r in results
        for a in r.alerts
    ]


def test_a_restart_decides_as_the_uninterrupted_run_did() -> None:
    stream = _stream()
    whole = Engine(MemoryStore())
    uninterrupted = [whole.process(e, 0, offset) for offset, e in enumerate(stream)]
    store = MemoryStore()
    first = Engine(store)
    crash = len(stream) * 6 // 10
    for offset, e in enumerate(stream[:crash]):
        first.process(e, 0, offset)
    # the new process's models are not the first's: they come back from the store
    again = Engine(store)
    committed = crash - 7  # state was written ahead of the input offsets committed
    resent = again.recover(0, committed)
    assert again.models.labels == first.models.labels
    after = [again.process(e, 0, offset) for offset, e in list(enumerate(stream))[committed:]]
    # the events the state holds already are skipped; the alerts they made are sent again
    window_events = stream[committed:crash]
    skipped = [
        r.duplicate
        for r, e in zip(after, window_events, strict=False)
        if e.type != "reserve_updated"
    ]
    assert all(skipped)
    window = {
        (a["alert_id"], a["status"]) for r in uninterrupted[committed:crash] for a in r.alerts
    }
    assert window <= {(a["alert_id"], a["status"]) for a in resent} | {
        (a["alert_id"], a["status"]) for r in after[: crash - committed] for a in r.alerts
    }
    assert _decisions(after[crash - committed :]) == _decisions(uninterrupted[crash:])
    assert len(_decisions(uninterrupted[crash:])) > 20
    assert again.models.labels == whole.models.labels


def test_outcomes_are_kept_in_chunks_until_their_day_is_learnt() -> None:
    from monitor.core import kept as kp
    from monitor.core.schedule import LABEL, Outcome

    store = MemoryStore()
    keeper = kp.KeptOutcomes(store)
    records = [
        Outcome(LABEL, 10 + i % 2, float(i), f"a{i}", {"dpd": 1.0}, False) for i in range(450)
    ]
    for record in records + records[:30]:  # handed on again after a redelivery: kept once
        keeper.keep(record, record.day)
    assert len(list(store.extras(kp.PREFIX))) == 4  # day 10: 225 records in two chunks, day 11 too
    back = kp.KeptOutcomes(store).recover(0, closed=None)
    assert sorted((d, o.account) for d, o in back) == sorted((o.day, o.account) for o in records)
    keeper.learnt(0, closed=10)
    assert {k.split(":")[1] for k, _ in store.extras(kp.PREFIX)} == {"11"}
    assert [d for d, _ in kp.KeptOutcomes(store).recover(0, closed=10)] == [11] * 225


def test_each_outcome_record_is_written_once_in_a_chunk_of_its_batch() -> None:
    """Through a write-back store (the worker's), a batch's records of a partition and day are one
    chunk written at the flush: a later batch adds a chunk, it does not write the day again."""
    from monitor.core import kept as kp
    from monitor.core.schedule import LABEL, Outcome
    from monitor.core.store import WriteBackStore

    class Counting(MemoryStore):
        def __init__(self) -> None:
            super().__init__()
            self.written: list[str] = []

        def put_extra(self, key: str, value: str, partition: int = 0) -> None:
            self.written.append(value)
            super().put_extra(key, value, partition)

    inner = Counting()
    store = WriteBackStore(inner)
    keeper = kp.KeptOutcomes(store)
    records = [
        Outcome(LABEL, 10, float(i), f"a{i}", {"dpd": float(i % 7), "r": 0.5}, i % 5 == 0, 0.1)
        for i in range(90)
    ]
    for batch in range(3):
        for record in records[batch * 30 : batch * 30 + 30] + records[:5]:  # + redelivered
            keeper.keep(record, record.day)
        keeper.seal()
        store.flush()
    from monitor.core.schedule import decode_outcomes

    assert [len(decode_outcomes(text)) for text in inner.written] == [30, 30, 30]
    back = kp.KeptOutcomes(inner).recover(0, closed=None)
    assert [o for _, o in back] == records  # the same records, in the order handed on
    assert sum(map(len, inner.written)) < 90 * 80  # compact: under 80 bytes a record here
    more = [Outcome(LABEL, 10, 100.0 + i, f"b{i}", {"dpd": 1.0}, False) for i in range(3)]
    keeper.keep(more[0], 10)
    store.flush()  # a flush with the batch not ended: its chunk is written again as it grows
    keeper.keep(more[1], 10)
    keeper.keep(more[2], 10)
    store.flush()
    assert [o for _, o in kp.KeptOutcomes(inner).recover(0, closed=None)] == records + more


def _learner_view(engine: Engine, xs: list) -> tuple:
    """What the learner has learnt and published, down to each version's predictions."""
    learner = engine.local.learner
    versions = learner.versions
    return (
        versions.closed_through,
        versions.start,
        learner.learnt,
        learner.late,
        list(learner.recent),
        dict(learner.days),
        {day: sorted(keys) for day, keys in learner.done.items()},
        {day: sorted(waiting) for day, waiting in learner.pending.items()},
        learner.models.version,
        [learner.models.score(x).probability for x in xs],
        {
            applies: (book.version, [book.model.predict(x) for x in xs])
            for applies, book in versions.books.items()
        },
    )


def test_a_restart_between_snapshots_rebuilds_the_learner_the_run_had() -> None:
    """The learner is saved whole only now and then; a restart between two snapshots takes the
    last one back and learns the days closed since again from the outcome records kept, in the
    same order: the same models, the same published versions (and their predictions) as the
    run that did not stop. Without those records it would not be the same."""
    import copy

    from monitor.core import engine as eg
    from monitor.core import kept as kp
    from monitor.core.schedule import LABEL

    stream = _stream()
    store = MemoryStore()
    first = Engine(store)
    xs: list = []
    compared = relearnt = 0
    last_closed: int | None = None
    for offset, event in enumerate(stream):
        result = first.process(event, 0, offset)
        xs += [o.x for o in result.outcomes if o.kind == LABEL and len(xs) < 20]
        closed = first.local.learner.versions.closed_through
        snapshot = first._snapshot
        if closed is None or closed == last_closed or snapshot is None:
            continue
        if closed - snapshot[0] < 2 or offset % 7:
            continue
        last_closed = closed
        since = sum(len(o) for o in first.kept.log(snapshot[0], closed).values())
        if since < 5:  # nothing much to learn again yet
            continue
        crashed = copy.deepcopy(store)
        again = Engine(crashed)
        again.recover(0, offset + 1)
        assert again._snapshot is not None and again._snapshot[0] == snapshot[0]
        assert _learner_view(again, xs) == _learner_view(first, xs)
        if not compared:  # without the records kept since the snapshot: another learner
            for key in [k for k in crashed.extra if k.startswith(kp.PREFIX)]:
                del crashed.extra[key]
            bare = Engine(crashed)
            bare.recover(0, offset + 1)
            assert _learner_view(bare, xs) != _learner_view(first, xs)
        compared += 1
        relearnt += since
        if compared >= 5:
            break
    assert compared >= 3 and relearnt > 50
    assert eg.SNAPSHOT_DAYS > 2


def test_a_restart_while_the_desk_waits_for_a_partition_decides_as_the_run_did() -> None:
    """Two partitions, one a day ahead of the other: its partial of the day waits in the desk
    (saved apart, once) when the process stops. The restart merges the same partials and raises
    the same portfolio and borrower alerts as the run that did not stop."""
    import copy

    from monitor.core.engine import EngineConfig
    from monitor.core.portfolio_watch import WatchConfig

    config = EngineConfig(watch=WatchConfig(reserve=50_000.0, min_segment=10, partitions=2))
    offsets = [0, 0]
    spread = []
    for event in _stream():
        targets = [sum(event.account_id.encode()) % 2] if event.account_id else [0, 1]
        for partition in targets:
            spread.append((partition, offsets[partition], event))
            offsets[partition] += 1
    store = MemoryStore()
    run = Engine(store, config=config)
    crashes: list[tuple[int, MemoryStore]] = []
    results: list = []
    for index, (partition, offset, event) in enumerate(spread):
        results.append(run.process(event, partition, offset))
        waiting = run.local.desk.partials and index > len(spread) // 4
        spaced = not crashes or index - crashes[-1][0] > len(spread) // 8
        if waiting and spaced and len(crashes) < 2:
            crashes.append((index, copy.deepcopy(store)))
    assert len(crashes) == 2
    raised = 0
    for index, saved in crashes:
        again = Engine(saved, config=config)
        rest = spread[index + 1 :]
        for partition in (0, 1):
            again.recover(partition, next(o for p, o, _ in rest if p == partition))
        assert again.local.desk.partials  # the partial waiting came back
        after = [again.process(e, p, o) for p, o, e in rest]
        assert _decisions(after) == _decisions(results[index + 1 :])
        portfolio = [a for r in results[index + 1 :] for a in r.alerts if "segment" in a]
        assert [a for r in after for a in r.alerts if "segment" in a] == portfolio
        raised += len(portfolio)
    assert raised > 0


def test_a_batch_writes_state_only_to_the_partitions_of_its_events() -> None:
    """The worker writes a batch's state partition by partition, pointing Faust at an event of
    each: an engine that wrote under a partition with no event in the batch (dropping another
    partition's kept records, say) would have nowhere to write it."""
    from monitor.core.store import WriteBackStore

    offsets = [0, 0]
    store = WriteBackStore(MemoryStore())
    engine = Engine(store)
    batch: set[int] = set()
    written: list[int] = []

    def before(partition: int) -> None:
        assert partition in batch
        written.append(partition)

    for event in _stream():
        targets = [sum(event.account_id.encode()) % 2] if event.account_id else [0, 1]
        for partition in targets:
            if batch and partition not in batch:  # a batch holds one partition's events
                engine.save()
                store.flush(before)
                batch.clear()
            batch.add(partition)
            engine.process(event, partition, offsets[partition])
            offsets[partition] += 1
    assert len(written) > 100 and engine.local.learner.learnt > 100
