"""The engine: validated events in, decisions out, on event time.

For each event the engine first fires the event-time timers of its partition that are due (bills
about to fall due or falling past due and DPD milestones, which rescore the account; label
horizons expiring, which only resolve labels), then applies the event to the
account's ledgers, resolves pending predictions whose outcome is now known (and lets the model
learn from them), scores the account, and applies the alert policy. Nothing here reads the wall
clock, so a replay at full speed gives the same decisions as the live stream.

Timers are kept per input partition, so a partition that lags behind another in a replay never
has its accounts judged on another partition's clock. The looks due on a day are spread evenly
over that day's events (:mod:`monitor.core.pacing`: at most ``looks_per_event`` per event, an
account's own look always before its own event, and the day's rest before the next day begins);
each is still judged as of its day's start.
"""

from __future__ import annotations

import bisect
import heapq
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from monitor.core import behaviour as bh
from monitor.core import features as ft
from monitor.core import ledger as lg
from monitor.core.actions import recommend
from monitor.core.alerts import BORROWER_RISK, AlertPolicy, alert_id, build_alert
from monitor.core.events import Event
from monitor.core.explain import top_reasons
from monitor.core.macro import MacroBook
from monitor.core.models import ModelBook, Score
from monitor.core.pacing import LookPace
from monitor.core.portfolio import Contribution, Move, PortfolioBook, month_of
from monitor.core.portfolio_watch import (
    PortfolioWatch,
    WatchConfig,
    decode_portfolio,
    encode_portfolio,
)
from monitor.core.risk import is_material, risk_record
from monitor.core.state import AccountState, OpenAlert, ProductLedger, Snapshot
from monitor.core.store import Store
from monitor.core.timeutil import DAY, day_of
from monitor.evaluation import roc_auc

#: Days past due at which a past-due account is looked at again without an event.
DPD_MILESTONES = (1, 3, 7, 10, 14, 18, 23, 30, 45, 60, 90)
#: Days before a due date at which an account with an unpaid bill is looked at.
PRE_DUE_DAYS = 3
#: Days, relative to an unpaid bill's due date, on which its account is looked at again: before
#: the due date, the day after it, and at each DPD milestone (ascending).
BILL_LOOKS = tuple(sorted({-PRE_DUE_DAYS, 1, *DPD_MILESTONES}))
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


