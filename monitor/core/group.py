"""The schedule spread over a group of workers: the scorers hand on, one keeper learns and watches.

A worker's engine scores with a :class:`GroupSchedule`. It learns nothing itself: what the
:class:`~monitor.core.schedule.LocalSchedule` would do in the scorer's process becomes records,
queued in :attr:`GroupSchedule.outbox` for the worker to write to two topics of one partition:

- the **outcomes** topic: per input partition, the outcomes of each batch in one record
  (:func:`outcomes_record`, the topic's contract: the outcome records of :func:`outcome_record`,
  deflated together) and how far its event-time clock has come (:func:`clock_record`);
- the **portfolio-partials** topic: the same clock with the partials of the days the partition
  closed (:func:`passed_record`).

One :class:`Keeper` in the whole group reads both (it is the one learner and the one portfolio
desk): it closes event-time day ``d`` once every input partition has passed it, learns that
day's outcomes in a fixed order, merges that day's partials and watches the whole book, exactly
as :class:`~monitor.core.schedule.LocalSchedule` does in one process. What it publishes (each
model version with the day it scores from, and how far it has learnt) goes to a compacted
**models** topic, which every scorer reads into its :class:`GroupSchedule`; a scorer whose day's
version is not there yet waits for it. So the decisions do not depend on how the input is spread
over partitions and workers, nor on the order the keeper's two topics interleave.

The keeper's own state (its learner and desk, and the offsets of both topics from which what it
has not learnt yet must be read again) is published as a snapshot on the models topic each time
it closes days: the keeper that takes over after a failure starts from it and reads on from
those offsets.

>>> from monitor.core.models import ModelBook
>>> from monitor.core.portfolio_watch import WatchConfig
>>> keeper = Keeper(ModelBook(), WatchConfig(), partitions=2)
>>> scorer = GroupSchedule(lag=1)
>>> for key, value in keeper.start():
...     scorer.take(key, value)
>>> scorer.ready(100)  # no partition has reported yet
False
>>> _ = scorer.passed(0, 100, []); _ = scorer.passed(1, 100, [])
>>> for topic, _, value in scorer.drain():
...     keeper.take(topic, value, keeper.positions[topic])
>>> for key, value in keeper.publish():
...     scorer.take(key, value)
>>> scorer.ready(100), scorer.ready(101)
(True, False)
"""

from __future__ import annotations

import base64
import math
import zlib
from collections.abc import Callable, Collection
from typing import Any

import orjson

from monitor.core.models import ModelBook
from monitor.core.portfolio_watch import WatchConfig
from monitor.core.schedule import LABEL as LABEL  # (the doctests' outcomes)
from monitor.core.schedule import (
    DayPartial,
    LocalSchedule,
    ModelVersion,
    Outcome,
)
from monitor.core.store import decode_extra, encode_extra

#: the topics of the schedule, as the scorer's outbox and the keeper name them
OUTCOMES, PARTIALS = "outcomes", "partials"
#: record types of the outcomes and partials topics (``outcome``: one outcome, as version 1 of
#: the outcomes topic's contract wrote them; ``outcomes``: a batch's, deflated, version 2)
OUTCOME, OUTCOMES_BATCH, CLOCK, PASSED = "outcome", "outcomes", "clock", "passed"
#: how the outcomes of an ``outcomes`` record are encoded
ENCODING = "zlib+base64+json"
#: keys of the models topic: each version (``version:<day it scores from>``), the schedule
#: (how far the keeper has learnt) and the keeper's snapshot
VERSION, SCHEDULE, SNAPSHOT = "version:", "schedule", "keeper"
#: the day the first version scores from
FIRST = -(1 << 30)
SCHEMA_VERSION = 2
#: zlib's level for a batch of outcomes: over the bench's late events (6,000 accounts, one
#: partition) 6 gave 60 bytes per event in 5.2 us, 3 gave 73 in 2.5 us, 9 gave 57 in 10.5 us
LEVEL = 6


def outcome_record(outcome: Outcome, account: str | None = None) -> dict[str, Any]:
    """An outcome as one entry of an outcomes record (``account``: the account as it may leave
    the scorer, pseudonymised when a key is set).

    >>> o = Outcome(LABEL, 3, 86400.0, "a1", {"dpd": 4.0}, True, 0.25, "m@1", 2, 9)
    >>> outcome_of(outcome_record(o)) == o
    True
    """
    return {
        "kind": outcome.kind,
        "day": outcome.day,
        "time": outcome.time,
        "account_id": outcome.account if account is None else account,
        "x": {k: (v if math.isfinite(v) else None) for k, v in outcome.x.items()},
        "label": outcome.label,
        "probability": outcome.probability,
        "model_version": outcome.version,
        "partition": outcome.partition,
        "offset": outcome.offset,
    }


