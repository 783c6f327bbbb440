"""The engine: validated events in, decisions out, on event time.

The engine orchestrates the parts of the core: the event-time timers and their pacing
(:mod:`monitor.core.timers`), labels (:mod:`monitor.core.labels`) and portfolio tracking
(:mod:`monitor.core.tracking`), over the account state in a :class:`Store`, and hands what it
learns and closes to the schedule (:mod:`monitor.core.schedule`): the engine scores, the schedule's
learner learns and its desk watches the whole portfolio.

For each event the engine first fires the event-time timers of its partition that are due (bills
about to fall due or falling past due and DPD milestones, which rescore the account; label
horizons expiring, which only resolve labels), then applies the event to the
account's ledgers, resolves pending predictions whose outcome is now known (handing them on as
outcome records), scores the account with the model version of its day, and applies the alert
policy. Nothing here reads the wall
clock, so a replay at full speed gives the same decisions as the live stream.

Timers are kept per input partition, so a partition that lags behind another in a replay never
has its accounts judged on another partition's clock. The looks due on a day are spread evenly
over that day's events (:mod:`monitor.core.pacing`: at most ``looks_per_event`` per event, an
account's own look always before its own event, and the day's rest before the next day begins);
each is still judged as of its day's start, on the macro indicators as they stood then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from monitor.core import behaviour as bh
from monitor.core import features as ft
from monitor.core import ledger as lg
from monitor.core.actions import recommend
from monitor.core.alerts import BORROWER_RISK, AlertPolicy, alert_id, build_alert
from monitor.core.events import Event
from monitor.core.explain import top_reasons
from monitor.core.group import GroupSchedule
from monitor.core.kept import KeptOutcomes
from monitor.core.labels import Labels
from monitor.core.macro import MacroBook
from monitor.core.models import ModelBook, Score
from monitor.core.portfolio import Move, PortfolioBook, month_of
from monitor.core.portfolio_watch import WatchConfig
from monitor.core.risk import is_material, risk_record
from monitor.core.schedule import BEHAVIOUR, Learner, LocalSchedule, Outcome
from monitor.core.state import AccountState, OpenAlert, ProductLedger, Snapshot
from monitor.core.store import Store, decode_extra
from monitor.core.timers import (
    BILL_LOOKS,
    DPD_MILESTONES,
    PRE_DUE_DAYS,
    Timers,
    is_bill_look,
    next_look,
)
from monitor.core.timeutil import DAY, day_of
from monitor.core.tracking import PortfolioTracker

#: store keys of the portfolio desk and of each partition's partials of a day
DESK, PARTIAL = "portfolio-desk:", "portfolio-partial:"
#: store keys of the learner's snapshots and of the last day it closed (per input partition)
SNAPSHOT, HEAD = "learner:", "learner-head:"
#: days between two snapshots of the learner at most
SNAPSHOT_DAYS = 30
#: about the bytes of one kept outcome record (deflated JSON; measured 45-55 on the bench)
RECORD_BYTES = 64


def _learner_of(text: str) -> Learner | None:
    learner = decode_extra(text)
    return learner if isinstance(learner, Learner) else None


__all__ = ["BILL_LOOKS", "DPD_MILESTONES", "PRE_DUE_DAYS", "Decisions", "Engine", "EngineConfig"]

_RECENT_BORROWING = 6


@dataclass(frozen=True)
class EngineConfig:
    """Settings of the engine (label horizon, snapshot spacing, alert policy)."""

    horizon_days: int = 60
    snapshot_every_days: int = 14
    policy: AlertPolicy = field(default_factory=AlertPolicy)
    #: loss given default per product, for expected loss = PD x exposure x LGD
    lgd: dict[str, float] = field(default_factory=lambda: {"credit_pay": 0.8, "cash_loan": 0.65})
    watch: WatchConfig = field(default_factory=WatchConfig)
    #: resolved predictions the champion's rolling ROC AUC is computed over
    auc_window: int = 2000
    #: looks due today fired per event at most (a day's looks are spread evenly over its
    #: events, see :mod:`monitor.core.pacing`)
    looks_per_event: int = 2
    #: days between a day's close and the day its learning scores from (at least 1)
    model_lag_days: int = 1
    #: a partition this many days of event time behind the newest no longer holds days open
    idle_partition_days: int = 7


@dataclass
class Decisions:
    """What processing one event decided; the edges turn it into messages and metrics."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    tier_moves: list[tuple[str | None, str | None]] = field(default_factory=list)
    labels: list[tuple[bool, float]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    scores: list[tuple[str, float, float]] = field(default_factory=list)  # account, time, p
    #: the model inputs of each of ``scores``, in the same order (what was scored)
    inputs: list[dict[str, float]] = field(default_factory=list)
    risk: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)  # None: closed
    duplicate: bool = False  # the event was applied before (a redelivery): nothing was done
    timers: int = 0


