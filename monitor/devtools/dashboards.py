"""The Grafana dashboards as code: ``python -m monitor.devtools.dashboards`` writes
``dashboards/*.json``.

Three dashboards, built with Grafana's own typed builders (``grafana-foundation-sdk``, the
``dashboards`` extra):

- ``monitor-portfolio`` — the credit-risk head's view: delinquency by product and region, DPD
  buckets, expected loss against reserves, roll and cure rates, vintages, over-lending, open
  portfolio alerts and the macro indicators;
- ``monitor-model`` — the modeller's view: which model scores, its quality by role, calibration,
  the score distribution, alerts by kind and action, outcomes learned;
- ``monitor-pipeline`` — the on-call engineer's view: throughput, latency, event-time and consumer
  lag, dead letters, output failures, deliveries and the process.

Every panel says what it shows and what to do when it looks wrong, and has a unit; the JSON files
are kept in step by a unit test, and the ops-stack test checks that every query returns data from
a real Prometheus scraping a real worker.
"""

from __future__ import annotations

import itertools
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import (
    common,
    heatmap,
    prometheus,
    stat,
    table,
    timeseries,
    trend,
)
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import heatmap as heatmap_model
from grafana_foundation_sdk.models import prometheus as prom_model

from monitor.core.portfolio_watch import WatchConfig
from monitor.settings import Settings

DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="prometheus")
TAG = "delinquency-monitor"
SEL = 'product=~"$product", region=~"$region"'
LATE = 'bucket=~"30-59|60-89|90\\\\+"'
#: Where the product/region variables apply, the panels' queries read them; alerts about the
#: whole book carry product and region "all".
ALERT_SEL = 'product=~"$product|all", region=~"$region|all"'
COVERAGE_MIN = Settings().coverage_min
WATCH = WatchConfig()


@dataclass(frozen=True)
class Query:
    """One PromQL query of a panel."""

    expr: str
    legend: str = ""
    table: bool = False  # an instant query in table format (tables, matrices, curves)
    heatmap: bool = False  # a range query in heatmap format (histogram buckets)


@dataclass(frozen=True)
class Panel:
    """One panel: what it shows (``description``), in which ``unit``, and its queries."""

    kind: str  # timeseries, stat, table, heatmap, trend
    title: str
    unit: str
    description: str
    queries: list[Query]
    steps: list[tuple[float | None, str]] = field(default_factory=lambda: [(None, "green")])
    width: int | None = None  # None: the row's width
    height: int | None = None  # None: 5 for a stat, 8 for the others
    stacked: bool = False
    lines: bool = False  # draw the thresholds as lines on a time series
    min: float | None = None
    max: float | None = None
    transformations: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)  # kind-specific extras
    overrides: list[tuple[str, list[tuple[str, Any]]]] = field(default_factory=list)


@dataclass(frozen=True)
class Row:
    """A titled row of panels, ``width`` columns (of 24) wide unless a panel says otherwise."""

    title: str
    panels: list[Panel]
    width: int = 12


@dataclass(frozen=True)
class Board:
    """One dashboard: its uid, title, what it is for, its variables and rows."""

    uid: str
    title: str
    description: str
    variables: list[str]
    rows: list[Row]


def _rate_share(numerator: str, denominator: str, by: str) -> str:
    return f"sum by ({by}) ({numerator}) / sum by ({by}) ({denominator})"


RATE_30 = f"monitor_accounts_by_dpd_bucket{{{LATE}, {SEL}}}"
ACCOUNTS = f"monitor_accounts_by_dpd_bucket{{{SEL}}}"
ROLLS = f"monitor_roll_accounts{{{SEL}}}"
ROLL_SHARE = (
    f"sum by (from_bucket, to_bucket) ({ROLLS}) "
    f"/ on (from_bucket) group_left sum by (from_bucket) ({ROLLS})"
)
VINTAGE = (
    "label_join(sum by (product, vintage, months_on_book) "
    '(monitor_vintage_30plus_accounts{product=~"$product"}) '
    "/ on (product, vintage) group_left "
    'sum by (product, vintage) (monitor_vintage_accounts{product=~"$product"}), '
    '"cohort", " ", "product", "vintage")'
)
BUCKETS = ("current", "1-29", "30-59", "60-89", "90+")


def _forward_roll(old: str, new: str) -> str:
    """Share of bucket ``old`` that rolled to ``new``, labelled ``move``."""
    pair = f'from_bucket="{old}", to_bucket="{new}"'
    return (
        f"label_replace(sum(monitor_roll_accounts{{{SEL}, {pair}}}) / "
        f'sum(monitor_roll_accounts{{{SEL}, from_bucket="{old}"}}), '
        f'"move", "{old} to {new}", "", "")'
    )


DELINQUENCY_STEPS: list[tuple[float | None, str]] = [
    (None, "green"),
    (0.03, "orange"),
    (0.05, "red"),
]
COVERAGE_STEPS: list[tuple[float | None, str]] = [
    (None, "red"),
    (COVERAGE_MIN, "orange"),
    (round(COVERAGE_MIN * 1.25, 2), "green"),
]
AUC_STEPS: list[tuple[float | None, str]] = [
    (None, "red"),
    (WATCH.auc_floor, "orange"),
    (0.8, "green"),
]
ROLL_STEPS: list[tuple[float | None, str]] = [(None, "green"), (0.2, "orange"), (0.5, "red")]
VINTAGE_STEPS: list[tuple[float | None, str]] = [(None, "green"), (0.05, "orange"), (0.1, "red")]
ZERO_IS_GOOD: list[tuple[float | None, str]] = [(None, "green"), (1, "red")]


def _matrix(row: str, column: str) -> list[dict[str, Any]]:
    return [
        {
            "id": "groupingToMatrix",
            "options": {"rowField": row, "columnField": column, "valueField": "Value"},
        }
    ]


def _as_numbers(*fields: str) -> dict[str, Any]:
    return {
        "id": "convertFieldType",
        "options": {
            "conversions": [{"targetField": f, "destinationType": "number"} for f in fields]
        },
    }


