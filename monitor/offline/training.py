"""``monitor train``: fit the models on a lender's labelled history and write a checkpoint.

The events are replayed through the core exactly as a backtest would (so the inputs are the ones
the core scores with), and two kinds of labelled example are collected:

- for each truth row with an ``as_of``, the features of the account's last score before it,
  labelled with the row's ``label`` (the outcome the lender cares about);
- for truth rows without an ``as_of`` (the simulator's), the account's scorings while it owes
  money (at most one per snapshot spacing), each labelled by the row's ``delinquent_at``: positive
  when the account first reaches 30+ days past due within the horizon after it, negative when the
  horizon passes without (scorings whose horizon runs past the stream are left out);
- with ``stream_outcomes``, also every outcome the core resolved on its own (these are not split
  by account, so the held-back figure then flatters a little).

A share of the truth's accounts, chosen by a seeded hash of the account id, is held back: the
model is not fitted on them and the summary compares the fitted model with the cold replay's
scores on them. The fitted model becomes the book's fallback (frozen) and the start of its
champion and challenger (:meth:`ModelBook.warm_started`).
"""

from __future__ import annotations

import copy
import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.core.features import FEATURE_NAMES
from monitor.core.models import ModelBook
from monitor.core.scoring import UNUSED, OnlineLogistic
from monitor.core.timeutil import DAY, iso_time
from monitor.core.trees import Trees
from monitor.engine_config import engine_config
from monitor.offline.backtest import Replay, Truth, read_truth, replay_lines
from monitor.offline.evaluation import AlertOutcome, judge_alerts, roc_auc
from monitor.settings import Settings

Example = tuple[dict[str, float], bool]


@dataclass(frozen=True)
class TrainOptions:
    """How the examples are fitted."""

    passes: int = 5
    seed: int = 1
    hold_back: float = 0.2
    #: also fit the outcomes the stream resolved itself
    stream_outcomes: bool = False
    #: replay the history again with the warm models and find the alert threshold at which they
    #: match the cold start on it: ``"volume"`` (as many alerts) or ``"precision"`` (alerts at
    #: least as often right, at the lowest such threshold); None: neither
    match_cold: str | None = None
    #: also fit boosted trees on the same examples, as the challenger (needs scikit-learn)
    trees: bool = False


def fit_trees(examples: list[Example], seed: int) -> Trees:
    """scikit-learn's ``HistGradientBoostingClassifier`` (defaults) fitted on ``examples``.

    Chosen over LightGBM because scikit-learn is the better-known dependency of the two and its
    trees are easy to read out into plain lists (so scoring needs neither).
    """
    try:
        import numpy as np
        from sklearn.ensemble import HistGradientBoostingClassifier
    except ImportError:
        raise ValueError("--trees needs scikit-learn: pip install -e '.[trees]'") from None
    names = [n for n in FEATURE_NAMES if n not in UNUSED]  # as the online models (by age, not risk)
    features = np.array([[x.get(n, np.nan) for n in names] for x, _ in examples])
    labels = np.array([int(y) for _, y in examples])
    estimator = HistGradientBoostingClassifier(random_state=seed).fit(features, labels)
    return Trees.from_sklearn(estimator, names)


@dataclass
class Trained:
    """A warm-started book and what it was trained on."""

    book: ModelBook
    summary: dict[str, Any]


