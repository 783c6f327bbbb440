"""The deterministic schedule: one model and one portfolio for the whole stream.

Scorers (the engine, one per input partition held) do not learn. When a scored snapshot's
outcome is known, or a bill cycle gives the behaviour detector a new observation, the scorer
hands on an :class:`Outcome` record. Each input partition reports how far its event-time clock
has come (:meth:`LocalSchedule.passed`: every event and look of the days before ``day`` is
done), with its :class:`DayPartial` of each day it closed: its share of the portfolio as that
day ends.

The :class:`Learner` owns the :class:`~monitor.core.models.ModelBook`. It closes event-time day
``d`` once every input partition's clock has passed it, learns that day's outcomes in a fixed
order (event time, then account: never the order they arrived in) and publishes the model
version that scores from day ``d + lag`` on (:class:`ModelVersions`). A scorer scores day ``t``
with the version for ``t``: what was learnt from every outcome known by the end of ``t - lag``.

The :class:`PortfolioDesk` merges the partials of a day once every partition has sent its own,
and runs the portfolio watch (drift, reserve coverage, over-lending, model drift) once, on the
whole book: one alert per kind and segment, the reserve against the whole expected loss.

So the model that scores an event, and the portfolio's alerts, depend only on the stream's
contents, not on how it is spread over partitions and workers or on when they run.
:class:`LocalSchedule` runs learner and desk in the scorer's own process (the backtest, and a
worker until the learner and desk run as their own agents).
"""

from __future__ import annotations

import base64
import hashlib
import math
import pickle
import zlib
from array import array
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from monitor.core.macro import MacroBook
from monitor.core.models import ModelBook, Score
from monitor.core.portfolio import PortfolioBook
from monitor.core.portfolio_watch import PortfolioWatch, WatchConfig
from monitor.core.quality import roc_auc
from monitor.core.store import decode_extra, encode_extra
from monitor.core.timeutil import DAY

LABEL = "label"
BEHAVIOUR = "behaviour"
#: days whose learnt outcomes the learner remembers (not to learn one twice)
DONE_DAYS = 3


@dataclass(frozen=True)
class Outcome:
    """An observation the models learn from, as a scorer hands it on.

    ``kind`` is :data:`LABEL` (a scored snapshot's outcome: ``x`` the model inputs as scored,
    ``label`` whether the account reached 30+ DPD within the horizon, ``probability`` and
    ``version`` as scored) or :data:`BEHAVIOUR` (``x`` a bill cycle's behaviour, for the
    behaviour detector). ``time`` is the snapshot's (or cycle's) event time, ``day`` the
    event-time day the outcome became known, ``partition`` and ``offset`` where its input came
    from.
    """

    kind: str
    day: int
    time: float
    account: str
    x: dict[str, float]
    label: bool | None = None
    probability: float = 0.0
    version: str = ""
    partition: int = 0
    offset: int = -1

    @property
    def order(self) -> tuple[float, str]:
        """Its place in its day's learning: event time, then account."""
        return self.time, self.account

    @property
    def key(self) -> tuple[Any, ...]:
        """What makes it the same outcome when it is handed on twice (after a redelivery): an
        account has one snapshot a day at most, and one behaviour observation a touch."""
        return self.kind, self.account, self.time


def _digest(key: tuple[Any, ...]) -> int:
    """A stable 64-bit digest of an outcome's key (what the learner remembers of the outcomes
    it has learnt: a few bytes each, the same in every process)."""
    return int.from_bytes(hashlib.blake2b(repr(key).encode(), digest_size=8).digest(), "big")


#: Marks outcome records written as deflated JSON (others are the store's pickled extras).
_JSON = "J:"