def _sort(by: str) -> dict[str, Any]:
    return {"id": "sortBy", "options": {"sort": [{"field": by}]}}


def _hide(*fields: str) -> dict[str, Any]:
    return {"id": "organize", "options": {"excludeByName": dict.fromkeys(fields, True)}}


def _late_rate_by(label: str, description: str) -> Panel:
    """The 30+ DPD rate per ``label`` (product or region), with the alert's thresholds drawn."""
    return Panel(
        "timeseries",
        f"30+ DPD rate by {label}",
        "percentunit",
        description,
        [Query(_rate_share(RATE_30, ACCOUNTS, label), "{{" + label + "}}")],
        DELINQUENCY_STEPS,
        lines=True,
        min=0,
    )


def _shares(kind: str, title: str, description: str, expr: str, **more: Any) -> Panel:
    """A panel of shares read from one instant query in table format."""
    return Panel(kind, title, "percentunit", description, [Query(expr, "", table=True)], **more)


def _share_table(
    title: str,
    description: str,
    expr: str,
    *,
    rows: str,
    columns: str,
    steps: list[tuple[float | None, str]],
) -> Panel:
    """Shares with label ``rows`` down and label ``columns`` across, in coloured cells."""
    return _shares(
        "table",
        title,
        description,
        expr,
        steps=steps,
        transformations=_matrix(rows, columns),
        options={"cell": "color-background"},
    )


def _curves(
    title: str, description: str, expr: str, *, x: str, series: str, width: int | None = None
) -> Panel:
    """Shares drawn as one curve per label ``series`` against the number in label ``x``."""
    axis = f"{x}\\{series}"  # the heading Grafana gives the matrix's first column
    return _shares(
        "trend",
        title,
        description,
        expr,
        width=width,
        transformations=[*_matrix(x, series), _as_numbers(axis), _sort(axis)],
        options={"x": axis},
    )


