"""The ops stack for real: Prometheus scrapes the worker with the project's rules, every dashboard
query returns data, and alerts reach Alertmanager and its webhook receiver."""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import orjson
import pytest

from monitor import simulator as sim
from monitor.core.actions import ACTIONS
from monitor.devtools import dashboards
from monitor.kafka import io as kafkaio
from monitor.sinks.alertmanager import ALERTNAME
from tests.integration import opsstack
from tests.integration.conftest import WorkerFactory, WorkerProcess, free_port
from tests.support.dashboards import substituted
from tests.support.receiver import WebhookReceiver

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None, reason="prometheus not installed"
)

T = TypeVar("T")


def _eventually(
    check: Callable[[], T], timeout: float = 60.0, what: str | Callable[[], str] = "condition"
) -> T:
    """``check()`` once it is truthy; ``what`` (or what it returns, called) names it on time-out."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")
        time.sleep(1)


def test_prometheus_dashboards_and_alertmanager(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    with WebhookReceiver() as am_receiver:
        am = opsstack.start_alertmanager(tmp_path, free_port(), free_port(), am_receiver.url)
        worker = worker_factory(
            partitions=2,
            MONITOR_ALERTMANAGER_URL=am.url,
            MONITOR_ALERTMANAGER_RESEND_S="5",
            MONITOR_RESERVE_AMOUNT="1000",  # far too little: a reserve alert,
        )
        prom = opsstack.start_prometheus(
            tmp_path,
            free_port(),
            f"127.0.0.1:{worker.settings.web_port}",
            am.url.removeprefix("http://"),
        )
        try:
            worker.start()
            # Prometheus has the worker's gauges before the stream starts, so the annotations
            # see the reserve alert open (0, then 1) instead of finding it open at the first scrape
            _eventually(
                lambda: opsstack.query(
                    prom, 'monitor_portfolio_alerts_open{kind="reserve_coverage"} == 0'
                ),
                90,
                "Prometheus scraping the worker before the stream",
            )
            simulation = sim.simulate(
                sim.SimConfig(accounts=300, days=150, seed=21, scenario="macro-shock")
            )
            lines = [orjson.dumps(e) for e in simulation.events]
            lines.insert(len(lines) // 2, b"not json")  # so dead-letter queries have data
            # paced over about half a minute, as a live feed: the panels' rates and quantiles over
            # 5 minutes need the counters to move between Prometheus's scrapes
            sent = kafkaio.produce_lines(worker.settings, lines, rate=100)
            worker.wait_processed(sent - 1)

            # rules load and are healthy
            loaded = opsstack.rules(prom)
            assert loaded and all(r["health"] in ("ok", "unknown") for r in loaded)
            # the alert annotations read Prometheus's ALERTS series (the reserve rule is pending:
            # it waits 15 minutes before firing) and the opening of portfolio alerts (the
            # reserve alert opened on the stream's second day)
            _eventually(
                lambda: opsstack.query(prom, 'ALERTS{alertname="PortfolioReserveCoverageLow"}'),
                60,
                "the reserve rule in ALERTS",
            )
            opened = dashboards.ANNOTATIONS[1].expr
            _eventually(
                lambda: (
                    "reserve_coverage"
                    in {r["metric"]["kind"] for r in opsstack.query(prom, opened)}
                ),
                30,
                "the reserve alert's opening as an annotation",
            )
            # every recording rule, and every query of every panel of every dashboard, returns
            # data (a number, not NaN) with the variables at "All"
            recorded = [r["name"] for r in loaded if r["type"] == "recording"]
            for expr in recorded:
                _eventually(partial(_numbers, prom, expr), 90, f"data for {expr}")
            panels = [p for uid in dashboards.DASHBOARDS for p in dashboards.panels(uid)]
            assert len(panels) >= 30
            for panel in panels:
                for target in panel["targets"]:
                    expr = substituted(target["expr"])
                    _eventually(
                        partial(_numbers, prom, expr),
                        90,
                        partial(_no_data, prom, expr, panel["title"]),
                    )

            # a borrower alert and a portfolio alert reached Alertmanager (read back through its
            # API) and its webhook receiver
            def held_names() -> set[str]:
                return {a["labels"]["alertname"] for a in opsstack.alertmanager_alerts(am)}

            def notified_names() -> set[str]:
                return {
                    a["labels"]["alertname"] for r in am_receiver.requests for a in r.json["alerts"]
                }

            portfolio_names = set(ALERTNAME.values()) - {"BorrowerDelinquencyRisk"}

            def both(names: set[str]) -> bool:
                return "BorrowerDelinquencyRisk" in names and bool(names & portfolio_names)

            _eventually(
                lambda: both(held_names()),
                60,
                f"both kinds in Alertmanager, which holds {held_names()}",
            )
            _eventually(lambda: both(notified_names()), 60, "both kinds at the receiver")
            held = [
                a
                for a in opsstack.alertmanager_alerts(am)
                if a["labels"]["alertname"] == "BorrowerDelinquencyRisk"
            ]
            assert {"alertname", "severity", "kind", "product", "region"} <= set(held[0]["labels"])
            assert {"summary", "reasons", "action"} <= set(held[0]["annotations"])
            _status_page_in_a_real_browser(worker)
        finally:
            prom.stop()
            am.stop()


def _no_data(prom: opsstack.Service, expr: str, title: str) -> str:
    return f"data for {title!r}: {expr} (returns {opsstack.query(prom, expr)})"


def _numbers(prom: opsstack.Service, expr: str) -> list[float]:
    """The finite values of an instant query."""
    values = [float(r["value"][1]) for r in opsstack.query(prom, expr)]
    return [v for v in values if math.isfinite(v)]


ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _status_page_in_a_real_browser(worker: WorkerProcess) -> None:
    """Headless Chromium renders /status with data; the screenshot is kept as an artefact."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed")
    ARTEFACTS.mkdir(exist_ok=True)
    url = f"http://127.0.0.1:{worker.settings.web_port}/status"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={ARTEFACTS / 'chromium-profile'}",
        "--virtual-time-budget=8000",
    ]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120
    )
    assert 'data-loaded="yes"' in dom.stdout, dom.stderr[-2000:]
    assert "Newest alerts" in dom.stdout
    assert any(f"<td>{action}</td>" in dom.stdout for action in ACTIONS), "alert rows shown"
    shot = ARTEFACTS / "status-page.png"
    subprocess.run(
        [chromium, *flags, "--window-size=1280,1400", f"--screenshot={shot}", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 10_000