def encode_outcomes(outcomes: list[Outcome]) -> str:
    """Outcome records as text, for the store: deflated JSON rows, the names of each distinct
    set of model inputs once (about 50 bytes a record, a sixth of a pickled one). Records with
    a value JSON cannot hold exactly (not finite) are pickled instead.

    >>> o = Outcome(LABEL, 3, 86400.0, "a1", {"dpd": 4.0, "ratio": 0.1}, True, 0.25, "m@1", 2, 9)
    >>> text = encode_outcomes([o])
    >>> text[:2], decode_outcomes(text) == [o]
    ('J:', True)
    """
    names: list[list[str]] = []
    index: dict[tuple[str, ...], int] = {}
    rows = []
    for o in outcomes:
        keys = tuple(o.x)
        at = index.get(keys)
        if at is None:
            at = index[keys] = len(names)
            names.append(list(keys))
        values = list(o.x.values())
        if not all(math.isfinite(v) for v in (*values, o.time, o.probability)):
            return encode_extra(outcomes)
        row = [o.kind, o.day, o.time, o.account, at, values, o.label, o.probability]
        rows.append([*row, o.version, o.partition, o.offset])
    packed = zlib.compress(orjson.dumps({"x": names, "o": rows}), 6)
    return _JSON + base64.b64encode(packed).decode()


def decode_outcomes(text: str) -> list[Outcome]:
    """The inverse of :func:`encode_outcomes`."""
    if text.startswith(_JSON):
        data = orjson.loads(zlib.decompress(base64.b64decode(text[len(_JSON) :])))
        names = data["x"]
        out = []
        for row in data["o"]:
            kind, day, time, account, at, values, label, probability, *rest = row
            x = dict(zip(names[at], values, strict=True))
            out.append(Outcome(kind, day, time, account, x, label, probability, *rest))
        return out
    outcomes = decode_extra(text)
    return [o for o in outcomes if isinstance(o, Outcome)] if isinstance(outcomes, list) else []


class ModelVersion:
    """What scores the days a version applies to: copies of the model that scored when it was
    published and of the behaviour-change detector (the judges and the other roles stay with
    the learner's book)."""

    def __init__(self, book: ModelBook) -> None:
        self.version = book.version
        self.labels = book.labels
        self.model, self.behaviour = pickle.loads(
            pickle.dumps((book.active, book.behaviour), protocol=5)
        )

    def score(self, x: dict[str, float]) -> Score:
        """Score one account."""
        return Score(self.model.predict(x), self.version, self.model, x)


def _copy(book: ModelBook) -> ModelVersion:
    return ModelVersion(book)


@dataclass
class ModelVersions:
    """The published model versions, each with the event-time day from which it scores."""

    lag: int = 1
    #: applies-from day -> the model book (read only); the first applies from the start
    books: dict[int, ModelVersion] = field(default_factory=dict)
    #: the last day learnt (None: none yet)
    closed_through: int | None = None
    #: the first day of the stream: days before it have nothing to learn
    start: int | None = None

    def publish(self, applies_from: int, book: ModelVersion) -> None:
        self.books[applies_from] = book

    def ready(self, day: int) -> bool:
        """True when the version that scores ``day`` is published."""
        needed = day - self.lag
        if self.start is None or needed < self.start:
            return True
        return self.closed_through is not None and self.closed_through >= needed

    def for_day(self, day: int) -> ModelVersion:
        """The newest version applying on ``day`` (the first one if none applies yet)."""
        best = min(self.books)
        for applies_from in self.books:
            if best < applies_from <= day:
                best = applies_from
        return self.books[best]

    def forget_before(self, day: int) -> None:
        """Drop the versions no day from ``day`` on can use."""
        usable = [a for a in self.books if a <= day]
        if len(usable) > 1:
            for applies_from in sorted(usable)[:-1]:
                del self.books[applies_from]


