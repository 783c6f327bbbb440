"""Measures of warning quality: alert precision and recall, lead times (and, from the core's
:mod:`monitor.core.quality`, ROC and PR AUC and calibration).

Pure functions over plain lists, so the backtest report and the tests share them.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.core.quality import calibration, pr_auc, roc_auc, roc_curve

__all__ = [
    "AlertOutcome",
    "calibration",
    "firing_times",
    "judge_alerts",
    "pr_auc",
    "roc_auc",
    "roc_curve",
]


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


def firing_times(alerts: Iterable[dict[str, Any]]) -> list[tuple[str, float]]:
    """(account, event time) of each firing alert record, for :func:`judge_alerts`."""
    from monitor.core.timeutil import parse_time

    return [
        (alert["account_id"], parse_time(alert["event_time"]))
        for alert in alerts
        if alert["status"] == "firing"
    ]


def judge_alerts(
    raised: Sequence[tuple[str, float]],
    delinquent_at: dict[str, float | None],
    horizon_days: float,
    stream_end: float,
) -> AlertOutcome:
    """Judge alerts raised (account, event time) against when each account first reached 30+ DPD.

    An alert is true when the account reaches 30+ DPD after it and within the horizon. Alerts
    whose horizon runs past the end of the stream, with no delinquency yet, are censored (not
    judged). Recall is over accounts that reached 30+ DPD: detected if an alert came before.
    """
    from monitor.core.timeutil import DAY

    horizon = horizon_days * DAY
    true = judged = censored = 0
    first_alert: dict[str, float] = {}
    for account, time in raised:
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
