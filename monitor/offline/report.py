"""The backtest report: how good the warnings were, as JSON and as plots.

Keys (a stable contract, others script against them): ``truth_roc_auc``, ``truth_pr_auc``,
``truth_accounts`` (scores at each account's ``as_of`` against its label, over accounts whose first
event comes after the first 20% of the stream; null when the truth has no ``as_of``),
``prequential_roc_auc`` / ``prequential_pr_auc`` (every resolved prediction, scored before its
outcome was known), ``alert_precision``, ``alert_recall``, ``recall_with_7d_lead``,
``lead_time_days_median``, ``alerts_per_1000_accounts_month``, ``events``, ``accounts``,
``model_version``, ``models`` (each role — ``scorecard`` or ``warm_start``, ``champion``,
``challenger`` — with its windowed log loss and whether it scores), ``warm_start`` (what the
checkpoint's fallback was trained on; null on a cold start).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from monitor.core.timeutil import DAY, parse_time
from monitor.core.vocabulary import BORROWER_RISK
from monitor.offline.backtest import WEEK, Replay, Truth
from monitor.offline.evaluation import firing_times, judge_alerts, pr_auc, roc_auc, roc_curve

#: Accounts first seen in this leading share of the stream are not counted in ``truth_*``.
WARM_UP_SHARE = 0.2
_MONTH = 30.0 * DAY


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return round(value, digits) if value is not None else None


def borrower_alerts(run: Replay) -> list[dict[str, Any]]:
    """The firing borrower alerts of a replay."""
    return [a for a in run.alerts if a["status"] == "firing" and a["kind"] == BORROWER_RISK]


def counted_accounts(run: Replay, truth: list[Truth]) -> list[Truth]:
    """Truth rows with an as_of score, first seen after the warm-up share of the stream."""
    if run.start is None or run.end is None:
        return []
    cutoff = run.start + WARM_UP_SHARE * (run.end - run.start)
    return [
        row
        for row in truth
        if row.as_of is not None
        and row.account_id in run.as_of_scores
        and run.first_seen.get(row.account_id, run.start) >= cutoff
    ]


def portfolio_section(run: Replay, scenario: dict[str, Any] | None) -> dict[str, Any]:
    """How the portfolio alerts compare with the scenario's truth.

    A portfolio alert is true when the scenario has a shock and the alert fires after it starts
    in an affected segment (the shocked region for a macro shock, any segment for a portfolio-wide
    scenario); every other firing portfolio alert is false.
    """
    alerts = [a for a in run.alerts if a["kind"] != BORROWER_RISK and a["status"] == "firing"]
    years = ((run.end or 0.0) - (run.start or 0.0)) / (365.0 * DAY)
    products = {a.split("|")[0] for a in run.engine.book(0).segments} or {"credit_pay"}
    shock = (
        parse_time(scenario["shock_start"]) if scenario and scenario.get("shock_start") else None
    )
    region = scenario.get("shock_region") if scenario else None

    def is_true(alert: dict[str, Any]) -> bool:
        if shock is None or parse_time(alert["event_time"]) < shock:
            return False
        return region is None or alert["region"] in (region, "all")

    detections = [a for a in alerts if is_true(a)]
    # the earliest detection; on a tie the credit-pay segment, the larger one
    first = min(
        detections, key=lambda a: (a["event_time"], a["product"] != "credit_pay"), default=None
    )
    delay = (parse_time(first["event_time"]) - shock) / DAY if first and shock else None
    section: dict[str, Any] = {
        "alerts": [
            {
                "kind": a["kind"],
                "segment": a["segment"],
                "series": a["series"],
                "event_time": a["event_time"],
                "started_at": a["started_at"],
                "change": a["change"],
                "rate_30_plus": a["rate_30_plus"],
            }
            for a in alerts
        ],
        "shock_start": scenario.get("shock_start") if scenario else None,
        "shock_detection_delay_days": round(delay, 1) if delay is not None else None,
        "false_alerts": len(alerts) - len(detections),
        "false_alerts_per_product_year": round(
            (len(alerts) - len(detections)) / max(len(products) * years, 1e-9), 2
        ),
    }
    if first is not None and shock is not None and first["region"] != "all":
        key = f"{first['product']}|{first['region']}"
        shock_day, alert_day = int(shock // DAY), int(parse_time(first["event_time"]) // DAY)
        at_shock = run.segment_rates.get(shock_day, {}).get(key)
        at_alert = run.segment_rates.get(alert_day, {}).get(key)
        section["shocked_segment"] = first["segment"]
        section["shocked_segment_rate_30_plus_at_shock"] = at_shock
        section["shocked_segment_rate_30_plus_at_alert"] = at_alert
        section["alert_before_rate_doubled"] = (
            at_shock is not None and at_alert is not None and at_alert < 2 * max(at_shock, 1e-9)
        )
    return section


def build_report(
    run: Replay,
    truth: list[Truth] | None,
    horizon_days: int,
    scenario: dict[str, Any] | None = None,
    source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report of one backtest. ``source`` is what a converter wrote beside the truth
    (``T.source.json``): when it says why ``alert_figures`` mean nothing on that stream, the
    report gives that sentence instead of them, and the ranking figures only."""
    firing = borrower_alerts(run)
    accounts = len(run.first_seen)
    months = ((run.end or 0.0) - (run.start or 0.0)) / _MONTH
    report: dict[str, Any] = {
        "events": run.events,
        "invalid_events": sum(run.invalid.values()),
        "accounts": accounts,
        "model_version": run.engine.models.version,
        "labels_learned": run.engine.models.labels,
        "alerts": len(firing),
        "alerts_resolved": sum(
            1 for a in run.alerts if a["status"] == "resolved" and a["kind"] == BORROWER_RISK
        ),
        "alerts_per_1000_accounts_month": _rounded(
            len(firing) / (accounts / 1000.0) / months if accounts and months else None, 2
        ),
        "prequential_roc_auc": _rounded(
            roc_auc([int(y) for y, _ in run.labels], [p for _, p in run.labels])
        ),
        "prequential_pr_auc": _rounded(
            pr_auc([int(y) for y, _ in run.labels], [p for _, p in run.labels])
        ),
        "resolved_predictions": len(run.labels),
        "models": run.engine.models.roles(),
        "warm_start": run.engine.models.trained,
    }
    report["portfolio"] = portfolio_section(run, scenario)
    if truth is None:
        return report
    counted = counted_accounts(run, truth)
    labels = [row.label for row in counted]
    scores = [run.as_of_scores[row.account_id] for row in counted]
    when = {row.account_id: row.delinquent_at for row in truth}
    outcome = judge_alerts(firing_times(firing), when, horizon_days, run.end or 0.0)
    report.update(
        {
            "truth_roc_auc": _rounded(roc_auc(labels, scores)) if counted else None,
            "truth_pr_auc": _rounded(pr_auc(labels, scores)) if counted else None,
            "truth_accounts": len(counted),
            "truth_positives": sum(labels),
        }
    )
    if source and source.get("alert_figures"):
        report["alert_figures"] = source["alert_figures"]
        return report
    report.update(
        {
            "alert_precision": _rounded(outcome.precision),
            "alert_recall": _rounded(outcome.recall),
            "recall_with_7d_lead": _rounded(outcome.recall_with_7d_lead),
            "lead_time_days_median": _rounded(outcome.lead_time_days_median, 1),
            "judged_alerts": outcome.judged_alerts,
            "censored_alerts": outcome.censored_alerts,
            "delinquent_accounts": outcome.delinquent_accounts,
        }
    )
    return report


