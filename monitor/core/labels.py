"""Labels and learning: when a scored snapshot's outcome is known, and what the models learn.

An account is delinquent from the day its oldest unpaid bill reaches 30 days past due. A pending
snapshot (the model inputs as scored) resolves positive when that day falls within the label
horizon after it, negative once the horizon has passed without it. Every resolved snapshot is
learnt by the :class:`~monitor.core.models.ModelBook` and kept for the champion's rolling ROC AUC,
which the model-drift alert watches.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from monitor.core import features as ft
from monitor.core import ledger as lg
from monitor.core.models import ModelBook
from monitor.core.portfolio import month_of
from monitor.core.quality import roc_auc
from monitor.core.state import AccountState, Snapshot

#: ``went_bad(product, opened_month, months_on_book)``: an account product first reached 30+ DPD
WentBad = Callable[[str, int, int], None]


class Learning:
    """Resolves the labels of pending snapshots and has the models learn them."""

    def __init__(self, models: ModelBook, horizon_days: int, auc_window: int) -> None:
        self.models = models
        self.horizon_days = horizon_days
        self.auc_window = auc_window
        self.recent: deque[tuple[bool, float]] = deque(maxlen=auc_window)

    def resolve(
        self, state: AccountState, day: int, worst_dpd: int, went_bad: WentBad
    ) -> list[tuple[bool, float]]:
        """Bring the account's delinquency up to ``day`` (``worst_dpd`` its worst DPD then) and
        learn the snapshots it resolves; return their (outcome, probability as scored)."""
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
        learnt: list[tuple[bool, float]] = []
        keep: list[Snapshot] = []
        for snap in state.pending:
            start = state.delinquent_since
            if start >= 0 and snap.day < start <= snap.day + self.horizon_days:
                learnt.append(self.learn(snap, True))
            elif day > snap.day + self.horizon_days:
                learnt.append(self.learn(snap, False))
            else:
                keep.append(snap)
        state.pending = keep
        return learnt

    def learn(self, snap: Snapshot, outcome: bool) -> tuple[bool, float]:
        """Have the models learn one resolved snapshot."""
        self.models.learn(ft.as_dict(snap.features), outcome)
        self.recent.append((outcome, snap.probability))
        return outcome, snap.probability

    def rolling_auc(self) -> float | None:
        """ROC AUC of the recent resolved predictions as scored; None until half the window is
        filled (or without both outcomes)."""
        if len(self.recent) < self.auc_window // 2:
            return None
        labels = list(self.recent)
        return roc_auc([int(y) for y, _ in labels], [p for _, p in labels])