class Clocks:
    """How far each input partition's event-time clock has come.

    A partition whose clock is more than ``idle_days`` behind the newest is presumed idle: it no
    longer holds days open (None: it always does).

    >>> clocks = Clocks([0, 1], idle_days=7)
    >>> clocks.passed(0, 100); clocks.passed(1, 100); clocks.passed(0, 105)
    >>> clocks.low()
    100
    >>> clocks.passed(0, 110)  # partition 1 has had nothing for ten days
    >>> clocks.low(), clocks.idle()
    (103, [1])
    """

    def __init__(
        self, partitions: Iterable[int] | None = None, idle_days: int | None = None
    ) -> None:
        #: None: the partitions are those that report (a worker holding some of them)
        self.fixed = set(partitions) if partitions is not None else None
        self.idle_days = idle_days
        self.at: dict[int, int] = {}

    def passed(self, partition: int, day: int) -> None:
        """``partition`` has finished every day before ``day``."""
        if day > self.at.get(partition, -(1 << 30)):
            self.at[partition] = day

    def forget(self, partition: int) -> None:
        self.at.pop(partition, None)

    def low(self) -> int | None:
        """The day every partition is at least at (None: some partition has not reported and
        none may be presumed idle). A partition that has not reported at all holds days open
        like an idle one: up to ``idle_days`` behind the newest."""
        members = self.fixed if self.fixed is not None else set(self.at)
        reported = [self.at[p] for p in members if p in self.at]
        if not reported:
            return None
        if len(reported) < len(members):
            return max(reported) - self.idle_days if self.idle_days is not None else None
        low = min(reported)
        if self.idle_days is not None:
            low = max(low, max(reported) - self.idle_days)
        return low

    def idle(self) -> list[int]:
        """The partitions presumed idle now."""
        if self.idle_days is None or not self.at:
            return []
        newest = max(self.at.values())
        silent = (self.fixed or set()) - set(self.at)
        late = {p for p, day in self.at.items() if day < newest - self.idle_days}
        return sorted(late | silent)