PORTFOLIO = Board(
    "monitor-portfolio",
    "Delinquency monitor / Portfolio overview",
    "The credit-risk head's view of the book: delinquency, loss against reserves, roll rates, "
    "vintages, over-lending and the open portfolio alerts.",
    ["product", "region"],
    [
        Row(
            "The book at a glance",
            [
                Panel(
                    "stat",
                    "30+ DPD rate",
                    "percentunit",
                    "Share of open product accounts 30 or more days past due in the selection. "
                    "Orange from 3%, red from 5% (the PortfolioDelinquencyHigh rule). When it is "
                    "red, find the product and region below and read their roll rates.",
                    [Query(f"sum({RATE_30}) / sum({ACCOUNTS})", "30+ rate")],
                    DELINQUENCY_STEPS,
                ),
                Panel(
                    "stat",
                    "Balance at risk (30+ DPD)",
                    "short",
                    "Outstanding balance, in the book's currency, of accounts 30 or more days "
                    "past due. A jump with a flat 30+ rate means large balances went late: check "
                    "the segment table below.",
                    [Query(f"sum(monitor_balance_by_dpd_bucket{{{LATE}, {SEL}}})", "balance")],
                ),
                Panel(
                    "stat",
                    "Expected loss",
                    "short",
                    "Expected loss (PD x exposure x LGD), in the book's currency, of the "
                    "selection. Compare it with the reserve on the loss row below.",
                    [Query(f"sum(monitor_expected_loss{{{SEL}}})", "expected loss")],
                ),
                Panel(
                    "stat",
                    "Reserve coverage",
                    "suffix:x",
                    f"Reserve over expected loss of the whole book. Red below the default floor "
                    f"(MONITOR_COVERAGE_MIN, {COVERAGE_MIN}): raise the reserve or explain the "
                    "loss growth; the chart on the loss row draws the floor the worker runs "
                    "with. No value: no reserve is configured (MONITOR_RESERVE_AMOUNT).",
                    [Query("min(monitor_reserve_coverage_ratio)", "coverage")],
                    COVERAGE_STEPS,
                ),
                Panel(
                    "stat",
                    "Open accounts",
                    "short",
                    "Open product accounts in the selection. A sudden drop means accounts "
                    "closed or a worker lost partitions: check the pipeline dashboard.",
                    [Query(f"sum({ACCOUNTS})", "accounts")],
                ),
                Panel(
                    "stat",
                    "Portfolio alerts open",
                    "short",
                    "Portfolio alerts open now (segment drift, model drift, reserve coverage, "
                    "over-lending). Red when any is open: read the table on the last row and "
                    "follow each alert's action.",
                    [Query("sum(monitor_portfolio_alerts_open)", "open")],
                    ZERO_IS_GOOD,
                ),
            ],
            width=4,
        ),
        Row(
            "Delinquency by product and region",
            [
                _late_rate_by(
                    "product",
                    "Share of each product's open accounts 30+ days past due; the lines are the "
                    "3% and 5% thresholds. A product crossing 5% raises PortfolioDelinquencyHigh "
                    "after 15 minutes: look at its regions and its roll rates.",
                ),
                _late_rate_by(
                    "region",
                    "Share of each region's open accounts 30+ days past due. One region rising "
                    "alone usually follows its macro indicators (beside this panel); check "
                    "whether a segment-drift alert is open for it.",
                ),
                Panel(
                    "timeseries",
                    "Balance at risk (30+ DPD) by product and region",
                    "short",
                    "Outstanding balance of accounts 30+ days past due, per segment, in the "
                    "book's currency. Growth here with a stable rate means the late accounts are "
                    "larger ones: review limits in that segment.",
                    [
                        Query(
                            f"sum by (product, region) "
                            f"(monitor_balance_by_dpd_bucket{{{LATE}, {SEL}}})",
                            "{{product}} {{region}}",
                        )
                    ],
                    min=0,
                ),
                Panel(
                    "timeseries",
                    "Macro indicators by region",
                    "percent",
                    "The latest regional macro readings (unemployment rate, in percent) the "
                    "models use as features. A rise precedes delinquency in that region by "
                    "weeks: watch its 30+ rate and roll rates. A flat line for days means the "
                    "macro feed stopped.",
                    [
                        Query(
                            "max by (region, indicator) "
                            '(monitor_macro_indicator{region=~"$region"})',
                            "{{region}} {{indicator}}",
                        )
                    ],
                ),
                Panel(
                    "table",
                    "Segments now",
                    "short",
                    "Each product and region now: open accounts, 30+ rate, balance at risk, "
                    "expected loss and mean PD. Sort by a column to find the segment behind a "
                    "move in the totals.",
                    [
                        Query(f"sum by (product, region) ({ACCOUNTS})", "accounts", table=True),
                        Query(_rate_share(RATE_30, ACCOUNTS, "product, region"), "", table=True),
                        Query(
                            f"sum by (product, region) "
                            f"(monitor_balance_by_dpd_bucket{{{LATE}, {SEL}}})",
                            "",
                            table=True,
                        ),
                        Query(
                            f"sum by (product, region) (monitor_expected_loss{{{SEL}}})",
                            "",
                            table=True,
                        ),
                        Query(
                            f"sum by (product, region) (monitor_mean_pd{{{SEL}}} * on "
                            f"(product, region, instance, job) sum by (product, region, "
                            f"instance, job) ({ACCOUNTS})) / sum by (product, region) "
                            f"({ACCOUNTS})",
                            "",
                            table=True,
                        ),
                    ],
                    width=24,
                    transformations=[
                        {"id": "merge", "options": {}},
                        _hide("Time"),
                        {
                            "id": "organize",
                            "options": {
                                "renameByName": {
                                    "Value #A": "accounts",
                                    "Value #B": "30+ rate",
                                    "Value #C": "balance at risk",
                                    "Value #D": "expected loss",
                                    "Value #E": "mean PD",
                                }
                            },
                        },
                    ],
                    overrides=[
                        ("30+ rate", [("unit", "percentunit")]),
                        ("mean PD", [("unit", "percentunit")]),
                    ],
                ),
            ],
        ),
        Row(
            "Days-past-due buckets",
            [
                Panel(
                    "timeseries",
                    "Balances by DPD bucket",
                    "short",
                    "Outstanding balance in each days-past-due bucket (stacked), in the book's "
                    "currency. The late buckets growing faster than the book means arrears are "
                    "building: read the roll rates.",
                    [
                        Query(
                            f"sum by (bucket) (monitor_balance_by_dpd_bucket{{{SEL}}})",
                            "{{bucket}}",
                        )
                    ],
                    stacked=True,
                    min=0,
                ),
                Panel(
                    "timeseries",
                    "Accounts by DPD bucket",
                    "short",
                    "Open product accounts in each days-past-due bucket (stacked). A wave moving "
                    "from 1-29 into 30-59 a month later is the roll you can still stop with "
                    "collections.",
                    [Query(f"sum by (bucket) ({ACCOUNTS})", "{{bucket}}")],
                    stacked=True,
                    min=0,
                ),
            ],
        ),
        Row(
            "Loss and reserves",
            [
                Panel(
                    "timeseries",
                    "Expected loss against the reserve",
                    "short",
                    "Expected loss of the selection against the reserve held for the whole "
                    "book, and the expected loss the reserve covers at the coverage floor. When "
                    "expected loss approaches the dashed line a reserve alert follows: raise the "
                    "reserve or tighten lending.",
                    [
                        Query(f"sum(monitor_expected_loss{{{SEL}}})", "expected loss"),
                        Query("max(monitor_reserve_amount)", "reserve"),
                        Query(
                            "max(monitor_reserve_amount) / max(monitor_reserve_coverage_min)",
                            "expected loss covered at the floor",
                        ),
                    ],
                    min=0,
                    overrides=[
                        (
                            "expected loss covered at the floor",
                            [("custom.lineStyle", {"fill": "dash", "dash": [10, 10]})],
                        )
                    ],
                ),
                Panel(
                    "timeseries",
                    "Reserve coverage against its floor",
                    "suffix:x",
                    "Reserve over expected loss of the whole book, and the floor the worker runs "
                    "with (MONITOR_COVERAGE_MIN, red dashes). Below the floor, or projected "
                    "below it within 30 event days, a reserve-coverage alert is raised.",
                    [
                        Query("min(monitor_reserve_coverage_ratio)", "coverage"),
                        Query("max(monitor_reserve_coverage_min)", "floor"),
                    ],
                    COVERAGE_STEPS,
                    min=0,
                    overrides=[
                        (
                            "floor",
                            [
                                ("color", {"mode": "fixed", "fixedColor": "red"}),
                                ("custom.lineStyle", {"fill": "dash", "dash": [10, 10]}),
                            ],
                        )
                    ],
                ),
                Panel(
                    "timeseries",
                    "Expected loss by product and region",
                    "short",
                    "Expected loss per segment in the book's currency. The segment whose line "
                    "steepens is the one eating the reserve: look at its mean PD and balances.",
                    [
                        Query(
                            f"sum by (product, region) (monitor_expected_loss{{{SEL}}})",
                            "{{product}} {{region}}",
                        )
                    ],
                    min=0,
                ),
                Panel(
                    "timeseries",
                    "Mean PD by product and region",
                    "percentunit",
                    "Mean scored probability of reaching 30+ days past due, per segment "
                    "(weighted by accounts across workers). A segment rising away from the "
                    "others is what segment-drift alerts watch.",
                    [
                        Query(
                            f"sum by (product, region) (monitor_mean_pd{{{SEL}}} * on "
                            f"(product, region, instance, job) sum by (product, region, "
                            f"instance, job) ({ACCOUNTS})) / sum by (product, region) "
                            f"({ACCOUNTS})",
                            "{{product}} {{region}}",
                        )
                    ],
                    min=0,
                ),
            ],
        ),
        Row(
            "Roll rates, cures and vintages",
            [
                _share_table(
                    "Roll-rate matrix (last month with moves)",
                    "Share of the accounts in each bucket (rows, at the month's start) that "
                    "ended the month in each bucket (columns), summed over the selection. "
                    "Rising shares right of the diagonal mean arrears are rolling forward: "
                    "step up collections on that bucket.",
                    ROLL_SHARE,
                    rows="from_bucket",
                    columns="to_bucket",
                    steps=ROLL_STEPS,
                ),
                Panel(
                    "timeseries",
                    "Forward roll rates",
                    "percentunit",
                    "Share of each bucket rolling one bucket worse in the last month with moves "
                    "(current to 1-29, 1-29 to 30-59, ...). A rising 1-29 to 30-59 roll is the "
                    "earliest sign of a delinquency wave.",
                    [
                        Query(
                            " or ".join(
                                _forward_roll(old, new) for old, new in itertools.pairwise(BUCKETS)
                            ),
                            "{{move}}",
                        )
                    ],
                    min=0,
                ),
                Panel(
                    "timeseries",
                    "Cure rates",
                    "percentunit",
                    "Share of each past-due bucket back to current in the last month with "
                    "moves. Falling cure rates mean collections are working less: review the "
                    "strategy for that bucket.",
                    [
                        Query(
                            f"sum by (from_bucket) (monitor_roll_accounts{{{SEL}, "
                            f'from_bucket!="current", to_bucket="current"}}) / sum by '
                            f"(from_bucket) "
                            f'(monitor_roll_accounts{{{SEL}, from_bucket!="current"}})',
                            "{{from_bucket}} to current",
                        )
                    ],
                    min=0,
                ),
                _curves(
                    "Vintage curves",
                    "Cumulative share of each vintage (product and opening month) that reached "
                    "30+ days past due, by months on book. A young vintage above the older ones "
                    "at the same age means the accounts opened that month are worse: review "
                    "that month's acquisition.",
                    VINTAGE,
                    x="months_on_book",
                    series="cohort",
                ),
                _share_table(
                    "Vintage triangle",
                    "The vintage curves as a table: rows are vintages, columns months on book. "
                    "Read down a column to compare vintages at the same age; a darker cell "
                    "than the ones above it is a worse vintage.",
                    VINTAGE,
                    rows="cohort",
                    columns="months_on_book",
                    steps=VINTAGE_STEPS,
                ),
            ],
        ),
        Row(
            "Lending and alerts",
            [
                Panel(
                    "timeseries",
                    "Over-lending indicators (30-day growth)",
                    "percentunit",
                    f"Growth over the last 30 event days of limits per account, of drawdowns "
                    f"and of the mean PD, per product. Limits growing over "
                    f"{WATCH.limit_growth:.0%} (or drawdowns over {WATCH.drawdown_growth:.0%}) "
                    f"while mean PD grows over {WATCH.pd_growth:.0%} raises an over-lending "
                    "alert: tighten limit increases for that product.",
                    [
                        Query(
                            "avg by (product, series) "
                            '(monitor_lending_growth{product=~"$product"})',
                            "{{product}} {{series}}",
                        )
                    ],
                    [(None, "green"), (WATCH.pd_growth, "orange"), (WATCH.limit_growth, "red")],
                    lines=True,
                ),
                Panel(
                    "table",
                    "Open portfolio alerts",
                    "short",
                    "Every portfolio alert open now, with its segment, the series that moved "
                    "and the recommended action. Work through them top to bottom; each closes "
                    "on its own 14 event days after its condition is gone.",
                    [
                        Query(
                            f"max by (kind, severity, product, region, series, action) "
                            f"(monitor_portfolio_alert_open{{{ALERT_SEL}}})",
                            "",
                            table=True,
                        )
                    ],
                    transformations=[_hide("Time", "Value")],
                ),
                Panel(
                    "timeseries",
                    "Open portfolio alerts by kind",
                    "short",
                    "Portfolio alerts open over time, by kind. A kind that never clears needs a "
                    "decision, not more alerts.",
                    [Query("sum by (kind) (monitor_portfolio_alerts_open)", "{{kind}}")],
                    min=0,
                    stacked=True,
                ),
                Panel(
                    "timeseries",
                    "Alerts raised per hour by kind",
                    "short",
                    "Borrower and portfolio alerts raised in the last hour, by kind and "
                    "severity. A sudden burst with no change in the 30+ rate points to a model "
                    "or data problem: check the model dashboard.",
                    [Query("monitor:alerts:rate1h", "{{kind}} {{severity}}")],
                    min=0,
                ),
            ],
        ),
    ],
)