class _Explanation:
    """Reasons and action of a scoring, worked out only if an alert or record needs them."""

    def __init__(self, score: Score, x: dict[str, float], k: int) -> None:
        self._score, self._x, self._k = score, x, k
        self._reasons: list[str] | None = None
        self._action: str | None = None

    @property
    def reasons(self) -> list[str]:
        if self._reasons is None:
            self._reasons = top_reasons(self._score.contributions, self._x, self._k)
        return self._reasons

    @property
    def action(self) -> str:
        if self._action is None:
            self._action = recommend(self._x)
        return self._action


class Engine:
    """Applies events to account state and makes the borrower decisions."""

    def __init__(
        self,
        store: Store,
        models: ModelBook | None = None,
        config: EngineConfig | None = None,
        schedule: LocalSchedule | GroupSchedule | None = None,
    ) -> None:
        self.store = store
        self.config = config or EngineConfig()
        self.schedule: LocalSchedule | GroupSchedule = schedule or LocalSchedule(
            models or ModelBook(),
            self.config.watch,
            self.config.model_lag_days,
            self.config.auc_window,
            idle_days=self.config.idle_partition_days,
        )
        self.timers = Timers(self.config.looks_per_event)
        self.labels = Labels(self.config.horizon_days)
        self.tracker = PortfolioTracker(store, self.config.lgd)
        self._macro: dict[int, MacroBook] = {}
        self._offset = -1
        self.kept = KeptOutcomes(store)
        #: partition -> the days of its partials in the store
        self._partials: dict[int, set[int]] = {}
        #: the partials of days up to this one are merged in a saved desk and the one before
        self._merged_through = -(1 << 30)
        #: the outcome records of days up to this one are learnt by two saved snapshots
        self._kept_through: int | None = None
        #: the learner's last snapshot: (its closed day, outcomes learnt, bytes)
        self._snapshot: tuple[int, int, int] | None = None

    # -- recovery -------------------------------------------------------------------------
    def recover(self, partition: int, from_offset: int) -> list[dict[str, Any]]:
        """Re-index a partition's timers after a (re)start; return alerts to send again.

        ``from_offset`` is the first input offset the consumer delivers after the start. Account
        state may already hold events from ``from_offset`` on (state is changelogged before the
        input offset is committed): those events are skipped when they come again, and the
        alerts they made are returned here so that none is lost (receivers deduplicate by id).
        """
        resend: list[dict[str, Any]] = []
        self.release(partition)
        states = [state for state in self.store.states() if state.partition == partition]
        self.tracker.recover(partition, states)
        if isinstance(self.schedule, LocalSchedule):  # a group's keeper keeps its own
            self._recover_schedule(self.schedule, partition)
        for state in states:
            if state.next_check >= 0:
                self._push(state)
            if state.outbox and state.outbox_offset >= from_offset >= 0:
                resend.extend(state.outbox)
        return resend

    def _recover_schedule(self, schedule: LocalSchedule, partition: int) -> None:
        saved = self.store.get_extra(f"{DESK}p{partition}")
        if saved is not None:
            schedule.restore(saved)
        days = self._partials[partition] = set()
        for key, text in list(self.store.extras(PARTIAL)):
            day, home = key[len(PARTIAL) :].split(":")
            if home == f"p{partition}":
                schedule.restore_partial(text)
                days.add(int(day))
        self._recover_learning(schedule, partition)

    def save(self) -> None:
        """Save what the store cannot rebuild from account state (the portfolio books' monthly
        transitions, vintages and drawdowns); call it at the end of each batch, before the
        store is flushed), and end the batch's chunks of outcome records."""
        self.tracker.save_books()
        self.kept.seal()

    def _recover_learning(self, schedule: LocalSchedule, partition: int) -> None:
        """Take back the learner as it stood when a day last closed (its last snapshot, with the
        days closed since learnt again from the outcome records kept), and the outcomes this
        partition handed on since (what it had learnt and was to learn when the process
        stopped)."""
        heads = [value.split() for _, value in self.store.extras(HEAD)]
        head = max((int(h[0]) for h in heads), default=None)
        learner = schedule.learner
        mine = learner.versions.closed_through
        if head is None or mine is None or head > mine:
            best: tuple[int, int, str] | None = None
            for _, text in self.store.extras(SNAPSHOT):
                saved = _learner_of(text)
                day = saved.versions.closed_through if saved is not None else None
                if saved is None or day is None or (head is not None and day > head):
                    continue
                if best is None or day > best[0]:
                    best = (day, saved.learnt, text)
            if best is not None and schedule.restore_learner(best[2], head, self.kept.log):
                learner = schedule.learner
                learner.late = max(int(h[1]) for h in heads if int(h[0]) == head) if heads else 0
                self._snapshot = (best[0], best[1], len(best[2]))
        closed = learner.versions.closed_through
        for day, outcome in self.kept.recover(partition, closed):
            learner.add(outcome, day)

    def release(self, partition: int) -> None:
        """Forget everything held for ``partition`` (revoked from this worker): its timers and
        pace, portfolio book, tier counts, cached macro book, the outcomes it kept and its clock
        in the schedule. The store keeps the state, so :meth:`recover` rebuilds them when the
        partition comes back."""
        self.timers.release(partition)
        self.tracker.release(partition)
        self.schedule.release(partition)
        self.kept.release(partition)
        self._partials.pop(partition, None)
        self._macro.pop(partition, None)

    def partitions(self) -> set[int]:
        """The input partitions the engine holds anything for."""
        return {*self.timers.partitions(), *self.tracker.partitions(), *self._macro}

    def catch_up(self, partition: int, time: float, result: Decisions) -> None:
        """Bring ``partition``'s clock to the day of ``time``: fire every look of an earlier
        day (closing each day as the clock leaves it, after its looks) and hand the days closed
        to the schedule. After it, the partition waits for the model version of its day (see
        :meth:`ready`)."""
        self.timers.catch_up(
            partition,
            day_of(time),
            partial(self._fire, result),
            lambda day: self._close_days(partition, day, result),
        )

    def fire_today(self, partition: int, time: float, result: Decisions) -> None:
        """Fire as many of today's looks as the partition's pace allows at this event, so that
        a day's looks are spread over its events instead of pausing the stream at its first
        one. Each look is judged as of its day's start."""
        self.timers.fire_today(partition, day_of(time), partial(self._fire, result))

    def ready(self, day: int) -> bool:
        """True when the model version that scores ``day`` is published."""
        return self.schedule.ready(day)

    def _fire(self, result: Decisions, day: int, account_id: str) -> bool:
        state = self.store.get(account_id)
        if state is None or state.next_check != day:
            return False  # superseded by a later schedule
        self._look(state, day, result)
        return True

    def _look(self, state: AccountState, day: int, result: Decisions) -> None:
        """The account's look of ``day``: rescore it on a bill look, else only resolve the
        labels whose horizon has ended."""
        result.timers += 1
        if is_bill_look(state, day):
            self._score_account(
                state, day * DAY, f"timer:{state.account_id}:{day}", result, look=True
            )
        else:
            self._expire_labels(state, day, result)

    def _push(self, state: AccountState) -> None:
        self.timers.push(state.partition, state.next_check, state.account_id)

    def _expire_labels(self, state: AccountState, day: int, result: Decisions) -> None:
        """Resolve the predictions whose horizon has passed and hand them on. A horizon's end
        says nothing new about the account, so it is not scored again here (half of all timers
        are these); its next event or bill look scores it."""
        worst = max((lg.dpd(p, day) for p in state.products.values() if not p.closed), default=0)
        self._resolve_labels(state, day, worst, result)
        self._schedule(state, day)
        self.store.put(state)

    def _close_days(self, partition: int, today: int, result: Decisions) -> None:
        """Close the days of ``partition`` before ``today`` and tell the schedule."""
        partials = self.tracker.close_days(partition, today, self.macro(partition))
        if partials is None:
            return
        schedule = self.schedule
        if not isinstance(schedule, LocalSchedule):  # the group's keeper takes them
            result.alerts += schedule.passed(partition, today, partials)
            return
        learnt = schedule.learner.versions.closed_through
        watched = schedule.desk.watch.day
        result.alerts += schedule.passed(partition, today, partials)
        if self._offset < 0:
            return  # a file replay: nothing to take back after a restart
        for share in partials:  # each once; dropped once the desk has merged its day
            key = f"{PARTIAL}{share.day}:p{partition}"
            self.store.put_extra(key, schedule.save_partial(share), partition)
            self._partials.setdefault(partition, set()).add(share.day)
        if schedule.desk.watch.day != watched:  # the desk closed days: keep it (once)
            self.store.put_extra(f"{DESK}p{partition}", schedule.save(), partition)
            # the partials of the days the desk before it had closed can go (should this desk
            # not have been written, the one before and the partials it needs are still there)
            self._merged_through = watched
        # what this partition keeps that a saved desk or learner no longer needs goes (each
        # partition drops its own, as it writes only to its own)
        days = self._partials.get(partition, set())
        for day in [d for d in days if d <= self._merged_through]:
            self.store.delete_extra(f"{PARTIAL}{day}:p{partition}", partition)
            days.discard(day)
        if self._kept_through is not None:
            self.kept.learnt(partition, self._kept_through)
        closed = schedule.learner.versions.closed_through
        if closed is not None and closed != learnt:
            self._save_learning(schedule, partition, closed)

    def _save_learning(self, schedule: LocalSchedule, partition: int, closed: int) -> None:
        """The learner closed days up to ``closed``: note it (a few bytes), and every
        :data:`SNAPSHOT_DAYS` days, or once the outcomes learnt since the last snapshot would
        take about as many bytes as it, save the whole learner (a snapshot). Between snapshots a
        restart rebuilds the learner from the last one and the outcome records kept since
        (:meth:`_recover_learning`), so they are kept until a snapshot has learnt them; those of
        the snapshot before it go (should the newest not have been written, the one before and
        its outcomes are still there)."""
        learner = schedule.learner
        self.store.put_extra(f"{HEAD}p{partition}", f"{closed} {learner.late}", partition)
        last = self._snapshot
        if last is not None:
            day, learnt, size = last
            since = (learner.learnt - learnt) * RECORD_BYTES
            if closed - day < SNAPSHOT_DAYS and since < size:
                return
        text = schedule.save_learner()
        self.store.put_extra(f"{SNAPSHOT}p{partition}", text, partition)
        self._snapshot = (closed, learner.learnt, len(text))
        if last is not None:  # the records the snapshot before this one had learnt can go
            self._kept_through = last[0]

    @property
    def models(self) -> ModelBook:
        """The learner's model book (the newest version scores from the next day on), in an
        engine that learns (a scorer of a group does not: the group's keeper does)."""
        return self.local.models

    @property
    def local(self) -> LocalSchedule:
        """The schedule of an engine that learns and watches in its own process (the
        backtest's); a scorer of a group has none (TypeError)."""
        if not isinstance(self.schedule, LocalSchedule):
            raise TypeError("a scorer of a group learns nothing: the group's keeper has the models")
        return self.schedule

    def portfolio(self) -> tuple[PortfolioBook, list[dict[str, Any]]]:
        """The books of every partition here merged, and the open portfolio alerts."""
        return self.tracker.merged(), self.schedule.open_alerts()

    def accounts_by_tier(self) -> dict[str, int]:
        """Open accounts by current risk tier, over the partitions held."""
        return self.tracker.accounts_by_tier()

    def _schedule(self, state: AccountState, day: int) -> None:
        """Index the account's next look after ``day``."""
        nxt = next_look(state, day, self.config.horizon_days)
        if nxt != state.next_check:
            state.next_check = nxt
            if nxt >= 0:
                self._push(state)

    # -- events ---------------------------------------------------------------------------
    def macro(self, partition: int) -> MacroBook:
        """The macro book of a partition."""
        book = self._macro.get(partition)
        if book is None:
            book = self.store.get_macro(partition) or MacroBook()
            self._macro[partition] = book
        return book

    def book(self, partition: int) -> PortfolioBook:
        """The portfolio book of a partition."""
        return self.tracker.book(partition)

    def process(self, event: Event, partition: int = 0, offset: int = -1) -> Decisions:
        """Apply one validated event and return the decisions it led to.

        ``offset`` is the event's input offset in ``partition`` (-1 when there is none, as in a
        file replay); an event at or before the offset an account has already applied is a
        redelivery and changes nothing.
        """
        return self.finish(event, partition, offset, self.begin(event, partition, offset))

    def begin(self, event: Event, partition: int = 0, offset: int = -1) -> Decisions:
        """The first part of :meth:`process`: :meth:`catch_up` to the event's day. A scorer
        then waits until the model version of that day is :meth:`ready` and calls
        :meth:`finish`."""
        result = Decisions()
        self._offset = offset
        self.catch_up(partition, event.time, result)
        return result

    def finish(self, event: Event, partition: int, offset: int, result: Decisions) -> Decisions:
        """The rest of :meth:`process` after :meth:`catch_up`: today's paced looks and the
        event itself."""
        self._offset = offset
        self.fire_today(partition, event.time, result)
        if event.type == "reserve_updated":
            self.tracker.set_reserve(partition, float(event.data["amount"]))
            return result
        if event.type == "macro_indicator":
            book = self.macro(partition)
            if 0 <= offset <= book.offset:
                result.duplicate = True
                return result
            book.update(event.data["region"], event.data["indicator"], float(event.data["value"]))
            book.offset = offset
            self.store.put_macro(partition, book)
            return result
        state = self.store.get(event.account_id)
        if state is None:
            state = AccountState(event.account_id, partition=partition)
        elif state.partition != partition:
            state.partition = partition
            state.next_check = -1
            state.offset = -1
        elif 0 <= offset <= state.offset:
            result.duplicate = True
            return result
        if 0 <= state.next_check <= event.day:
            self._look(state, state.next_check, result)  # its look of today, not fired yet
        state.offset = offset
        self._apply(state, event)
        state.last_event, state.last_event_id = event.time, event.event_id
        self._score_account(state, event.time, event.event_id, result)
        return result

    def _ledger(self, state: AccountState, product: str, day: int) -> ProductLedger:
        ledger = state.products.get(product)
        if ledger is None:  # events for a product opened before the monitor started
            ledger = ProductLedger(product, opened=day)
            state.products[product] = ledger
        return ledger

    def _apply(self, state: AccountState, event: Event) -> None:
        data, day = event.data, event.day
        kind = event.type
        if kind == "account_opened":
            state.region = data["region"]
            state.attributes.update(data.get("applicant") or {})
            ledger = self._ledger(state, event.product, day)
            if ledger.contrib is None:
                self.book(state.partition).opened(event.product, month_of(day))
            ledger.limit, ledger.closed = float(data["credit_limit"]), False
            return
        ledger = self._ledger(state, event.product, day)
        if lg.apply_event(ledger, kind, data, day):
            return
        if kind == "drawdown":
            ledger.loan_balance += float(data["amount"])
            self.book(state.partition).drew(
                event.product, state.region or "unknown", float(data["amount"])
            )
            if self._borrowing_to_repay(state, day):
                state.borrow_to_repay = ([*state.borrow_to_repay, day])[-_RECENT_BORROWING:]
        elif kind == "credit_limit_changed":
            ledger.limit = float(data["new_limit"])
        elif kind == "account_closed":
            ledger.closed = True

    @staticmethod
    def _borrowing_to_repay(state: AccountState, day: int) -> bool:
        credit = state.products.get("credit_pay")
        if credit is None:
            return False
        due = lg.oldest_unpaid_due(credit)
        return due is not None and due - day <= ft.BORROW_LEAD

    # -- decisions ------------------------------------------------------------------------
    def _score_account(
        self, state: AccountState, time: float, trigger: str, result: Decisions, look: bool = False
    ) -> None:
        day = day_of(time)
        if state.outbox_offset != self._offset:
            state.outbox, state.outbox_offset = [], self._offset
        worst_dpd, worst_product = 0, ""
        settled = 0
        owes = False
        for ledger in state.products.values():
            settled += lg.settle(ledger, day)
            owes = owes or (not ledger.closed and lg.outstanding(ledger) > 0)
            days = lg.dpd(ledger, day) if not ledger.closed else 0
            if days > worst_dpd or not worst_product:
                worst_dpd, worst_product = days, ledger.product
        self._resolve_labels(state, day, worst_dpd, result)
        if all(ledger.closed for ledger in state.products.values()):
            self._contribute(state, day, result)
            self._close(state, time, trigger, result)
            return
        models = self.schedule.model_for(day)
        if settled:  # a bill fell due: how unusual is the account's latest cycle
            cycle = bh.behaviour(state, day)
            state.behaviour = round(models.behaviour.score(cycle), 4)
            self._hand_on(
                Outcome(
                    BEHAVIOUR,
                    day,
                    time,
                    state.account_id,
                    cycle,
                    partition=state.partition,
                    offset=self._offset,
                ),
                result,
            )
        macro = self.macro(state.partition)
        if look:  # judged on the indicators as its day began, whichever event it fires at
            macro = self.tracker.day_macro(state.partition, day) or macro
        x_values = ft.vector(state, day, macro)
        x = ft.as_dict(x_values)
        score = models.score(x)
        result.scores.append((state.account_id, time, score.probability))
        result.inputs.append(x)
        old_tier = state.tier or None
        state.probability = score.probability
        state.tier = self.config.policy.tier(score.probability)
        if old_tier != state.tier:
            result.tier_moves.append((old_tier, state.tier))
            self.tracker.tier_moved(state.partition, old_tier, state.tier)
        if (
            owes  # nothing owed, nothing to learn: the endless easy negatives of paid-up accounts
            and state.delinquent_since < 0
            and (
                not state.pending or day - state.pending[-1].day >= self.config.snapshot_every_days
            )
        ):
            state.pending.append(
                Snapshot(day, round(score.probability, 5), x_values, score.version)
            )
        self._contribute(state, day, result)
        told = _Explanation(score, x, self.config.policy.reasons)
        self._alert(state, told, score.version, time, trigger, worst_dpd, worst_product, result)
        if is_material(
            state.published if state.published >= 0 else None,
            state.published_tier,
            state.probability,
            state.tier,
        ):
            state.published, state.published_tier = state.probability, state.tier
            result.risk.append(
                (
                    state.account_id,
                    risk_record(
                        account_id=state.account_id,
                        product=worst_product,
                        region=state.region,
                        probability=state.probability,
                        tier=state.tier,
                        reasons=told.reasons,
                        action=told.action,
                        model_version=score.version,
                        updated=time,
                        last_event=state.last_event,
                        trigger_event_id=trigger,
                        days_past_due=worst_dpd,
                    ),
                )
            )
        self._schedule(state, day)
        self.store.put(state)

    def _contribute(self, state: AccountState, day: int, result: Decisions) -> None:
        """Bring each product's contribution to the portfolio book up to date."""
        result.moves += self.tracker.contribute(state, day)

    def _resolve_labels(
        self, state: AccountState, day: int, worst_dpd: int, result: Decisions
    ) -> None:
        book = self.book(state.partition)
        for outcome in self.labels.resolve(state, day, worst_dpd, book.went_bad, self._offset):
            self._hand_on(outcome, result)
            result.labels.append((bool(outcome.label), outcome.probability))

    def _hand_on(self, outcome: Outcome, result: Decisions) -> None:
        """An outcome leaves the scoring path for the learner (and, from a topic, if the
        learner took it, is kept in the store until a snapshot of the learner has learnt it, so
        that a restart learns it too)."""
        result.outcomes.append(outcome)
        day = self.schedule.outcome(outcome)
        if day is not None and self._offset >= 0:
            self.kept.keep(outcome, day)

    def _alert(
        self,
        state: AccountState,
        told: _Explanation,
        version: str,
        time: float,
        trigger: str,
        dpd: int,
        product: str,
        result: Decisions,
    ) -> None:
        policy = self.config.policy
        p = state.probability
        current = state.alerts.get(BORROWER_RISK)
        if current is None and p >= policy.open_at and dpd < 30:
            current = OpenAlert(
                alert_id(state.account_id, BORROWER_RISK, trigger), time, p, product, state.region
            )
            state.alerts[BORROWER_RISK] = current
            status = "firing"
        elif current is not None and p < policy.clear_at:
            del state.alerts[BORROWER_RISK]
            status = "resolved"
        else:
            return
        alert = build_alert(
            alert_id=current.alert_id,
            status=status,
            account_id=state.account_id,
            product=current.product or product,  # a resolution names what its alert named
            region=current.region or state.region,
            probability=p,
            tier=state.tier,
            reasons=told.reasons,
            action=told.action,
            model_version=version,
            time=time,
            opened=current.opened,
            trigger_event_id=trigger,
            days_past_due=dpd,
        )
        result.alerts.append(alert)
        if self._offset >= 0:
            state.outbox.append(alert)

    def _close(self, state: AccountState, time: float, trigger: str, result: Decisions) -> None:
        for cause, alert in list(state.alerts.items()):
            result.alerts.append(
                build_alert(
                    alert_id=alert.alert_id,
                    status="resolved",
                    account_id=state.account_id,
                    product=alert.product or next(iter(state.products), ""),
                    region=alert.region or state.region,
                    probability=state.probability,
                    tier=state.tier,
                    reasons=["Account closed."],
                    action="none",
                    model_version=self.schedule.model_for(day_of(time)).version,
                    time=time,
                    opened=alert.opened,
                    trigger_event_id=trigger,
                    days_past_due=0,
                )
            )
            del state.alerts[cause]
        if state.tier:
            result.tier_moves.append((state.tier, None))
            self.tracker.tier_moved(state.partition, state.tier, None)
        result.risk.append((state.account_id, None))
        self.store.delete(state.account_id)