class Learner:
    """Learns each closed day's outcomes in a fixed order and publishes the model versions."""

    def __init__(
        self,
        models: ModelBook,
        lag: int = 1,
        auc_window: int = 2000,
        partitions: Iterable[int] | None = None,
        idle_days: int | None = None,
    ) -> None:
        if lag < 1:
            raise ValueError("the model lag must be at least one day")
        self.models = models
        self.clocks = Clocks(partitions, idle_days)
        self.versions = ModelVersions(lag=lag, books={-(1 << 30): _copy(models)})
        self.auc_window = auc_window
        self.recent: deque[tuple[bool, float]] = deque(maxlen=auc_window)
        self.pending: dict[int, dict[tuple[Any, ...], Outcome]] = {}
        #: digests of the keys of the outcomes of the last days learnt, by day: handed on again
        #: (an event redelivered after a restart), they are not learnt twice
        self.done: dict[int, set[int]] = {}
        #: per input partition, the highest input offset among the outcomes learnt and the
        #: digests of those learnt at it: an outcome handed on again from further back than
        #: ``done`` remembers (a takeover sends a partition's last records again, and a batch
        #: may span many event-time days) is known by its offset
        self.learnt_at: dict[int, tuple[int, set[int]]] = {}
        self.learnt = 0
        self.late = 0
        #: day -> (rolling AUC after that day's learning, the model that scored that day)
        self.days: dict[int, tuple[float | None, str]] = {}

    def __getstate__(self) -> dict[str, Any]:
        # the newest version is always a copy of the models (they learn only as a day closes,
        # and then publish): saved once. The outcomes waiting for their day are not saved: the
        # store keeps them apart until they are learnt, and a restart adds them back, so the
        # saved learner stays the size of its models however many outcomes are waiting
        state = self.__dict__.copy()
        state["pending"] = {}
        state["done"] = {day: array("Q", sorted(keys)).tobytes() for day, keys in self.done.items()}
        books = dict(self.versions.books)
        newest = max(books)
        books[newest] = None  # type: ignore[assignment]
        state["versions"] = ModelVersions(
            self.versions.lag, books, self.versions.closed_through, self.versions.start
        )
        state["_newest"] = newest
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        newest = state.pop("_newest", None)
        state["done"] = {
            day: keys if isinstance(keys, set) else set(array("Q", keys))
            for day, keys in state.get("done", {}).items()
        }
        state.setdefault("learnt_at", {})  # (saved before it was kept)
        self.__dict__.update(state)
        if newest is not None:
            self.versions.books[newest] = _copy(self.models)

    def add(self, outcome: Outcome, day: int | None = None) -> int | None:
        """Keep an outcome for its day (``day``: the day it is learnt with, if not its own;
        once, however often it is handed on). Returns the day it will be learnt with, None if
        it was taken before (learnt or waiting)."""
        day = outcome.day if day is None else day
        closed = self.versions.closed_through
        digest = _digest(outcome.key)
        if any(digest in keys for keys in self.done.values()):
            return None
        if self._learnt_before(outcome, digest):
            return None
        if closed is not None and day <= closed:
            self.late += 1  # its day is learnt already: learnt with the next day closed
            day = closed + 1
        waiting = self.pending.setdefault(day, {})
        if outcome.key in waiting:
            return None
        waiting[outcome.key] = outcome
        return day

    def _learnt_before(self, outcome: Outcome, digest: int) -> bool:
        """Whether ``outcome`` (of key digest ``digest``) comes from an input its partition
        handed outcomes on after, all of them learnt: a partition hands its outcomes on in the
        order of its input."""
        at = self.learnt_at.get(outcome.partition) if outcome.offset >= 0 else None
        if at is None:
            return False
        offset, digests = at
        return outcome.offset < offset or (outcome.offset == offset and digest in digests)

    def relearn(self, day: int, outcomes: Iterable[Outcome]) -> None:
        """Close ``day`` again with the outcomes it was learnt with (a restart rebuilding the
        learner from a snapshot of an earlier day: the same outcomes in the same order give the
        same models and versions)."""
        waiting = self.pending.setdefault(day, {})
        for outcome in outcomes:
            waiting.setdefault(outcome.key, outcome)
        self.close(day)

    def passed(self, partition: int, day: int) -> list[int]:
        """``partition``'s clock reached ``day``; close every day all partitions have passed.
        Returns the days closed."""
        self.clocks.passed(partition, day)
        if self.versions.start is None or day < self.versions.start:
            self.versions.start = day  # a partition's first day: nothing before it to learn
        low = self.clocks.low()
        if low is None:
            return []
        closed = self.versions.closed_through
        first_open = (closed + 1) if closed is not None else self.versions.start
        if first_open is None:
            return []
        days = list(range(first_open, low))
        for d in days:
            self.close(d)
        return days

    def close(self, day: int) -> None:
        """Learn ``day``'s outcomes (event time, then account) and publish the version that
        scores from ``day + lag``."""
        scored_with = self.versions.for_day(day).version
        outcomes = sorted(self.pending.pop(day, {}).values(), key=lambda o: o.order)
        digests: set[int] = set()
        for outcome in outcomes:
            if outcome.kind == LABEL:
                y = bool(outcome.label)
                self.models.learn(outcome.x, y)
                self.recent.append((y, outcome.probability))
            else:
                self.models.behaviour.update(outcome.x)
            self.learnt += 1
            digest = _digest(outcome.key)
            digests.add(digest)
            if outcome.offset >= 0:
                at = self.learnt_at.get(outcome.partition)
                if at is None or outcome.offset > at[0]:
                    self.learnt_at[outcome.partition] = (outcome.offset, {digest})
                elif outcome.offset == at[0]:
                    at[1].add(digest)
        self.versions.closed_through = day
        self.done[day] = digests
        for old in [d for d in self.done if d < day - DONE_DAYS]:
            del self.done[old]
        if outcomes:
            self.versions.publish(day + self.versions.lag, _copy(self.models))
        self.versions.forget_before(day + 1)
        self.days[day] = (self.rolling_auc(), scored_with)
        for old in [d for d in self.days if d < day - 60]:
            del self.days[old]

    def rolling_auc(self) -> float | None:
        """ROC AUC of the recent learnt predictions as scored; None until half the window is
        filled (or without both outcomes)."""
        if len(self.recent) < self.auc_window // 2:
            return None
        labels = list(self.recent)
        return roc_auc([int(y) for y, _ in labels], [p for _, p in labels])


@dataclass
class DayPartial:
    """One input partition's share of the portfolio as an event-time day ends."""

    partition: int
    day: int
    book: PortfolioBook
    macro: MacroBook
    reserve: float | None = None  # the latest streamed reserve (whole portfolio)