def write_plots(run: Replay, truth: list[Truth] | None, horizon_days: int, out: Path) -> list[Path]:
    """ROC curve, lead-time distribution and risk over time as PNG files in ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = []
    counted = counted_accounts(run, truth) if truth else []
    if counted:
        labels = [row.label for row in counted]
        scores = [run.as_of_scores[row.account_id] for row in counted]
        title = f"ROC of as-of scores, {len(counted)} accounts"
    else:
        labels = [int(y) for y, _ in run.labels]
        scores = [p for _, p in run.labels]
        title = f"ROC of resolved predictions, {len(labels)}"
    fig, ax = plt.subplots(figsize=(5, 5))
    points = roc_curve(labels, scores)
    ax.plot([p[0] for p in points], [p[1] for p in points], label=f"AUC {roc_auc(labels, scores)}")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    ax.legend(loc="lower right")
    written.append(_save(fig, out / "roc.png"))

    if truth:
        firing = borrower_alerts(run)
        when = {r.account_id: r.delinquent_at for r in truth}
        outcome = judge_alerts(firing_times(firing), when, horizon_days, run.end or 0.0)
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.hist(outcome.lead_times_days, bins=30)
        ax.axvline(7, color="red", linestyle="--", label="7 days")
        ax.set(
            xlabel="days from first alert to 30+ DPD",
            ylabel="accounts",
            title="Detection lead time",
        )
        ax.legend()
        written.append(_save(fig, out / "lead_time.png"))

    weeks = sorted(run.weekly_risk)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(
        [(w - weeks[0]) for w in weeks] if weeks else [],
        [run.weekly_risk[w][0] / max(run.weekly_risk[w][1], 1) for w in weeks],
    )
    ax.set(xlabel="week of the stream", ylabel="mean scored probability", title="Risk over time")
    written.append(_save(fig, out / "risk_over_time.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


__all__ = ["WEEK", "build_report", "counted_accounts", "write_plots"]
