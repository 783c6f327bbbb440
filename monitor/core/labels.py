"""Labels: when a scored snapshot's outcome is known.

An account is delinquent from the day its oldest unpaid bill reaches 30 days past due. A pending
snapshot (the model inputs as scored) resolves positive when that day falls within the label
horizon after it, negative once the horizon has passed without it. A resolved snapshot leaves the
scoring path as an :class:`~monitor.core.schedule.Outcome` record; the
:class:`~monitor.core.schedule.Learner` learns it when its day closes.
"""

from __future__ import annotations

from collections.abc import Callable

from monitor.core import features as ft
from monitor.core import ledger as lg
from monitor.core.portfolio import month_of
from monitor.core.schedule import LABEL, Outcome
from monitor.core.state import AccountState, Snapshot
from monitor.core.timeutil import DAY

#: ``went_bad(product, opened_month, months_on_book)``: an account product first reached 30+ DPD
WentBad = Callable[[str, int, int], None]


class Labels:
    """Resolves the labels of pending snapshots."""

    def __init__(self, horizon_days: int) -> None:
        self.horizon_days = horizon_days

    def resolve(
        self, state: AccountState, day: int, worst_dpd: int, went_bad: WentBad, offset: int = -1
    ) -> list[Outcome]:
        """Bring the account's delinquency up to ``day`` (``worst_dpd`` its worst DPD then);
        return the outcomes of the snapshots it resolves (``offset``: the input offset being
        processed)."""
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
                        went_bad(
                            ledger.product,
                            month_of(ledger.opened),
                            month_of(state.delinquent_since) - month_of(ledger.opened),
                        )
            state.ever_delinquent = True
        elif worst_dpd < 30:
            state.delinquent_since = -1
        resolved: list[Outcome] = []
        keep: list[Snapshot] = []
        for snap in state.pending:
            start = state.delinquent_since
            if start >= 0 and snap.day < start <= snap.day + self.horizon_days:
                resolved.append(_outcome(state, snap, True, day, offset))
            elif day > snap.day + self.horizon_days:
                resolved.append(_outcome(state, snap, False, day, offset))
            else:
                keep.append(snap)
        state.pending = keep
        return resolved


def _outcome(state: AccountState, snap: Snapshot, label: bool, day: int, offset: int) -> Outcome:
    return Outcome(
        kind=LABEL,
        day=day,
        time=snap.day * DAY,
        account=state.account_id,
        x=ft.as_dict(snap.features),
        label=label,
        probability=snap.probability,
        version=snap.version,
        partition=state.partition,
        offset=offset,
    )
