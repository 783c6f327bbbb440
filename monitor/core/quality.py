"""Measures of a model's ranking and calibration: ROC and PR AUC, Brier score, calibration bins,
ROC points.

Pure functions over plain lists, in the core so that the engine (the rolling AUC behind the
model-drift alert), the metrics (each model's quality over its recent predictions) and the
backtest report share them.

>>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
0.75
>>> round(pr_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
0.8333
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence


def _tie_groups(ranked: Sequence[tuple[float, int]]) -> Iterator[tuple[int, int, int]]:
    """(start, end, positives) of each run of equal scores in ``ranked`` (sorted by score)."""
    end = 0
    for _, group in itertools.groupby(ranked, key=lambda pair: pair[0]):
        labels = [label for _, label in group]
        start, end = end, end + len(labels)
        yield start, end, sum(labels)


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve (ties count half); None without both classes."""
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    ranked = sorted(zip(scores, labels, strict=True))
    # each tie group's positives take the group's average 1-based rank
    rank_sum = sum((i + 1 + j) / 2.0 * hits for i, j, hits in _tie_groups(ranked))
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def pr_auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Average precision (area under the precision-recall curve, step-wise)."""
    positives = sum(labels)
    if not positives or positives == len(labels):
        return None
    ranked = sorted(zip(scores, labels, strict=True), key=lambda p: -p[0])
    hits = 0
    total = 0.0
    for _, j, group_hits in _tie_groups(ranked):
        hits += group_hits
        total += group_hits * hits / j
    return total / positives


def brier(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Mean squared difference of probability and outcome (lower is better); None when empty.

    >>> brier([0, 1], [0.25, 0.75])
    0.0625
    """
    if not labels:
        return None
    return sum((p - y) ** 2 for y, p in zip(labels, scores, strict=True)) / len(labels)


def calibration(
    labels: Sequence[int], scores: Sequence[float], bins: int = 10
) -> list[tuple[float, float]]:
    """(mean predicted, observed rate) in each of ``bins`` equal-count bins of the scores.

    >>> calibration([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], bins=2)
    [(0.15, 0.0), (0.8, 1.0)]
    """
    ranked = sorted(zip(scores, labels, strict=True))
    out = []
    for b in range(bins):
        chunk = ranked[b * len(ranked) // bins : (b + 1) * len(ranked) // bins]
        if chunk:
            out.append(
                (
                    round(sum(p for p, _ in chunk) / len(chunk), 6),
                    round(sum(y for _, y in chunk) / len(chunk), 6),
                )
            )
    return out


def roc_curve(labels: Sequence[int], scores: Sequence[float]) -> list[tuple[float, float]]:
    """Points (false positive rate, true positive rate) from the highest threshold down."""
    positives = sum(labels) or 1
    negatives = (len(labels) - sum(labels)) or 1
    points = [(0.0, 0.0)]
    tp = fp = 0
    for _, label in sorted(zip(scores, labels, strict=True), key=lambda p: -p[0]):
        tp += label
        fp += 1 - label
        points.append((fp / negatives, tp / positives))
    return points