@dataclass
class Result:
    """What processing one event decided; the edges turn it into messages and metrics."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    tier_moves: list[tuple[str | None, str | None]] = field(default_factory=list)
    labels: list[tuple[bool, float]] = field(default_factory=list)
    scores: list[tuple[str, float, float]] = field(default_factory=list)  # account, time, p
    risk: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)  # None: closed
    duplicate: bool = False  # the event was applied before (a redelivery): nothing was done
    timers: int = 0


class _Told:
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
        self, store: Store, models: ModelBook | None = None, config: EngineConfig | None = None
    ) -> None:
        self.store = store
        self.models = models or ModelBook()
        self.config = config or EngineConfig()
        self._timers: dict[int, list[tuple[int, str]]] = {}
        self._paces: dict[int, LookPace] = {}
        self._macro: dict[int, MacroBook] = {}
        self._books: dict[int, PortfolioBook] = {}
        self._watches: dict[int, PortfolioWatch] = {}
        self._recent_labels: deque[tuple[bool, float]] = deque(maxlen=self.config.auc_window)
        self._offset = -1

    # -- recovery -------------------------------------------------------------------------
    def recover(self, partition: int, from_offset: int) -> list[dict[str, Any]]:
        """Re-index a partition's timers after a (re)start; return alerts to send again.

        ``from_offset`` is the first input offset the consumer delivers after the start. Account
        state may already hold events from ``from_offset`` on (state is changelogged before the
        input offset is committed): those events are skipped when they come again, and the
        alerts they made are returned here so that none is lost (receivers deduplicate by id).
        """
        resend: list[dict[str, Any]] = []
        saved = self.store.get_extra(f"portfolio:p{partition}")
        if saved is not None:
            self._books[partition], self._watches[partition] = decode_portfolio(saved)
        book = self.book(partition)
        book.segments.clear()  # the sums come back from the accounts' own contributions
        for state in self.store.states():
            if state.partition != partition:
                continue
            for ledger in state.products.values():
                if ledger.contrib is not None:
                    book.apply(Move(ledger.product, None, Contribution(*ledger.contrib)))
            if state.next_check >= 0:
                self._push(state)
            if state.outbox and state.outbox_offset >= from_offset >= 0:
                resend.extend(state.outbox)
        return resend

    def advance(self, partition: int, time: float, result: Result) -> None:
        """Fire the timers of ``partition`` that are due by ``time``: every one of an earlier
        day (closing each portfolio day as the clock leaves it, after its looks), and as many of
        today's as the partition's :class:`LookPace` allows, so that a day's looks are spread
        over its events instead of pausing the stream at its first one. Each look is judged as
        of its day's start."""
        heap = self._timers.get(partition)
        today = day_of(time)
        pace = self._pace(partition)
        pace.next_event(today)
        allowed = pace.allowed()
        while heap and heap[0][0] <= today:
            day, account_id = heap[0]
            if day == today and allowed <= 0:
                break
            heapq.heappop(heap)
            self._close_days(partition, day, result)
            state = self.store.get(account_id)
            if state is None or state.next_check != day:
                continue  # superseded by a later schedule
            self._look(state, day, result)
            if day == today:
                allowed -= 1
                pace.fired += 1
        self._close_days(partition, today, result)

    def _look(self, state: AccountState, day: int, result: Result) -> None:
        """The account's look of ``day``: rescore it on a bill look, else only resolve the
        labels whose horizon has ended."""
        result.timers += 1
        if self._bill_check(state, day):
            self._touch(state, day * DAY, f"timer:{state.account_id}:{day}", result)
        else:
            self._expire_labels(state, day, result)

    def _push(self, state: AccountState) -> None:
        heapq.heappush(
            self._timers.setdefault(state.partition, []), (state.next_check, state.account_id)
        )
        self._pace(state.partition).schedule(state.next_check)

    def _pace(self, partition: int) -> LookPace:
        pace = self._paces.get(partition)
        if pace is None:
            pace = self._paces[partition] = LookPace(self.config.looks_per_event)
        return pace

    @staticmethod
    def _bill_check(state: AccountState, day: int) -> bool:
        """True if ``day`` is one of the :data:`BILL_LOOKS` of an unpaid bill, rather than only
        a label horizon's end."""
        return any(day - due in BILL_LOOKS for due in _unpaid_dues(state))

    def _expire_labels(self, state: AccountState, day: int, result: Result) -> None:
        """Resolve the predictions whose horizon has passed and learn from them. A horizon's end
        says nothing new about the account, so it is not scored again here (half of all timers
        are these); its next event or bill look scores it."""
        worst = max((lg.dpd(p, day) for p in state.products.values() if not p.closed), default=0)
        self._resolve_labels(state, day, worst, result)
        self._schedule(state, day)
        self.store.put(state)

    def _watch(self, partition: int, today: int) -> PortfolioWatch:
        watch = self._watches.get(partition)
        if watch is None:
            watch = self._watches[partition] = PortfolioWatch(self.config.watch, day=today - 1)
        return watch

    def _close_days(self, partition: int, today: int, result: Result) -> None:
        watch = self._watch(partition, today)
        if watch.day >= today - 1:
            return
        book, macro = self.book(partition), self.macro(partition)
        labels = list(self._recent_labels)
        auc = roc_auc([int(y) for y, _ in labels], [p for _, p in labels])
        enough = len(labels) >= self.config.auc_window // 2
        for day in range(watch.day + 1, today):
            result.alerts += watch.close_day(day, book, macro, auc if enough else None)
        self.store.put_extra(f"portfolio:p{partition}", encode_portfolio(book, watch), partition)

    def watch(self, partition: int) -> PortfolioWatch | None:
        """The portfolio watch of a partition (None before its first event)."""
        return self._watches.get(partition)

    def portfolio(self) -> tuple[PortfolioBook, list[dict[str, Any]]]:
        """The books of every partition here merged, and the open portfolio alerts."""
        merged = PortfolioBook.merged(list(self._books.values()))
        open_alerts = [a for w in self._watches.values() for a in w.open.values()]
        return merged, open_alerts

    def _schedule(self, state: AccountState, day: int) -> None:
        """Index the account's next look after ``day``: the earliest of its unpaid bills' next
        :data:`BILL_LOOKS` and its pending snapshots' horizon ends."""
        nxt = -1
        for due in _unpaid_dues(state):
            i = bisect.bisect_right(BILL_LOOKS, day - due)
            if i < len(BILL_LOOKS) and (nxt < 0 or due + BILL_LOOKS[i] < nxt):
                nxt = due + BILL_LOOKS[i]
        if state.pending:
            end = min(s.day for s in state.pending) + self.config.horizon_days + 1
            nxt = end if nxt < 0 else min(nxt, end)
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
        book = self._books.get(partition)
        if book is None:
            book = PortfolioBook()
            self._books[partition] = book
        return book

    def process(self, event: Event, partition: int = 0, offset: int = -1) -> Result:
        """Apply one validated event and return the decisions it led to.

        ``offset`` is the event's input offset in ``partition`` (-1 when there is none, as in a
        file replay); an event at or before the offset an account has already applied is a
        redelivery and changes nothing.
        """
        result = Result()
        self._offset = offset
        self.advance(partition, event.time, result)
        if event.type == "reserve_updated":
            self._watch(partition, event.day).streamed_reserve = float(event.data["amount"])
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
        self._touch(state, event.time, event.event_id, result)
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
    def _touch(self, state: AccountState, time: float, trigger: str, result: Result) -> None:
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
        if settled:  # a bill fell due: how unusual is the account's latest cycle
            state.behaviour = round(self.models.behaviour.update(bh.behaviour(state, day)), 4)
        x_values = ft.vector(state, day, self.macro(state.partition))
        x = ft.as_dict(x_values)
        score = self.models.score(x)
        result.scores.append((state.account_id, time, score.probability))
        old_tier = state.tier or None
        state.probability = score.probability
        state.tier = self.config.policy.tier(score.probability)
        if old_tier != state.tier:
            result.tier_moves.append((old_tier, state.tier))
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
        told = _Told(score, x, self.config.policy.reasons)
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

    def _contribute(self, state: AccountState, day: int, result: Result) -> None:
        """Bring each product's contribution to the portfolio book up to date."""
        book = self.book(state.partition)
        region = state.region or "unknown"
        for ledger in state.products.values():
            new = None
            if not ledger.closed:
                bucket = lg.bucket_of(lg.dpd(ledger, day))
                exposure = lg.outstanding(ledger)
                lgd = self.config.lgd.get(ledger.product, 1.0)
                new = Contribution(
                    region,
                    bucket,
                    round(exposure, 2),
                    round(state.probability * exposure * lgd, 2),
                    round(state.probability, 5),
                    ledger.limit,
                )
                month = month_of(day)
                if ledger.month != month:
                    if ledger.month >= 0:
                        book.transition(
                            ledger.month, ledger.product, region, ledger.month_bucket, bucket
                        )
                    ledger.month, ledger.month_bucket = month, bucket
            old = Contribution(*ledger.contrib) if ledger.contrib is not None else None
            if new != old:
                move = Move(ledger.product, old, new)
                book.apply(move)
                result.moves.append(move)
                ledger.contrib = list(new) if new is not None else None

    def _resolve_labels(
        self, state: AccountState, day: int, worst_dpd: int, result: Result
    ) -> None:
        horizon = self.config.horizon_days
        if worst_dpd >= 30 and state.delinquent_since < 0:
            dues = [
                d
                for p in state.products.values()
                if not p.closed
                for d in [lg.oldest_unpaid_due(p)]
                if d is not None and day - d >= 30
            ]
            state.delinquent_since = min(dues) + 30
            if not state.ever_delinquent:
                for ledger in state.products.values():
                    if lg.dpd(ledger, day) >= 30:
                        self.book(state.partition).went_bad(
                            ledger.product,
                            month_of(ledger.opened),
                            month_of(state.delinquent_since) - month_of(ledger.opened),
                        )
            state.ever_delinquent = True
        elif worst_dpd < 30:
            state.delinquent_since = -1
        keep: list[Snapshot] = []
        for snap in state.pending:
            start = state.delinquent_since
            if start >= 0 and snap.day < start <= snap.day + horizon:
                self._learn(snap, True, result)
            elif day > snap.day + horizon:
                self._learn(snap, False, result)
            else:
                keep.append(snap)
        state.pending = keep

    def _learn(self, snap: Snapshot, outcome: bool, result: Result) -> None:
        self.models.learn(ft.as_dict(snap.features), outcome)
        result.labels.append((outcome, snap.probability))
        self._recent_labels.append((outcome, snap.probability))

    def _alert(
        self,
        state: AccountState,
        told: _Told,
        version: str,
        time: float,
        trigger: str,
        dpd: int,
        product: str,
        result: Result,
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

    def _close(self, state: AccountState, time: float, trigger: str, result: Result) -> None:
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
                    model_version=self.models.version,
                    time=time,
                    opened=alert.opened,
                    trigger_event_id=trigger,
                    days_past_due=0,
                )
            )
            del state.alerts[cause]
        if state.tier:
            result.tier_moves.append((state.tier, None))
        result.risk.append((state.account_id, None))
        self.store.delete(state.account_id)


def _unpaid_dues(state: AccountState) -> list[int]:
    """Due days of the unsatisfied bills of the account's open products."""
    return [
        bill.due
        for ledger in state.products.values()
        if not ledger.closed
        for bill in ledger.bills
        if not bill.satisfied
    ]
