"""The Grafana dashboards, as data: ``python -m monitor.dashboards`` writes ``dashboards/*.json``.

Keeping them here (and checking in a test that the JSON files are up to date and that every panel
query returns data from a real Prometheus) stops the dashboards drifting from the metrics.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
SEL = 'product=~"$product", region=~"$region"'
LATE = 'bucket=~"30-59|60-89|90\\\\+"'

#: uid -> (title, [(panel title, unit, [(expr, legend)])])
DASHBOARDS: dict[str, tuple[str, list[tuple[str, str, list[tuple[str, str]]]]]] = {
    "monitor-portfolio": (
        "Delinquency monitor / Portfolio overview",
        [
            (
                "30+ days past due rate",
                "percentunit",
                [
                    (
                        f"sum by (product) (monitor_accounts_by_dpd_bucket{{{LATE}, {SEL}}}) / "
                        f"sum by (product) (monitor_accounts_by_dpd_bucket{{{SEL}}})",
                        "{{product}}",
                    ),
                ],
            ),
            (
                "Accounts by days-past-due bucket",
                "short",
                [
                    (f"sum by (bucket) (monitor_accounts_by_dpd_bucket{{{SEL}}})", "{{bucket}}"),
                ],
            ),
            (
                "30+ rate by region",
                "percentunit",
                [
                    (
                        f"sum by (region) (monitor_accounts_by_dpd_bucket{{{LATE}, {SEL}}}) / "
                        f"sum by (region) (monitor_accounts_by_dpd_bucket{{{SEL}}})",
                        "{{region}}",
                    ),
                ],
            ),
            (
                "Alerts raised per hour by kind",
                "short",
                [
                    ("monitor:alerts:rate1h", "{{kind}} {{severity}}"),
                ],
            ),
        ],
    ),
    "monitor-model": (
        "Delinquency monitor / Borrower risk and model health",
        [
            (
                "Accounts by risk tier",
                "short",
                [
                    ("sum by (tier) (monitor_accounts_by_risk_tier)", "{{tier}}"),
                ],
            ),
            (
                "Outcomes learned per minute",
                "short",
                [
                    (
                        "sum by (outcome) (rate(monitor_labels_resolved_total[5m])) * 60",
                        "{{outcome}}",
                    ),
                ],
            ),
            (
                "Scorings per second",
                "ops",
                [
                    ("rate(monitor_scores_total[5m])", "scorings"),
                    ("rate(monitor_timers_fired_total[5m])", "event-time timers"),
                ],
            ),
            (
                "Alerts by status",
                "short",
                [
                    ("sum by (status) (increase(monitor_alerts_total[1h]))", "{{status}}"),
                ],
            ),
        ],
    ),
    "monitor-pipeline": (
        "Delinquency monitor / Pipeline health",
        [
            ("Events per second by type", "ops", [("monitor:events:rate5m", "{{type}}")]),
            (
                "Dead letters per second",
                "ops",
                [
                    ("sum by (reason) (rate(monitor_dead_letters_total[5m]))", "{{reason}}"),
                ],
            ),
            (
                "Processing latency",
                "s",
                [
                    ("monitor:processing_seconds:p50_5m", "p50"),
                    ("monitor:processing_seconds:p99_5m", "p99"),
                ],
            ),
            (
                "Consumer lag",
                "short",
                [
                    (
                        "sum by (partition) (monitor_consumer_lag_messages)",
                        "partition {{partition}}",
                    ),
                ],
            ),
            (
                "Alert deliveries by sink and outcome",
                "ops",
                [
                    (
                        "sum by (sink, outcome) (rate(monitor_deliveries_total[5m]))",
                        "{{sink}} {{outcome}}",
                    ),
                ],
            ),
            ("Delivery queue", "short", [("sum by (sink) (monitor_delivery_queue)", "{{sink}}")]),
            (
                "Time paused by the garbage collector",
                "percentunit",
                [
                    (
                        "max by (generation) (rate(monitor_gc_pause_seconds_sum[5m]))",
                        "generation {{generation}}",
                    ),
                ],
            ),
            (
                "Worker resident memory",
                "bytes",
                [('process_resident_memory_bytes{job="monitor"}', "{{instance}}")],
            ),
        ],
    ),
}


def _variable(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": name,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {
            "query": f"label_values(monitor_accounts_by_dpd_bucket, {name})",
            "refId": f"{name}-values",
        },
        "definition": f"label_values(monitor_accounts_by_dpd_bucket, {name})",
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "refresh": 2,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    }


def dashboard(uid: str) -> dict[str, Any]:
    """The Grafana JSON model of one dashboard."""
    title, panels = DASHBOARDS[uid]
    out = []
    for i, (panel_title, unit, targets) in enumerate(panels):
        out.append(
            {
                "id": i + 1,
                "type": "timeseries",
                "title": panel_title,
                "datasource": DATASOURCE,
                "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": [
                    {
                        "refId": chr(65 + j),
                        "datasource": DATASOURCE,
                        "expr": expr,
                        "legendFormat": legend,
                    }
                    for j, (expr, legend) in enumerate(targets)
                ],
            }
        )
    return {
        "uid": uid,
        "title": title,
        "tags": ["delinquency-monitor"],
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "templating": {"list": [_variable("product"), _variable("region")]},
        "panels": out,
    }


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
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[1] / "dashboards"
    for written in write(target):
        print(written)
