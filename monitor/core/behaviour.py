"""Behaviour-change detector: how unusual an account's latest billing cycle looks.

Each time a bill of an account reaches its due date (its outcome is recorded), the account's
latest behaviour — how much of the bill it paid, how that compares with its earlier bills, its
utilisation and the change in it, the days since its last payment, whether the bill was missed —
is scored by one portfolio-wide River ``HalfSpaceTrees`` and then learned by it (score first, so
an account never judges itself). A steady payer gives a low score; a sharp break from the usual
(a full payer who suddenly pays nothing while the balance jumps) a high one. The score, in
[0, 1], is kept with the account until its next bill falls due and feeds the models as the
feature ``behaviour_change`` (its sentence in an alert: "Behaviour changed sharply ...").

The detector runs once per bill, not per event, so it costs a few tens of microseconds per
account and month. It is unsupervised: it needs no outcome, only the stream itself, and is kept
in the model checkpoint with the models.

>>> watch = BehaviourWatch(seed=1)
>>> steady = {"paid": 1.0, "drop": 0.5, "utilisation": 0.2, "utilisation_change": 0.5,
...           "since_payment": 0.2, "missed": 0.0}
>>> for _ in range(600):
...     _ = watch.update(steady)
>>> broken = {"paid": 0.0, "drop": 1.0, "utilisation": 0.9, "utilisation_change": 0.9,
...           "since_payment": 0.6, "missed": 1.0}
>>> watch.score(broken) > watch.score(steady)
True
"""

from __future__ import annotations

from river import anomaly

from monitor.core.state import MISSED, PARTIAL, AccountState

#: Days since the last payment that map to 1.0.
_SINCE_CAP = 120.0


def _unit(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def behaviour(state: AccountState, day: int) -> dict[str, float]:
    """The account's latest behaviour, every value in [0, 1] (what the trees split)."""
    ratios: list[float] = []
    outcomes: list[str] = []
    util = change = 0.0
    last_payment = -1
    opened = day
    for ledger in state.products.values():
        if ledger.closed:
            continue
        ratios += ledger.pay_ratios
        outcomes += ledger.outcomes[-1:]
        last_payment = max(last_payment, ledger.last_payment)
        opened = min(opened, ledger.opened)
        if ledger.product == "credit_pay" and ledger.limit > 0:
            owed = sum(max(b.amount - b.paid, 0.0) for b in ledger.bills)
            util = owed / ledger.limit
            change = util - ledger.prev_utilisation
    last = ratios[-1] if ratios else 1.0
    earlier = ratios[:-1]
    usual = sum(earlier) / len(earlier) if earlier else last
    since = day - (last_payment if last_payment >= 0 else opened)
    return {
        "paid": _unit(last / 1.5),
        "drop": _unit((usual - last + 1.0) / 2.0),
        "utilisation": _unit(util / 1.5),
        "utilisation_change": _unit((change + 1.0) / 2.0),
        "since_payment": _unit(since / _SINCE_CAP),
        "missed": 1.0 if outcomes and outcomes[-1] in (MISSED, PARTIAL) else 0.0,
    }


class BehaviourWatch:
    """One ``HalfSpaceTrees`` over the behaviour of every account (see the module)."""

    def __init__(
        self, n_trees: int = 10, height: int = 6, window_size: int = 250, seed: int = 42
    ) -> None:
        self.trees = anomaly.HalfSpaceTrees(
            n_trees=n_trees, height=height, window_size=window_size, seed=seed
        )
        self.seen = 0

    def score(self, x: dict[str, float]) -> float:
        """How unusual ``x`` is, in [0, 1] (0 before the trees have filled one window)."""
        if self.seen < self.trees.window_size:
            return 0.0
        return float(self.trees.score_one(x))

    def update(self, x: dict[str, float]) -> float:
        """Score ``x``, then learn it; the score."""
        score = self.score(x)
        self.trees.learn_one(x)
        self.seen += 1
        return score
