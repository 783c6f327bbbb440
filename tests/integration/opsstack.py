"""Prometheus and Alertmanager from Debian's packages, started on 127.0.0.1 for a test."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _wait_up(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url} exited:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not come up:\n{log.read_text()[-3000:]}")


@dataclass
class Service:
    """A started server process with its base URL."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _serve(log: Path, port: int, *command: str) -> Service:
    """Start ``command`` listening on ``port`` (both servers take ``--web.listen-address``),
    output to ``log``, and wait until it says it is ready."""
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*command, f"--web.listen-address=127.0.0.1:{port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    _wait_up(f"{url}/-/ready", process, log)
    return Service(url, process, log)


def start_alertmanager(tmp: Path, port: int, cluster_port: int, webhook_url: str) -> Service:
    """Alertmanager routing everything to ``webhook_url`` after a one-second group wait."""
    config = tmp / "alertmanager.yml"
    config.write_text(f"""
route:
  receiver: test-webhook
  group_by: [alertname, kind, product, region]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test-webhook
    webhook_configs:
      - url: {webhook_url}
        send_resolved: true
""")
    binary = shutil.which("prometheus-alertmanager") or "alertmanager"
    return _serve(
        tmp / "alertmanager.log",
        port,
        binary,
        f"--config.file={config}",
        f"--storage.path={tmp / 'am-data'}",
        f"--cluster.listen-address=127.0.0.1:{cluster_port}",
    )


def start_prometheus(tmp: Path, port: int, target: str, alertmanager: str) -> Service:
    """Prometheus scraping ``target`` every second with the project's rules."""
    config = tmp / "prometheus.yml"
    rules = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(r) for r in rules],
                "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
                "scrape_configs": [
                    {"job_name": "monitor", "static_configs": [{"targets": [target]}]}
                ],
            }
        )
    )
    return _serve(
        tmp / "prometheus.log",
        port,
        "prometheus",
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp / 'prom-data'}",
    )


def query(prometheus: Service, expr: str) -> list[dict[str, Any]]:
    """Result vector of an instant query."""
    url = f"{prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    data = _get(url)
    assert data["status"] == "success", data
    result: list[dict[str, Any]] = data["data"]["result"]
    return result


def rules(prometheus: Service) -> list[dict[str, Any]]:
    """Every loaded rule with its health."""
    data = _get(f"{prometheus.url}/api/v1/rules")
    return [r for group in data["data"]["groups"] for r in group["rules"]]


def alertmanager_alerts(alertmanager: Service) -> list[dict[str, Any]]:
    """Alerts Alertmanager holds now."""
    alerts: list[dict[str, Any]] = _get(f"{alertmanager.url}/api/v2/alerts")
    return alerts