ROLE = 'role=~"$role"'
MODEL = Board(
    "monitor-model",
    "Delinquency monitor / Borrower risk and model health",
    "The modeller's view: which model scores, its online quality by role, calibration, the score "
    "distribution, alerts and the outcomes the models learn from.",
    ["role"],
    [
        Row(
            "Which model scores",
            [
                Panel(
                    "stat",
                    "Active model",
                    "none",
                    "The role whose model scores now. The fallback (the expert scorecard, or the "
                    "warm_start model fitted on the lender's labelled history) scores until the "
                    "champion has learned enough and beats it; an unexpected switch back to the "
                    "fallback means the champion's log loss got worse: read the quality row.",
                    [Query("max by (role) (monitor_model_active) == 1", "{{role}}")],
                    options={"text": "name"},
                ),
                Panel(
                    "stat",
                    "Outcomes learned (model version)",
                    "short",
                    "Resolved outcomes the models have learned: the number in the model version "
                    "(role@outcomes) each score carries. Flat for long means outcomes stopped "
                    "resolving: check the pipeline.",
                    [Query("max(monitor_model_outcomes_learned)", "outcomes learned")],
                ),
                Panel(
                    "stat",
                    "ROC AUC of the active model",
                    "none",
                    f"How well the scoring model ranks accounts that went 30+ days past due "
                    f"above those that did not, over its recent resolved predictions. Below "
                    f"{WATCH.auc_floor} after a fall a model-drift alert is raised: compare the "
                    "roles below and retrain or switch.",
                    [
                        Query(
                            "max by (role) (monitor_model_roc_auc) and on (role) "
                            "(max by (role) (monitor_model_active) == 1)",
                            "{{role}}",
                        )
                    ],
                    AUC_STEPS,
                ),
                Panel(
                    "stat",
                    "Outcomes learned per minute",
                    "short",
                    "Predictions whose outcome became known in the last 5 minutes, per minute. "
                    "Zero while events flow means the horizon has not passed yet or timers stopped "
                    "firing: check event-time lag on the pipeline dashboard.",
                    [Query("sum(rate(monitor_labels_resolved_total[5m])) * 60", "outcomes")],
                ),
            ],
            width=6,
        ),
        Row(
            "Quality by role",
            [
                Panel(
                    "timeseries",
                    "ROC AUC by role",
                    "none",
                    f"ROC AUC of every model role (scorecard or warm_start, champion, challenger) "
                    f"on the same resolved outcomes, judged before learning. Red below "
                    f"{WATCH.auc_floor}. A challenger above the champion for long is a candidate "
                    "to promote.",
                    [Query(f"max by (role) (monitor_model_roc_auc{{{ROLE}}})", "{{role}}")],
                    AUC_STEPS,
                    lines=True,
                    min=0.5,
                    max=1,
                ),
                Panel(
                    "timeseries",
                    "Log loss by role",
                    "none",
                    "Mean log loss of each role over its recent resolved predictions (lower is "
                    "better). It decides which model scores: the champion scores once it beats "
                    "the fallback (scorecard or warm_start). A rising line with a steady AUC "
                    "means calibration slipped.",
                    [Query(f"max by (role) (monitor_model_log_loss{{{ROLE}}})", "{{role}}")],
                    min=0,
                ),
                Panel(
                    "timeseries",
                    "Brier score by role",
                    "none",
                    "Mean squared error of each role's probabilities (lower is better). Compare "
                    "it with the base rate of outcomes: a Brier score near the base rate means "
                    "the model adds little.",
                    [Query(f"max by (role) (monitor_model_brier_score{{{ROLE}}})", "{{role}}")],
                    min=0,
                ),
                Panel(
                    "stat",
                    "Challenger leads",
                    "none",
                    "1 while the challenger has beaten the champion's log loss by the margin for "
                    "the patience in a row. It is not switched in on its own: if it stays at 1 "
                    "for days, compare the roles above and consider retraining or promoting it.",
                    [Query("max(monitor_model_challenger_leads)", "challenger leads")],
                    width=6,
                ),
                _curves(
                    "Calibration by decile",
                    "Mean predicted probability against the observed rate in each decile of "
                    "predicted probability, one pair of lines per role (pick one with the role "
                    "variable). A role's two lines should lie together; observed above "
                    "predicted means that model underestimates risk and reserves based on it "
                    "are short.",
                    "label_join(max by (role, decile, kind) "
                    f"(monitor_model_calibration{{{ROLE}}}), "
                    '"series", " ", "role", "kind")',
                    x="decile",
                    series="series",
                    width=12,
                ),
                Panel(
                    "heatmap",
                    "Score distribution",
                    "percentunit",
                    "How many scorings fell in each band of predicted probability over time. "
                    "The mass moving up means the book is getting riskier or the model drifts: "
                    "compare with the 30+ rate on the portfolio dashboard.",
                    [
                        Query(
                            "sum by (le) (increase(monitor_score_bucket[$__rate_interval]))",
                            "{{le}}",
                            heatmap=True,
                        )
                    ],
                    width=12,
                ),
            ],
            width=8,
        ),
        Row(
            "Scores and tiers",
            [
                Panel(
                    "timeseries",
                    "Mean scored probability",
                    "percentunit",
                    "Mean probability of reaching 30+ days past due over the scorings of the "
                    "last 5 minutes. Compare with the observed positive rate beside it: a "
                    "lasting gap is a calibration problem.",
                    [
                        Query(
                            "sum(rate(monitor_score_sum[5m])) / sum(rate(monitor_score_count[5m]))",
                            "mean score",
                        )
                    ],
                    min=0,
                ),
                Panel(
                    "timeseries",
                    "Observed positive rate of resolved outcomes",
                    "percentunit",
                    "Share of the outcomes resolved in the last 15 minutes that went 30+ days "
                    "past due. It should track the mean scored probability of a horizon ago.",
                    [
                        Query(
                            'sum(rate(monitor_labels_resolved_total{outcome="positive"}[15m])) '
                            "/ sum(rate(monitor_labels_resolved_total[15m]))",
                            "observed rate",
                        )
                    ],
                    min=0,
                ),
                Panel(
                    "timeseries",
                    "Accounts by risk tier",
                    "short",
                    "Open accounts in each risk tier (stacked). Growth of the high tiers with a "
                    "flat book means risk is rising before delinquency shows.",
                    [Query("sum by (tier) (monitor_accounts_by_risk_tier)", "{{tier}}")],
                    stacked=True,
                    min=0,
                ),
                Panel(
                    "timeseries",
                    "Scorings per second",
                    "ops",
                    "Account scorings (on events and event-time timers) per second. Scorings "
                    "with no timers firing mean event time stopped advancing.",
                    [
                        Query("sum(rate(monitor_scores_total[5m]))", "scorings"),
                        Query("sum(rate(monitor_timers_fired_total[5m]))", "event-time timers"),
                    ],
                    min=0,
                ),
            ],
        ),
        Row(
            "Alerts and outcomes",
            [
                Panel(
                    "timeseries",
                    "Alerts by kind and action (per hour)",
                    "short",
                    "Firing alerts in the last hour by kind and recommended action. A surge of "
                    "one action is work arriving at one team: warn them; a surge with no change "
                    "in risk points to a data problem.",
                    [
                        Query(
                            "sum by (kind, action) (increase(monitor_alert_actions_total[1h]))",
                            "{{kind}} {{action}}",
                        )
                    ],
                    min=0,
                ),
                Panel(
                    "timeseries",
                    "Alerts by kind, severity and status (per hour)",
                    "short",
                    "Alerts in the last hour by kind, severity and status (firing or resolved). "
                    "Many firing and few resolved means alerts pile up: check the receivers and "
                    "the policy's cool-down.",
                    [
                        Query(
                            "sum by (kind, severity, status) "
                            "(increase(monitor_alerts_total[1h])) > 0",
                            "{{kind}} {{severity}} {{status}}",
                        )
                    ],
                    min=0,
                ),
                Panel(
                    "timeseries",
                    "Outcomes learned per minute by outcome",
                    "short",
                    "Resolved predictions per minute, positive (went 30+ days past due) and "
                    "negative. No positives for long means the models learn nothing about "
                    "default: check the horizon and the input.",
                    [
                        Query(
                            "sum by (outcome) (rate(monitor_labels_resolved_total[5m])) * 60",
                            "{{outcome}}",
                        )
                    ],
                    min=0,
                ),
                Panel(
                    "timeseries",
                    "Learner progress (outcomes learned)",
                    "short",
                    "Outcomes the models have learned since they were first trained (the "
                    "number in the model version). It should rise steadily with the input; a "
                    "drop means a worker restarted from an older checkpoint.",
                    [Query("max(monitor_model_outcomes_learned)", "outcomes learned")],
                    min=0,
                ),
            ],
        ),
    ],
)