def held_back(account_id: str, seed: int, share: float) -> bool:
    """Whether an account is held back from fitting: a seeded hash, the same on every run.

    >>> sum(held_back(f"a{i}", 1, 0.2) for i in range(1000)) in range(150, 250)
    True
    """
    digest = hashlib.sha256(f"{seed}:{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def file_digest(path: Path) -> str:
    """SHA-256 of a file, hex."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def fit(model: OnlineLogistic, examples: list[Example], passes: int, seed: int) -> None:
    """Learn ``examples`` ``passes`` times, each pass in a seeded shuffled order."""
    order = list(range(len(examples)))
    rng = random.Random(seed)
    for _ in range(passes):
        rng.shuffle(order)
        for i in order:
            x, y = examples[i]
            model.learn(x, y)


Labelled = tuple[str, dict[str, float], int, float]  # account, features, label, cold score


def labelled_rows(run: Replay, truth: list[Truth], horizon_days: float) -> list[Labelled]:
    """The truth's labelled examples: at each ``as_of``, or at scorings by ``delinquent_at``."""
    out: list[Labelled] = []
    for row in truth:
        if row.as_of is None:
            continue
        x = run.as_of_inputs.get(row.account_id)
        if x is not None:  # else never scored before its as_of
            out.append((row.account_id, x, row.label, run.as_of_scores[row.account_id]))
    if out:
        return out
    when = {row.account_id: row.delinquent_at for row in truth}
    horizon, end = horizon_days * DAY, run.end or 0.0
    for account, time, x, probability in run.scorings:
        if account not in when:
            continue
        bad = when[account]
        if bad is not None and bad <= time:
            continue  # already 30+ days past due
        if bad is not None and bad <= time + horizon:
            out.append((account, x, 1, probability))
        elif time + horizon <= end:
            out.append((account, x, 0, probability))
    return out


def examples_of(
    rows: list[Labelled], run: Replay, options: TrainOptions
) -> tuple[list[Example], list[Labelled]]:
    """The fitting examples and the held-back rows."""
    fitting: list[Example] = []
    held: list[Labelled] = []
    for row in rows:
        if held_back(row[0], options.seed, options.hold_back):
            held.append(row)
        else:
            fitting.append((row[1], bool(row[2])))
    if options.stream_outcomes:
        fitting.extend((x, y) for x, y, _ in run.outcomes)
    return fitting, held


def train(
    events: Path, truth_path: Path, settings: Settings, options: TrainOptions | None = None
) -> Trained:
    """Replay ``events``, fit on the labelled examples, and say what was trained on.

    Raises FileNotFoundError or ValueError (one sentence) for a missing or malformed file, and
    ValueError when the truth gives nothing to fit on.
    """
    options = options or TrainOptions()
    truth = read_truth(truth_path)
    if not events.is_file():
        raise FileNotFoundError(f"no events file at {events}: check the path.")
    as_of = {row.account_id: row.as_of for row in truth if row.as_of is not None}
    every = 0.0 if as_of else float(engine_config(settings, 1).snapshot_every_days)
    with open(events, "rb") as handle:
        run = replay_lines(handle, settings, as_of, record=True, record_every_days=every)
    rows = labelled_rows(run, truth, settings.horizon_days)
    fitting, held = examples_of(rows, run, options)
    positives = sum(y for _, y in fitting)
    if not fitting or not positives or positives == len(fitting):
        raise ValueError(
            f"the truth {truth_path} gives {len(fitting)} examples to fit with {positives} "
            "positive: it needs both outcomes (are its account ids those of the events?)"
        )
    model = OnlineLogistic()
    fit(model, fitting, options.passes, options.seed)
    trees = fit_trees(fitting, options.seed) if options.trees else None
    cold = run.engine.models
    held_labels = [row[2] for row in held]
    truth_examples = len(rows) - len(held)
    summary: dict[str, Any] = {
        "events": {"file": events.name, "sha256": file_digest(events), "count": run.events},
        "truth": {"file": truth_path.name, "sha256": file_digest(truth_path), "rows": len(truth)},
        "from": iso_time(run.start) if run.start is not None else None,
        "to": iso_time(run.end) if run.end is not None else None,
        "examples": len(fitting),
        "positives": positives,
        "as_of_examples": truth_examples if as_of else 0,
        "scoring_examples": 0 if as_of else truth_examples,
        "stream_outcomes": len(fitting) - truth_examples,
        "passes": options.passes,
        "seed": options.seed,
        "held_back": len(held),
        "held_back_accounts": len({row[0] for row in held}),
        "held_back_positives": sum(held_labels),
        "held_back_roc_auc": _auc(held_labels, [model.predict(row[1]) for row in held]),
        "held_back_roc_auc_cold": _auc(held_labels, [row[3] for row in held]),
        "cold_model_version": cold.version,
    }
    summary["trees"] = trees is not None
    if trees is not None:
        summary["held_back_roc_auc_trees"] = _auc(
            held_labels, [trees.predict(row[1]) for row in held]
        )
    book = ModelBook.warm_started(
        model,
        summary,
        behaviour=cold.behaviour,
        challenger=trees,
        min_labels=cold.min_labels,
        min_positives=cold.min_positives,
        window=cold.fallback.losses.maxlen or 1000,
        margin=cold.margin,
        patience=cold.patience,
    )
    if options.match_cold is not None:
        if options.match_cold not in MATCHES:
            raise ValueError(
                f"match the cold start in {' or '.join(MATCHES)}, not {options.match_cold!r}."
            )
        warm_book = copy.deepcopy(book)
        with open(events, "rb") as handle:
            warm = replay_lines(handle, settings, as_of, warm_book, record=True)
        if options.match_cold == "volume":
            cold_n, warm_n, open_at = same_volume_threshold(run, warm, truth, settings)
            summary["alert_volume"] = {
                "alert_open": settings.alert_open,
                "cold_alerts": cold_n,
                "warm_alerts": warm_n,
                "alert_open_same_volume": open_at,
            }
        else:
            summary["alert_precision"] = same_precision_threshold(run, warm, truth, settings)
        book.trained = dict(summary)
    return Trained(book, summary)


#: what ``monitor train`` can match the cold start in on the history
MATCHES = ("volume", "precision")

#: alert-open thresholds tried to match the cold start
ALERT_GRID = tuple(round(0.5 + 0.025 * i, 3) for i in range(19))


def raised_alerts(
    scores: list[tuple[str, float, float]],
    delinquent_at: dict[str, float | None],
    open_at: float,
    clear_at: float,
) -> list[tuple[str, float]]:
    """The borrower alerts (account, event time) the engine's rule raises over a score log: one
    opens when the probability reaches ``open_at`` before the account is 30+ days past due, and
    stays the one open alert until the probability falls below ``clear_at``.

    >>> log = [("a", 1.0, 0.95), ("a", 2.0, 0.6), ("a", 3.0, 0.4), ("a", 4.0, 0.92), ("b", 1, 0.9)]
    >>> raised_alerts(log, {"a": None, "b": 0.5}, 0.9, 0.5)
    [('a', 1.0), ('a', 4.0)]
    """
    open_now: set[str] = set()
    raised: list[tuple[str, float]] = []
    for account, time, p in scores:
        if account in open_now:
            if p < clear_at:
                open_now.discard(account)
        elif p >= open_at:
            bad = delinquent_at.get(account)
            if bad is None or time < bad:
                open_now.add(account)
                raised.append((account, time))
    return raised


def alerts_raised(
    scores: list[tuple[str, float, float]],
    delinquent_at: dict[str, float | None],
    open_at: float,
    clear_at: float,
) -> int:
    """How many borrower alerts :func:`raised_alerts` finds."""
    return len(raised_alerts(scores, delinquent_at, open_at, clear_at))


def same_volume_threshold(
    cold: Replay, warm: Replay, truth: list[Truth], settings: Settings
) -> tuple[int, int, float | None]:
    """Alerts the cold and the warm models raise on the history at the configured threshold,
    and the highest threshold at which the warm model raises at least as many as the cold one
    (None when none of :data:`ALERT_GRID` does)."""
    when = {row.account_id: row.delinquent_at for row in truth}
    clear = settings.alert_clear
    cold_n = alerts_raised(cold.score_log, when, settings.alert_open, clear)
    warm_n = alerts_raised(warm.score_log, when, settings.alert_open, clear)
    for open_at in sorted(ALERT_GRID, reverse=True):
        if open_at >= clear and alerts_raised(warm.score_log, when, open_at, clear) >= cold_n:
            return cold_n, warm_n, open_at
    return cold_n, warm_n, None


def same_precision_threshold(
    cold: Replay, warm: Replay, truth: list[Truth], settings: Settings
) -> dict[str, Any]:
    """The cold start's alerts on the history at the configured threshold, and the lowest
    threshold of :data:`ALERT_GRID` at which the warm models' alerts there are at least as often
    right (``alert_open_same_precision``, None when none is): the most alerts, so the most
    recall, at the precision a lender had from the cold start. Precision and recall with 7 days'
    lead are judged as a backtest judges them."""
    when = {row.account_id: row.delinquent_at for row in truth}
    clear, horizon = settings.alert_clear, settings.horizon_days

    def outcome(run: Replay, open_at: float) -> tuple[int, AlertOutcome]:
        alerts = raised_alerts(run.score_log, when, open_at, clear)
        return len(alerts), judge_alerts(alerts, when, horizon, run.end or 0.0)

    cold_n, cold_o = outcome(cold, settings.alert_open)
    warm_n, warm_o = outcome(warm, settings.alert_open)
    found: dict[str, Any] = {"alert_open_same_precision": None}
    if cold_o.precision is not None:
        for open_at in sorted(t for t in ALERT_GRID if t >= clear):
            n, o = outcome(warm, open_at)
            if o.precision is not None and o.precision >= cold_o.precision:
                found = {
                    "alert_open_same_precision": open_at,
                    "alerts_at_it": n,
                    "precision_at_it": _round(o.precision),
                    "recall_with_7d_lead_at_it": _round(o.recall_with_7d_lead),
                }
                break
    return {
        "alert_open": settings.alert_open,
        "cold_alerts": cold_n,
        "cold_precision": _round(cold_o.precision),
        "cold_recall_with_7d_lead": _round(cold_o.recall_with_7d_lead),
        "warm_alerts": warm_n,
        "warm_precision": _round(warm_o.precision),
        "warm_recall_with_7d_lead": _round(warm_o.recall_with_7d_lead),
        **found,
    }


def _round(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


def _auc(labels: list[int], scores: list[float]) -> float | None:
    auc = roc_auc(labels, scores) if labels else None
    return round(auc, 4) if auc is not None else None