class PortfolioDesk:
    """Merges each day's partials and watches the whole book once per day."""

    def __init__(
        self,
        config: WatchConfig,
        partitions: Iterable[int] | None = None,
        idle_days: int | None = None,
    ) -> None:
        self.config = config
        self.clocks = Clocks(partitions, idle_days)
        self.watch = PortfolioWatch(config)
        self.partials: dict[int, dict[int, DayPartial]] = {}
        self.book = PortfolioBook()  # the whole book as the last closed day ended
        self.late = 0  # partials of days closed already
        self.changes = 0  # partials taken and days closed (the newer of two saved desks)

    def add(self, partial: DayPartial) -> None:
        """Keep a partition's partial of a day (one of a day closed already comes too late:
        the partition was presumed idle, and the day was watched without it)."""
        self.changes += 1
        if partial.day > self.watch.day or self.watch.day < 0:
            self.partials.setdefault(partial.day, {})[partial.partition] = partial
        else:
            self.late += 1
        self.clocks.passed(partial.partition, partial.day + 1)

    def ready(self) -> list[int]:
        """The days every partition has sent, not closed yet, in order."""
        low = self.clocks.low()
        if low is None:
            return []
        return sorted(d for d in self.partials if d < low)

    def close(self, day: int, model_auc: float | None, model: str) -> list[dict[str, Any]]:
        """Merge ``day``'s partials and run the watch on the whole book."""
        parts = [p for _, p in sorted(self.partials.pop(day, {}).items())]
        if not parts:
            return []
        self.changes += 1
        book = PortfolioBook.merged([p.book for p in parts])
        for part in parts:
            for key, amount in part.book.drawdowns.items():
                book.drawdowns[key] += amount
        reserves = [p.reserve for p in parts if p.reserve is not None]
        self.watch.streamed_reserve = reserves[0] if reserves else None
        share = len(parts) / max(self.config.partitions, 1)
        alerts = self.watch.close_day(day, book, parts[0].macro, model_auc, model, share)
        self.book = book
        return alerts

    def forget(self, partition: int) -> None:
        self.clocks.forget(partition)

    def open_alerts(self) -> list[dict[str, Any]]:
        return list(self.watch.open.values())

    def __getstate__(self) -> dict[str, Any]:
        # the partials waiting are saved apart, each once, by the partition that sent it
        state = self.__dict__.copy()
        state["partials"] = {}
        return state

    def take_back(self, partial: DayPartial) -> None:
        """A partial saved before a restart, if its day is still open and it is not here."""
        if partial.day > self.watch.day or self.watch.day < 0:
            self.partials.setdefault(partial.day, {}).setdefault(partial.partition, partial)