PIPELINE = Board(
    "monitor-pipeline",
    "Delinquency monitor / Pipeline health",
    "The on-call engineer's view: throughput, latency, lag, bad input, output and the process.",
    [],
    [
        Row(
            "At a glance",
            [
                Panel(
                    "stat",
                    "Workers up",
                    "short",
                    "Workers Prometheus scrapes successfully. Zero: no scoring and no alerts; "
                    "MonitorWorkerDown fires after 2 minutes. Restart the worker and read its "
                    "log.",
                    [Query('sum(up{job="monitor"})', "up")],
                    [(None, "red"), (1, "green")],
                ),
                Panel(
                    "stat",
                    "Event-time lag (worst partition)",
                    "s",
                    "Wall clock minus the newest event time processed, worst input partition. "
                    "It only measures: event time drives every decision. Growing while input "
                    "flows means the worker falls behind; in a replay or simulation it is the "
                    "distance to the simulated clock.",
                    [
                        Query(
                            "max(time() - max by (partition) "
                            "(monitor_partition_event_time_seconds))",
                            "lag",
                        )
                    ],
                    [(None, "green"), (300, "orange"), (3600, "red")],
                ),
                Panel(
                    "stat",
                    "Consumer lag",
                    "short",
                    "Input messages not yet processed, over all partitions. Over 10,000 and "
                    "growing raises MonitorConsumerLagGrowing: add workers (up to the partition "
                    "count) or look for slow batches.",
                    [Query("sum(monitor_consumer_lag_messages)", "messages")],
                    [(None, "green"), (1000, "orange"), (10000, "red")],
                ),
                Panel(
                    "stat",
                    "Dead letters (last hour)",
                    "short",
                    "Input messages sent to the dead-letter topic in the last hour. Any is worth "
                    "a look: the panel below says why, the topic holds the original bytes.",
                    [Query("sum(increase(monitor_dead_letters_total[1h]))", "dead letters")],
                    [(None, "green"), (1, "orange"), (100, "red")],
                ),
            ],
            width=6,
        ),
        Row(
            "Throughput and latency",
            [
                Panel(
                    "timeseries",
                    "Events per second by type",
                    "ops",
                    "Valid input messages processed per second, by event type. A type dropping "
                    "to zero means its producer stopped.",
                    [Query("monitor:events:rate5m", "{{type}}")],
                    min=0,
                ),
                Panel(
                    "timeseries",
                    "Processing latency",
                    "s",
                    "Time to process one input message (p50 and p99). A p99 step with GC "
                    "pauses below points to memory; without, to the broker or the state store.",
                    [
                        Query("monitor:processing_seconds:p50_5m", "p50"),
                        Query("monitor:processing_seconds:p99_5m", "p99"),
                    ],
                    [(None, "green"), (0.1, "orange"), (0.5, "red")],
                    lines=True,
                    min=0,
                ),
                Panel(
                    "timeseries",
                    "State writes per batch",
                    "short",
                    "Account states written to the changelogged table per batch (p50, p99). "
                    "Near the batch size means every message touches a new account; a rising "
                    "p99 lengthens commits.",
                    [
                        Query(
                            "histogram_quantile(0.5, sum by (le) "
                            "(rate(monitor_batch_state_writes_bucket[5m])))",
                            "p50",
                        ),
                        Query(
                            "histogram_quantile(0.99, sum by (le) "
                            "(rate(monitor_batch_state_writes_bucket[5m])))",
                            "p99",
                        ),
                    ],
                    min=0,
                ),
            ],
            width=8,
        ),
        Row(
            "Lag",
            [
                Panel(
                    "timeseries",
                    "Event-time lag by partition",
                    "s",
                    "Wall clock minus the newest event time of each input partition (for "
                    "display only; the wall clock never drives a decision). One partition "
                    "behind the others is a stuck partition or a slow producer for its keys.",
                    [
                        Query(
                            "time() - max by (partition) (monitor_partition_event_time_seconds)",
                            "partition {{partition}}",
                        )
                    ],
                ),
                Panel(
                    "timeseries",
                    "Consumer lag by partition",
                    "short",
                    "Input messages not yet processed, per partition. One partition growing "
                    "alone points to a hot key or a stalled assignment: check the worker log "
                    "for rebalances.",
                    [
                        Query(
                            "sum by (partition) (monitor_consumer_lag_messages)",
                            "partition {{partition}}",
                        )
                    ],
                    min=0,
                ),
            ],
        ),
        Row(
            "Bad input and output",
            [
                Panel(
                    "timeseries",
                    "Dead letters per second by reason",
                    "ops",
                    "Input messages dead-lettered per second by reason (empty, oversized, not "
                    "JSON, not an object, schema, semantic). Over 1% of input raises "
                    "MonitorDeadLetterRate: read the dead-letter topic and tell the producer.",
                    [
                        Query(
                            "sum by (reason) (rate(monitor_dead_letters_total[5m]))",
                            "{{reason}}",
                        )
                    ],
                    min=0,
                ),
                Panel(
                    "timeseries",
                    "Output failures by topic",
                    "short",
                    "Batches of output (alerts, risk records, dead letters, state changelog) "
                    "Kafka did not acknowledge in the last 5 minutes. Any failure stops the "
                    "worker before its input is committed; check the broker's health.",
                    [
                        Query(
                            "sum by (topic) (increase(monitor_output_failures_total[5m]))",
                            "{{topic}}",
                        )
                    ],
                    ZERO_IS_GOOD,
                    lines=True,
                    min=0,
                ),
                Panel(
                    "timeseries",
                    "Alert deliveries by sink and outcome",
                    "ops",
                    "Alert deliveries per second to each sink, by outcome. Failed, rejected or "
                    "refused deliveries raise MonitorDeliveryFailures: check that receiver.",
                    [
                        Query(
                            "sum by (sink, outcome) (rate(monitor_deliveries_total[5m]))",
                            "{{sink}} {{outcome}}",
                        )
                    ],
                    min=0,
                ),
                Panel(
                    "timeseries",
                    "Delivery queue",
                    "short",
                    "Alerts waiting for delivery per sink. A queue that only grows means the "
                    "receiver is down or too slow; alerts it gives up on go to the dead-letter "
                    "topic.",
                    [Query("sum by (sink) (monitor_delivery_queue)", "{{sink}}")],
                    min=0,
                ),
                Panel(
                    "timeseries",
                    "Alerts sent again after a restart",
                    "short",
                    "Alerts sent again in the last hour because their input was not committed "
                    "before a restart. Non-zero after every deploy is expected; otherwise the "
                    "worker is crashing: read its log.",
                    [Query("sum(increase(monitor_alerts_resent_total[1h]))", "resent")],
                    min=0,
                ),
            ],
        ),
        Row(
            "Process",
            [
                Panel(
                    "timeseries",
                    "Time paused by the garbage collector",
                    "percentunit",
                    "Share of time the worker was paused by each collector generation. Full "
                    "(generation 2) pauses over the account states explain latency spikes; "
                    "growing ones follow a growing state.",
                    [
                        Query(
                            "max by (generation) (rate(monitor_gc_pause_seconds_sum[5m]))",
                            "generation {{generation}}",
                        )
                    ],
                    min=0,
                ),
                Panel(
                    "timeseries",
                    "Worker resident memory",
                    "bytes",
                    "Resident memory of each worker. Steady growth with a steady book is a "
                    "leak; with a growing book, plan for the state (RocksDB keeps it off the "
                    "heap).",
                    [Query('process_resident_memory_bytes{job="monitor"}', "{{instance}}")],
                    min=0,
                ),
                Panel(
                    "timeseries",
                    "Worker CPU",
                    "percentunit",
                    "CPU time per second of each worker (1 = one core). Near 1 the worker is "
                    "CPU bound: add workers (up to the partition count).",
                    [
                        Query(
                            'rate(process_cpu_seconds_total{job="monitor"}[5m])',
                            "{{instance}}",
                        )
                    ],
                    [(None, "green"), (0.8, "orange"), (0.95, "red")],
                    min=0,
                ),
            ],
            width=8,
        ),
    ],
)

