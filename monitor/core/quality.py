"""Measures of a model's ranking and calibration: ROC and PR AUC, calibration bins, ROC points.

Pure functions over plain lists, in the core so that the engine (the rolling AUC behind the
model-drift alert), the metrics and the backtest report share them.

>>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
0.75
>>> round(pr_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
0.8333
"""

from __future__ import annotations

from collections.abc import Sequence


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve (ties count half); None without both classes."""
    pairs = sorted(zip(scores, labels, strict=True))
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        mid_rank = (i + 1 + j) / 2.0  # average 1-based rank of the tie group
        rank_sum += mid_rank * sum(label for _, label in pairs[i:j])
        i = j
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def pr_auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Average precision (area under the precision-recall curve, step-wise)."""
    positives = sum(labels)
    if not positives or positives == len(labels):
        return None
    ranked = sorted(zip(scores, labels, strict=True), key=lambda p: -p[0])
    hits = 0
    total = 0.0
    i = 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        group_hits = sum(label for _, label in ranked[i:j])
        hits += group_hits
        total += group_hits * hits / j
        i = j
    return total / positives


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
