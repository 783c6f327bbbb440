import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from monitor.devtools import dashboards
from monitor.metrics import Metrics, watch_process
from tests.support.dashboards import substituted

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "dashboards"


def _model(uid: str) -> dict:
    return json.loads((FOLDER / f"{uid}.json").read_text())


def _panels(uid: str) -> list[dict]:
    return [p for p in _model(uid)["panels"] if p["type"] != "row"]


@pytest.mark.parametrize("uid", sorted(dashboards.DASHBOARDS))
def test_committed_dashboard_is_up_to_date(uid: str) -> None:
    path = FOLDER / f"{uid}.json"
    assert path.read_text() == dashboards.render(uid), (
        "run `python -m monitor.devtools.dashboards` and commit the result"
    )


def test_thirty_panels_or_more_each_with_a_description_a_unit_and_a_query() -> None:
    panels = [p for uid in dashboards.DASHBOARDS for p in _panels(uid)]
    assert len(panels) >= 30
    for panel in panels:
        assert len(panel["description"]) >= 60, panel["title"]
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
        assert panel["fieldConfig"]["defaults"]["thresholds"]["steps"], panel["title"]
    assert len({p["title"] for p in panels}) == len(panels), "titles are unique"


@pytest.mark.parametrize("uid", sorted(dashboards.DASHBOARDS))
def test_variables_links_and_alert_annotations(uid: str) -> None:
    model = _model(uid)
    assert model["uid"] == uid
    defined = {v["name"] for v in model["templating"]["list"]}
    exprs = [t["expr"] for p in _panels(uid) for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"\$(\w+)", e)} - {"__rate_interval"}
    assert used == defined, "every variable is used and every used one defined"
    if any("product" in e for e in exprs):
        assert {"product", "region"} <= defined
    # links to the other dashboards: by the tag all three carry
    assert dashboards.TAG in model["tags"]
    assert any(
        link["type"] == "dashboards" and link["tags"] == [dashboards.TAG] for link in model["links"]
    )
    annotations = [a for a in model["annotations"]["list"] if "ALERTS" in a.get("expr", "")]
    assert annotations and annotations[0]["datasource"]["uid"] == "prometheus"


def test_queries_name_only_exported_metrics_and_no_fixed_model_role() -> None:
    registry = CollectorRegistry()
    Metrics(registry)
    watch_process(registry)()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    exported = {
        metric.name + suffix
        for metric in registry.collect()
        for suffix in ("", *suffixes.get(metric.type, ()))
    }
    rules = (ROOT / "deploy/prometheus/rules/monitor.yml").read_text()
    recorded = set(re.findall(r"- record: (\S+)", rules))
    assert recorded
    for uid in dashboards.DASHBOARDS:
        for panel in _panels(uid):
            for target in panel["targets"]:
                expr = target["expr"]
                assert "account_id" not in expr
                assert expr.count("(") == expr.count(")")
                assert not re.search(r'role="', expr), "roles by label, so new roles show up"
                for name in re.findall(r"\b((?:monitor|process)_[a-z_]+)\b", expr):
                    assert name in exported, f"{panel['title']}: {name} is not exported"
                for name in re.findall(r"\bmonitor:[a-z_0-9:]+", expr):
                    assert name in recorded, f"{panel['title']}: {name} is not recorded"


def test_grafana_provisioning_reads_the_dashboards_folder() -> None:
    provider = (FOLDER / "provisioning/dashboards/monitor.yml").read_text()
    assert "path: /var/lib/grafana/dashboards" in provider
    source = (FOLDER / "provisioning/datasources/prometheus.yml").read_text()
    assert f"uid: {dashboards.DATASOURCE.uid}" in source
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "./dashboards:/var/lib/grafana/dashboards:ro" in compose
    assert "./dashboards/provisioning:/etc/grafana/provisioning:ro" in compose


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_every_query_and_annotation_parses_as_promql(tmp_path: Path) -> None:
    """promtool parses each expression as a recording rule: a typo fails here, not in Grafana."""
    exprs = [
        (panel["title"], target["expr"])
        for uid in dashboards.DASHBOARDS
        for panel in _panels(uid)
        for target in panel["targets"]
    ] + [(a.name, a.expr) for a in dashboards.ANNOTATIONS]
    rules = []
    for i, (_, expr) in enumerate(exprs):
        rules.append({"record": f"dashboard:query_{i}", "expr": substituted(expr)})
    path = tmp_path / "queries.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboards", "rules": rules}]}))
    done = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