BOARDS = {b.uid: b for b in (PORTFOLIO, MODEL, PIPELINE)}
#: uid -> title (the dashboards this module writes)
DASHBOARDS = {uid: b.title for uid, b in BOARDS.items()}


# -- building ------------------------------------------------------------------------------
def _target(query: Query, ref: str) -> prometheus.Dataquery:
    target = (
        prometheus.Dataquery()
        .ref_id(ref)
        .datasource(DATASOURCE)
        .expr(query.expr)
        .legend_format(query.legend)
    )
    if query.table:
        return target.instant().format(prom_model.PromQueryFormat.TABLE)
    if query.heatmap:
        return target.format(prom_model.PromQueryFormat.HEATMAP)
    return target


def _thresholds(steps: list[tuple[float | None, str]]) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=v, color=c) for v, c in steps])
    )


def _panel(spec: Panel, panel_id: int, row_width: int) -> Any:
    builders: dict[str, Any] = {
        "timeseries": timeseries.Panel,
        "stat": stat.Panel,
        "table": table.Panel,
        "heatmap": heatmap.Panel,
        "trend": trend.Panel,
    }
    panel = (
        builders[spec.kind]()
        .id(panel_id)
        .title(spec.title)
        .description(spec.description)
        .datasource(DATASOURCE)
        .unit(spec.unit)
        .thresholds(_thresholds(spec.steps))
        .height(spec.height or (5 if spec.kind == "stat" else 8))
        .span(spec.width or row_width)
        .targets([_target(q, chr(65 + i)) for i, q in enumerate(spec.queries)])
    )
    if spec.min is not None:
        panel = panel.min(spec.min)
    if spec.max is not None:
        panel = panel.max(spec.max)
    for transformation in spec.transformations:
        panel = panel.with_transformation(
            model.DataTransformerConfig(
                id_val=transformation["id"], options=transformation["options"]
            )
        )
    for name, properties in spec.overrides:
        panel = panel.override_by_name(
            name, [model.DynamicConfigValue(id_val=k, value=v) for k, v in properties]
        )
    legend = (
        common.VizLegendOptions()
        .display_mode(common_model.LegendDisplayMode.LIST)
        .placement(common_model.LegendPlacement.BOTTOM)
        .show_legend(True)
    )
    if isinstance(panel, timeseries.Panel):
        panel = panel.legend(legend).fill_opacity(60 if spec.stacked else 10)
        if spec.stacked:
            panel = panel.stacking(common.StackingConfig().mode(common_model.StackingMode.NORMAL))
        if spec.lines:
            panel = panel.thresholds_style(
                common.GraphThresholdsStyleConfig().mode(
                    common_model.GraphThresholdsStyleMode.DASHED
                )
            )
    elif isinstance(panel, stat.Panel):
        panel = (
            panel.color_mode(common_model.BigValueColorMode.BACKGROUND)
            .graph_mode(common_model.BigValueGraphMode.AREA)
            .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        )
        if spec.options.get("text") == "name":
            panel = panel.text_mode(common_model.BigValueTextMode.NAME).graph_mode(
                common_model.BigValueGraphMode.NONE
            )
    elif isinstance(panel, table.Panel):
        if spec.options.get("cell") == "color-background":
            panel = panel.cell_options(
                common_model.TableColoredBackgroundCellOptions(
                    mode=common_model.TableCellBackgroundDisplayMode.GRADIENT
                )
            )
    elif isinstance(panel, trend.Panel):
        panel = (
            panel.legend(legend)
            .x_field(spec.options["x"])
            .show_points(common_model.VisibilityMode.ALWAYS)
        )
    elif isinstance(panel, heatmap.Panel):
        panel = (
            panel.calculate(False)
            .y_axis(heatmap.YAxisConfig().unit(spec.unit).decimals(2))
            .cell_values(heatmap.CellValues().unit("short"))
            .color(
                heatmap.HeatmapColorOptions()
                .mode(heatmap_model.HeatmapColorMode.SCHEME)
                .scheme("Oranges")
                .fill("dark-orange")
                .scale(heatmap_model.HeatmapColorScale.EXPONENTIAL)
                .exponent(0.5)
                .steps(64)
            )
        )
    return panel