def outcome_of(record: dict[str, Any]) -> Outcome:
    """The inverse of :func:`outcome_record`."""
    x = {k: (float("nan") if v is None else float(v)) for k, v in record["x"].items()}
    return Outcome(
        record["kind"],
        int(record["day"]),
        float(record["time"]),
        record["account_id"],
        x,
        record["label"],
        float(record["probability"]),
        record["model_version"],
        int(record["partition"]),
        int(record["offset"]),
    )


def outcomes_record(partition: int, outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """The outcomes of one batch of input ``partition`` (entries of :func:`outcome_record`, in
    the order they were made) as one record of the outcomes topic: a JSON array, deflated
    (zlib) and in base64, about an eighth of the bytes of the outcomes one record each.
    ``day`` is the earliest day among them.

    >>> o = Outcome(LABEL, 3, 86400.0, "a1", {"dpd": 4.0}, True, 0.25, "m@1", 2, 9)
    >>> record = outcomes_record(2, [outcome_record(o)])
    >>> record["type"], record["count"], outcomes_of(record) == [o]
    ('outcomes', 1, True)
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "type": OUTCOMES_BATCH,
        "partition": partition,
        "day": min(int(o["day"]) for o in outcomes),
        "count": len(outcomes),
        "encoding": ENCODING,
        "outcomes": base64.b64encode(zlib.compress(orjson.dumps(outcomes), LEVEL)).decode(),
    }


def outcomes_of(record: dict[str, Any]) -> list[Outcome]:
    """The outcomes of a record of the outcomes topic: a batch (version 2) or one outcome (a
    version 1 record, left on the topic by an earlier version); none for a clock."""
    kind = record.get("type")
    if kind == OUTCOME:
        return [outcome_of(record)]
    if kind != OUTCOMES_BATCH:
        return []
    entries = orjson.loads(zlib.decompress(base64.b64decode(record["outcomes"])))
    return [outcome_of(entry) for entry in entries]


def clock_record(partition: int, day: int) -> dict[str, Any]:
    """Input ``partition`` has finished every day before ``day``."""
    return {"schema_version": SCHEMA_VERSION, "type": CLOCK, "partition": partition, "day": day}


def passed_record(partition: int, day: int, partials: list[DayPartial]) -> dict[str, Any]:
    """The clock of :func:`clock_record` with the partials of the days it closed (the monitor's
    own state, opaque to other readers)."""
    record = clock_record(partition, day)
    record["type"] = PASSED
    record["partials"] = [encode_extra(p) for p in partials]
    return record


class GroupSchedule:
    """The scorer's side of the schedule: hands outcomes, clocks and partials on (through
    :meth:`drain`) and scores each day with the version the keeper published for it."""

    def __init__(
        self,
        lag: int = 1,
        account: Callable[[str], str] | None = None,
        initial: ModelBook | None = None,
    ) -> None:
        self.lag = lag
        self.account = account or (lambda a: a)
        self.books: dict[int, ModelVersion] = {}
        #: what scores when no version is read at all (after a wait for one ran out)
        self.initial = ModelVersion(initial or ModelBook())
        #: the schedule as the keeper last published it (None: nothing read yet)
        self.closed_through: int | None = None
        self.start: int | None = None
        self.known = False
        #: the web address of the worker that keeps the schedule ("": not known)
        self.keeper_at = ""
        self.outbox: list[tuple[str, bytes, bytes]] = []
        #: the outcomes handed on since the last drain or clock, by input partition
        self._outcomes: dict[int, list[dict[str, Any]]] = {}
        #: scorings made before their day's version was published (after a bounded wait)
        self.early = 0
        self.watch_history: list[Any] = []

    # -- what the keeper publishes ----------------------------------------------------------
    def take(self, key: bytes, value: bytes | None) -> None:
        """A record of the models topic."""
        name = key.decode()
        if name.startswith(VERSION):
            applies_from = int(name[len(VERSION) :])
            if value is None:
                self.books.pop(applies_from, None)
            else:
                version = decode_extra(value.decode())
                if isinstance(version, ModelVersion):
                    self.books[applies_from] = version
        elif name == SCHEDULE and value is not None:
            data = orjson.loads(value)
            self.closed_through, self.start = data["closed_through"], data["start"]
            self.keeper_at = data.get("keeper", "")
            self.known = True

    # -- the scorer's questions --------------------------------------------------------------
    def ready(self, day: int) -> bool:
        """True when the version that scores ``day`` is published (and read here)."""
        if not self.known or self.start is None or not self.books:
            return False
        needed = day - self.lag
        return needed < self.start or (
            self.closed_through is not None and self.closed_through >= needed
        )

    def model_for(self, day: int) -> ModelVersion:
        """The version that scores ``day`` (the newest there is, counted as early, if it is not
        published yet)."""
        if not self.ready(day):
            self.early += 1
        if not self.books:
            return self.initial
        usable = [a for a in self.books if a <= day] or [min(self.books)]
        return self.books[max(usable)]

    @property
    def models(self) -> ModelVersion | None:
        """The newest version read (None before the first)."""
        return self.books[max(self.books)] if self.books else None

    # -- what the scorer hands on -----------------------------------------------------------
    def outcome(self, outcome: Outcome) -> int | None:
        entry = outcome_record(outcome, self.account(outcome.account))
        self._outcomes.setdefault(outcome.partition, []).append(entry)
        return None  # the keeper learns it, not this process: nothing to keep here

    def passed(self, partition: int, day: int, partials: list[DayPartial]) -> list[dict[str, Any]]:
        self._hand_on(partition)  # the outcomes before the clock that may close their day
        self._add(OUTCOMES, partition, clock_record(partition, day))
        self._add(PARTIALS, partition, passed_record(partition, day, partials))
        return []  # the keeper's desk raises the portfolio alerts

    def _add(self, topic: str, partition: int, record: dict[str, Any]) -> None:
        self.outbox.append((topic, str(partition).encode(), orjson.dumps(record)))

    def _hand_on(self, partition: int) -> None:
        outcomes = self._outcomes.pop(partition, None)
        if outcomes:
            self._add(OUTCOMES, partition, outcomes_record(partition, outcomes))

    def drain(self, skip: Collection[int] = ()) -> list[tuple[str, bytes, bytes]]:
        """The records handed on since the last call, (topic, key, value), but those of the
        partitions in ``skip`` (kept for a later call). A partition's outcomes since its last
        clock leave as one record."""
        for partition in [p for p in self._outcomes if p not in skip]:
            self._hand_on(partition)
        if not skip:
            out, self.outbox = self.outbox, []
            return out
        held = {str(p).encode() for p in skip}
        out = [r for r in self.outbox if r[1] not in held]
        self.outbox = [r for r in self.outbox if r[1] in held]
        return out

    def discard(self, partition: int) -> None:
        """Forget the records of ``partition`` not drained yet (its batch is abandoned)."""
        key = str(partition).encode()
        self.outbox = [r for r in self.outbox if r[1] != key]
        self._outcomes.pop(partition, None)

    def release(self, partition: int) -> None:
        """Nothing is held per partition here."""

    def open_alerts(self) -> list[dict[str, Any]]:
        return []

    def counts(self) -> dict[str, float]:
        return {"monitor_schedule_early_scorings": self.early}


class Keeper:
    """The one learner and portfolio desk of a group: takes the records of the outcomes and
    partials topics (in any interleaving of the two), closes the days every input partition
    has passed, and says what to publish on the models topic."""

    def __init__(
        self,
        models: ModelBook,
        watch: WatchConfig,
        partitions: int,
        lag: int = 1,
        auc_window: int = 2000,
        idle_days: int | None = 7,
        address: str = "",
    ) -> None:
        #: where the keeper's worker answers (its web address), for the schedule record
        self.address = address
        self.schedule = LocalSchedule(
            models, watch, lag, auc_window, partitions=range(partitions), idle_days=idle_days
        )
        #: the next offset of each topic to read
        self.positions: dict[str, int] = {OUTCOMES: 0, PARTIALS: 0}
        #: (topic, day) -> the first offset with something for that day not learnt or merged
        self._first: dict[tuple[str, int], int] = {}
        #: offsets below these were taken before the snapshot this keeper started from
        self._replay: dict[str, int] = {OUTCOMES: 0, PARTIALS: 0}
        self._published: set[int] = set()
        self._told: tuple[int | None, int | None] | None = None
        self.alerts: list[dict[str, Any]] = []
        self.changed = False

    @property
    def learner(self) -> Any:
        return self.schedule.learner

    @property
    def desk(self) -> Any:
        return self.schedule.desk

    # -- start and snapshot -----------------------------------------------------------------
    def start(self, snapshot: bytes | None = None) -> list[tuple[bytes, bytes | None]]:
        """Start from the keeper's last snapshot (None: afresh); returns what to publish."""
        if snapshot is not None:
            saved = decode_extra(snapshot.decode())
            if isinstance(saved, dict) and "learner" in saved:
                self.schedule.learner = saved["learner"]
                self.schedule.desk = saved["desk"]
                self.positions = dict(saved["replay"])
                self._replay = dict(saved["next"])
                self._published = set(saved["published"])
                self._told = None
                return self._versions(force=True)
        self.changed = True
        return self._versions(force=True)

    def snapshot(self) -> bytes:
        """The keeper's state: its learner and desk (without what waits for a day not closed
        yet), and the offsets from which the next keeper reads again."""
        replay = dict(self.positions)
        for (topic, _), offset in self._first.items():
            replay[topic] = min(replay[topic], offset)
        saved = {
            "learner": self.learner,
            "desk": self.desk,
            "replay": replay,
            "next": dict(self.positions),
            "published": sorted(self._published),
        }
        return encode_extra(saved).encode()

    # -- records ----------------------------------------------------------------------------
    def take(self, topic: str, value: bytes | None, offset: int) -> None:
        """One record of ``topic`` (:data:`OUTCOMES` or :data:`PARTIALS`) at ``offset``."""
        self.positions[topic] = max(self.positions[topic], offset + 1)
        if value is None:
            return
        replayed = offset < self._replay[topic]
        record = orjson.loads(value)
        kind = record.get("type")
        if kind in (OUTCOME, OUTCOMES_BATCH):
            for outcome in outcomes_of(record):
                day = self.learner.add(outcome)
                if day is not None:
                    self._first.setdefault((OUTCOMES, day), offset)
        elif kind == CLOCK:
            for day in self.learner.passed(int(record["partition"]), int(record["day"])):
                self._first.pop((OUTCOMES, day), None)
                self.changed = True
        elif kind == PASSED:
            partition, day = int(record["partition"]), int(record["day"])
            for text in record.get("partials", []):
                partial = decode_extra(text)
                if not isinstance(partial, DayPartial):
                    continue
                if partial.day <= self.desk.watch.day and self.desk.watch.day >= 0:
                    if not replayed:
                        self.desk.add(partial)  # counted late
                    continue
                self.desk.add(partial)
                self._first.setdefault((PARTIALS, partial.day), offset)
            self.desk.clocks.passed(partition, day)
        self._close()

    def _close(self) -> None:
        """Close the desk's days every partition has passed, up to the last day the learner
        has closed (the desk's model drift reads the learner's day)."""
        learner = self.learner
        learnt = learner.versions.closed_through
        for day in self.desk.ready():
            if learnt is None or day > learnt:
                break
            auc, model = learner.days.get(day, (None, ""))
            self.alerts += self.desk.close(day, auc, model.split("@")[0])
            self._first.pop((PARTIALS, day), None)
            self.changed = True

    # -- what to publish --------------------------------------------------------------------
    def publish(self) -> list[tuple[bytes, bytes | None]]:
        """The models topic's records for what changed since the last call: new versions,
        versions no day can use any more (tombstones), the schedule."""
        return self._versions()

    def take_alerts(self) -> list[dict[str, Any]]:
        """The portfolio alerts raised since the last call."""
        out, self.alerts = self.alerts, []
        return out

    def _versions(self, force: bool = False) -> list[tuple[bytes, bytes | None]]:
        out: list[tuple[bytes, bytes | None]] = []
        books = self.learner.versions.books
        for applies_from in sorted(set(books) - self._published):
            text = encode_extra(books[applies_from])
            out.append((f"{VERSION}{applies_from}".encode(), text.encode()))
        for gone in sorted(self._published - set(books)):
            out.append((f"{VERSION}{gone}".encode(), None))
        self._published = set(books)
        versions = self.learner.versions
        closed = versions.closed_through
        # a day is told closed once the desk has every partition's partials of it too (and has
        # raised its portfolio alerts, published before this): the scorers then never pass a
        # day the desk is still to watch, so its alerts come before the next day's, as in one
        # process, however the keeper's two topics interleave
        desk = self.desk.clocks.low()
        if closed is not None and desk is not None:
            closed = min(closed, desk - 1)
        told = (closed, versions.start if self.learner.clocks.at else None)
        if force or told != self._told:
            data = {
                "closed_through": told[0],
                "start": told[1],
                "lag": versions.lag,
                "keeper": self.address,
            }
            out.append((SCHEDULE.encode(), orjson.dumps(data)))
            self._told = told
        return out

    def counts(self) -> dict[str, float]:
        counts = self.schedule.counts()
        counts.pop("monitor_schedule_early_scorings", None)
        return counts