class LocalSchedule:
    """Learner and desk in the scorer's process, run as the partitions' clocks move.

    With ``partitions`` None the partitions are those that report (a worker holding some of
    the input's): exact when one process holds every partition, as the backtest does. A
    partition more than ``idle_days`` of event time behind the newest is presumed idle and holds
    no day open; what it hands on later for a closed day is learnt with the next day closed
    (counted in ``learner.late``; its late partials in ``desk.late``).
    """

    def __init__(
        self,
        models: ModelBook,
        watch: WatchConfig,
        lag: int = 1,
        auc_window: int = 2000,
        partitions: Iterable[int] | None = None,
        idle_days: int | None = 7,
    ) -> None:
        fixed = list(partitions) if partitions is not None else None
        self.learner = Learner(models, lag, auc_window, fixed, idle_days)
        self.desk = PortfolioDesk(watch, fixed, idle_days)
        #: scorings made before their day's version was published (only when partitions of
        #: one process are days apart); they used the newest version there was
        self.early = 0

    @property
    def models(self) -> ModelBook:
        """The learner's model book (what the newest version was copied from)."""
        return self.learner.models

    def ready(self, day: int) -> bool:
        """True when the version that scores ``day`` is published."""
        return self.learner.versions.ready(day)

    def model_for(self, day: int) -> ModelVersion:
        """The version that scores ``day``."""
        versions = self.learner.versions
        if not versions.ready(day):
            self.early += 1
        return versions.for_day(day)

    def outcome(self, outcome: Outcome) -> int | None:
        """Hand an outcome to the learner; the day it will be learnt with (None: taken before)."""
        return self.learner.add(outcome)

    def passed(self, partition: int, day: int, partials: list[DayPartial]) -> list[dict[str, Any]]:
        """``partition`` finished every day before ``day``, closing ``partials``; return the
        portfolio alerts of the days this lets the desk close."""
        self.learner.passed(partition, day)
        for partial in partials:
            self.desk.add(partial)
        self.desk.clocks.passed(partition, day)
        alerts: list[dict[str, Any]] = []
        for d in self.desk.ready():
            auc, model = self.learner.days.get(d, (None, ""))
            alerts += self.desk.close(d, auc, model.split("@")[0])
        return alerts

    def counts(self) -> dict[str, float]:
        """What the schedule has done, for the metrics."""
        closed = self.learner.versions.closed_through
        return {
            "monitor_learner_outcomes": self.learner.learnt,
            "monitor_learner_late_outcomes": self.learner.late,
            "monitor_schedule_early_scorings": self.early,
            "monitor_portfolio_late_partials": self.desk.late,
            "monitor_schedule_idle_partitions": len(self.learner.clocks.idle()),
            "monitor_learner_closed_day_seconds": (closed + 1) * DAY if closed is not None else 0,
        }

    def open_alerts(self) -> list[dict[str, Any]]:
        """The portfolio alerts open now."""
        return self.desk.open_alerts()

    def save(self) -> str:
        """The desk (its watch and the whole book as the last day closed) as text, for the
        store; the partials waiting are saved apart (:meth:`save_partial`)."""
        return encode_extra(self.desk)

    @staticmethod
    def save_partial(partial: DayPartial) -> str:
        """One partition's partial of a day as text, for the store."""
        return encode_extra(partial)

    def restore(self, text: str) -> None:
        """Take back a desk saved by :meth:`save`, unless this one has changed more since (the
        partials this one holds for days still open stay)."""
        desk = decode_extra(text)
        if isinstance(desk, PortfolioDesk) and desk.changes > self.desk.changes:
            desk.clocks = self.desk.clocks
            for partials in self.desk.partials.values():
                for partial in partials.values():
                    desk.take_back(partial)
            self.desk = desk

    def restore_partial(self, text: str) -> None:
        """Take back a partial saved by :meth:`save_partial` (if its day is still open)."""
        partial = decode_extra(text)
        if isinstance(partial, DayPartial):
            self.desk.take_back(partial)

    def save_learner(self) -> str:
        """The learner (models, versions, the days learnt) as text, for the store."""
        return encode_extra(self.learner)

    def restore_learner(
        self,
        text: str,
        head: int | None = None,
        log: Callable[[int, int], dict[int, list[Outcome]]] | None = None,
    ) -> bool:
        """Take back a learner saved by :meth:`save_learner` if it has learnt more days than
        this one; what this one holds for days it has not learnt is kept.

        With ``head`` (the last day the saved learner's run had closed, after the snapshot) and
        ``log`` (``log(after, through)``: the outcomes learnt with each day from ``after + 1`` to
        ``through``), the days after the snapshot are learnt again, each with its own outcomes,
        up to ``head``: the learner the run had. Returns True if it was taken."""
        saved = decode_extra(text)
        if not isinstance(saved, Learner):
            return False
        mine, theirs = self.learner.versions.closed_through, saved.versions.closed_through
        if theirs is None:
            return False
        target = max(theirs, head) if head is not None and log is not None else theirs
        if mine is not None and mine >= target:
            return False
        if target > theirs and log is not None:
            days = log(theirs, target)
            for day in range(theirs + 1, target + 1):
                saved.relearn(day, days.get(day, []))
        for outcomes in self.learner.pending.values():
            for outcome in outcomes.values():
                if outcome.day > target:
                    saved.add(outcome)
        saved.clocks = self.learner.clocks
        self.learner = saved
        return True

    def release(self, partition: int) -> None:
        """``partition`` is no longer held here: its clock no longer holds days open."""
        self.learner.clocks.forget(partition)
        self.desk.forget(partition)