def _variable(name: str) -> dash.QueryVariable:
    source = {
        "product": "monitor_accounts_by_dpd_bucket",
        "region": "monitor_accounts_by_dpd_bucket",
        "role": "monitor_model_active",
    }[name]
    query = f"label_values({source}, {name})"
    variable = (
        dash.QueryVariable(name)
        .label(name)
        .datasource(DATASOURCE)
        .query({"query": query, "refId": f"{name}-values"})
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .include_all(True)
        .all_value(".*")
        .multi(True)
        .current(model.VariableOption(selected=True, text=["All"], value=["$__all"]))
    )
    return variable


def _links() -> list[Any]:
    return [
        dash.DashboardLink("Delinquency monitor")
        .type(model.DashboardLinkType.DASHBOARDS)
        .tags([TAG])
        .as_dropdown(False)
        .include_vars(True)
        .keep_time(True)
    ]


@dataclass(frozen=True)
class Annotation:
    """A Prometheus annotation query: a mark on every time series where ``expr`` has a value."""

    name: str
    expr: str
    color: str
    title: str
    text: str
    tags: str


#: Alerts as annotations: Prometheus's own alerts (its ``ALERTS`` series, the rules'), and the
#: worker's portfolio alerts when they open (posted to Alertmanager directly, they are not in
#: ``ALERTS``; Grafana's Alerting pages show them through the Alertmanager data source).
ANNOTATIONS = [
    Annotation(
        "Prometheus alerts",
        'ALERTS{alertstate="firing"}',
        "red",
        "{{alertname}}",
        "{{kind}} {{severity}} {{product}} {{region}}",
        "severity,kind,product,region",
    ),
    Annotation(
        "Portfolio alerts opened",
        "sum by (kind) (delta(monitor_portfolio_alerts_open[2m])) > 0",
        "orange",
        "{{kind}} opened",
        "a portfolio alert of kind {{kind}} opened: see Open portfolio alerts",
        "kind",
    ),
]


