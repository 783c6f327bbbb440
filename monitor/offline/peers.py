"""The peers a user would try on a labelled data set, on the same split as a warm-started monitor.

``python -m monitor.offline.peers CLIENTS.csv --fit EVENTS TRUTH --measure EVENTS TRUTH`` (the
Taiwan credit-default CSV and the two halves ``monitor convert taiwan --id-mod`` made of it) prints
ROC and PR AUC on the measured half's counted clients (those a backtest's ``truth_roc_auc`` counts:
first seen after the first 20% of the stream) for:

- on the raw table: a batch logistic regression (standardised), River's
  ``StandardScaler | LogisticRegression`` (one pass in the file's order) and scikit-learn's
  ``HistGradientBoostingClassifier`` (defaults);
- on the monitor's own as-of features (each half replayed cold through the core, the features of
  each client's last score before its ``as_of``): the same batch logistic regression and
  gradient boosting.

It needs scikit-learn (``pip install -e '.[peers]'``); the monitor itself does not.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitor.core.features import FEATURE_NAMES
from monitor.offline.backtest import read_truth, replay_file
from monitor.offline.evaluation import pr_auc, roc_auc
from monitor.offline.report import counted_accounts
from monitor.offline.taiwan import BILLS, PAID, STATUS, read_clients
from monitor.settings import Settings

RAW = ["LIMIT_BAL", "SEX", "EDUCATION", "MARRIAGE", "AGE", *STATUS, *BILLS, *PAID]


def _as_of_features(events: Path, truth_path: Path) -> tuple[dict[str, list[float]], list[str]]:
    """Each client's as-of features from a cold replay, and the accounts a backtest counts."""
    truth = read_truth(truth_path)
    as_of = {row.account_id: row.as_of for row in truth if row.as_of is not None}
    run = replay_file(events, Settings(), as_of, record=True)
    features = {
        account: [x.get(name, 0.0) for name in FEATURE_NAMES]
        for account, x in run.as_of_inputs.items()
    }
    return features, [row.account_id for row in counted_accounts(run, truth)]


def measure(
    clients: Path, fit: tuple[Path, Path], held: tuple[Path, Path]
) -> list[tuple[str, float | None, float | None]]:
    """(peer, ROC AUC, PR AUC) on the counted clients of the measured half."""
    import numpy as np
    from river import linear_model, preprocessing
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rows = {f"tw-{row['ID']}": row for row in read_clients(clients)}
    fit_truth = {row.account_id: row.label for row in read_truth(fit[1])}
    held_truth = {row.account_id: row.label for row in read_truth(held[1])}
    fit_features, _ = _as_of_features(*fit)
    held_features, counted = _as_of_features(*held)
    fit_ids = [a for a in fit_truth if a in rows and a in fit_features]
    y_fit = np.array([fit_truth[a] for a in fit_ids])
    y_held = [held_truth[a] for a in counted]

    def raw(ids: list[str]) -> Any:
        return np.array([[float(rows[a][c]) for c in RAW] for a in ids])

    def asof(table: dict[str, list[float]], ids: list[str]) -> Any:
        return np.array([table[a] for a in ids])

    out = []

    def score(name: str, probabilities: Sequence[float]) -> None:
        out.append(
            (name, roc_auc(y_held, list(probabilities)), pr_auc(y_held, list(probabilities)))
        )

    def lr() -> Any:
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))

    def hgb() -> Any:
        return HistGradientBoostingClassifier(random_state=0)

    score(
        "raw table: batch logistic regression",
        lr().fit(raw(fit_ids), y_fit).predict_proba(raw(counted))[:, 1],
    )
    river = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    for a in sorted(fit_ids, key=lambda a: int(a[3:])):  # the file's order
        river.learn_one({c: float(rows[a][c]) for c in RAW}, bool(fit_truth[a]))
    score(
        "raw table: River StandardScaler | LogisticRegression",
        [river.predict_proba_one({c: float(rows[a][c]) for c in RAW})[True] for a in counted],
    )
    score(
        "raw table: gradient boosting",
        hgb().fit(raw(fit_ids), y_fit).predict_proba(raw(counted))[:, 1],
    )
    x_fit, x_held = asof(fit_features, fit_ids), asof(held_features, counted)
    score(
        "as-of features: batch logistic regression",
        lr().fit(x_fit, y_fit).predict_proba(x_held)[:, 1],
    )
    score("as-of features: gradient boosting", hgb().fit(x_fit, y_fit).predict_proba(x_held)[:, 1])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitor.offline.peers", description=__doc__)
    parser.add_argument("clients", type=Path, help="the credit-default CSV both halves came from")
    parser.add_argument("--fit", nargs=2, type=Path, metavar=("EVENTS", "TRUTH"), required=True)
    parser.add_argument("--measure", nargs=2, type=Path, metavar=("EVENTS", "TRUTH"), required=True)
    args = parser.parse_args(argv)
    try:
        results = measure(args.clients, tuple(args.fit), tuple(args.measure))
    except ImportError:
        print(
            "monitor.offline.peers: the peers need scikit-learn: pip install -e '.[peers]'",
            file=sys.stderr,
        )
        return 2
    except (FileNotFoundError, ValueError) as exc:
        print(f"monitor.offline.peers: {exc}", file=sys.stderr)
        return 2
    print(f"{'peer':55} {'ROC AUC':>8} {'PR AUC':>8}")
    for name, roc, pr in results:
        print(f"{name:55} {roc:8.4f} {pr:8.4f}" if roc and pr else f"{name:55} n/a")
    return 0


if __name__ == "__main__":
    sys.exit(main())
