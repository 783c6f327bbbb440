"""Measures of warning quality: ROC and PR AUC, alert precision and recall, lead times.

Pure functions over plain lists, so the backtest report and the tests share them.

>>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
0.75
>>> round(pr_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
0.8333
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


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


@dataclass(frozen=True)
class AlertOutcome:
    """How the firing alerts compare with the truth."""

    precision: float | None
    recall: float | None
    recall_with_7d_lead: float | None
    lead_time_days_median: float | None
    judged_alerts: int
    censored_alerts: int
    delinquent_accounts: int
    lead_times_days: list[float]


def judge_alerts(
    alerts: Sequence[dict[str, Any]],
    delinquent_at: dict[str, float | None],
    horizon_days: float,
    stream_end: float,
) -> AlertOutcome:
    """Judge firing alerts against when each account first reached 30+ DPD.

    An alert is true when the account reaches 30+ DPD after it and within the horizon. Alerts
    whose horizon runs past the end of the stream, with no delinquency yet, are censored (not
    judged). Recall is over accounts that reached 30+ DPD: detected if an alert came before.
    """
    from monitor.core.timeutil import DAY, parse_time

    horizon = horizon_days * DAY
    true = judged = censored = 0
    first_alert: dict[str, float] = {}
    for alert in alerts:
        if alert["status"] != "firing":
            continue
        account, time = alert["account_id"], parse_time(alert["event_time"])
        first_alert.setdefault(account, time)
        when = delinquent_at.get(account)
        if when is not None and time < when <= time + horizon:
            true += 1
            judged += 1
        elif time + horizon > stream_end:
            censored += 1
        else:
            judged += 1
    leads = []
    seven_days = 0
    delinquent = {a: t for a, t in delinquent_at.items() if t is not None}
    for account, when in delinquent.items():
        alerted = first_alert.get(account)
        if alerted is not None and alerted < when:
            lead = (when - alerted) / DAY
            leads.append(lead)
            seven_days += lead >= 7
    n = len(delinquent)
    return AlertOutcome(
        precision=true / judged if judged else None,
        recall=len(leads) / n if n else None,
        recall_with_7d_lead=seven_days / n if n else None,
        lead_time_days_median=statistics.median(leads) if leads else None,
        judged_alerts=judged,
        censored_alerts=censored,
        delinquent_accounts=n,
        lead_times_days=leads,
    )