def _annotation(spec: Annotation) -> dash.AnnotationQuery:
    return (
        dash.AnnotationQuery()
        .name(spec.name)
        .datasource(DATASOURCE)
        .enable(True)
        .icon_color(spec.color)
        .expr(spec.expr)
    )


def dashboard(uid: str) -> dict[str, Any]:
    """The Grafana JSON model of one dashboard."""
    board = BOARDS[uid]
    builder = (
        dash.Dashboard(board.title)
        .uid(uid)
        .description(board.description)
        .tags([TAG])
        .refresh("30s")
        .time("now-3h", "now")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .links(_links())
        .annotations([_annotation(a) for a in ANNOTATIONS])
    )
    for name in board.variables:
        builder = builder.with_variable(_variable(name))
    panel_id = 0
    for row in board.rows:
        panel_id += 1
        builder = builder.with_row(dash.Row(row.title).id(panel_id))
        for spec in row.panels:
            panel_id += 1
            builder = builder.with_panel(_panel(spec, panel_id, row.width))
    out: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    out["schemaVersion"] = 39
    out.setdefault("templating", {}).setdefault("list", [])
    out["version"] = 1
    out["editable"] = False
    specs = {a.name: a for a in ANNOTATIONS}
    for annotation in out["annotations"]["list"]:
        mark = specs[annotation["name"]]
        # fields of Prometheus annotations the typed model does not carry
        annotation["titleFormat"] = mark.title
        annotation["textFormat"] = mark.text
        annotation["tagKeys"] = mark.tags
        annotation["step"] = "60s"
        annotation["useValueForTime"] = False
    return out


def panels(uid: str) -> list[dict[str, Any]]:
    """The panels of a dashboard, rows left out."""
    return [p for p in dashboard(uid)["panels"] if p["type"] != "row"]


def render(uid: str) -> str:
    """The dashboard file's text."""
    return json.dumps(dashboard(uid), indent=2) + "\n"


def write(folder: Path) -> list[Path]:
    """Write every dashboard as ``<uid>.json`` into ``folder``."""
    paths = []
    for uid in DASHBOARDS:
        path = folder / f"{uid}.json"
        path.write_text(render(uid))
        paths.append(path)
    return paths


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[2] / "dashboards"
    for written in write(target):
        print(written)
