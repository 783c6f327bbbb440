"""``monitor demo``: the whole monitor on this machine, watched live from the terminal.

Starts the local broker (unless ``MONITOR_BOOTSTRAP`` names another cluster), creates fresh topics
for this run, starts a worker process, streams a simulated portfolio with a regional shock into
Kafka, prints every alert as it arrives, and ends with a summary scored against the simulator's
truth.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from monitor import kafkaio, localkafka
from monitor import simulator as sim
from monitor.kafkasecurity import client_options
from monitor.settings import Settings, SettingsError

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.consumer import KafkaConsumer

_QUIET_S = 8.0


def _checkpoint_source(checkpoint: Path | None) -> Path | None:
    """The checkpoint the demo's worker starts from (``--checkpoint``, else
    ``MONITOR_MODEL_CHECKPOINT``), checked before anything starts; None for a cold start."""
    from monitor.checkpoint import load_models

    variable = Settings.from_env().model_checkpoint
    source = checkpoint or (Path(variable) if variable else None)
    if source is None:
        return None
    if not source.is_file():
        raise SettingsError(f"no model checkpoint at {source}: check the path or train one.")
    load_models(source)  # another format or feature set is refused here, in one sentence
    return source


def _demo_settings(run: str, checkpoint: Path | None = None) -> tuple[Settings, dict[str, str]]:
    """The run's settings; a checkpoint is copied into the run's data folder, so the worker
    starts from it without overwriting it with what it learns."""
    base = Settings.from_env()
    env = {
        "MONITOR_BOOTSTRAP": base.bootstrap,
        "MONITOR_APP_ID": f"monitor-demo-{run}",
        "MONITOR_INPUT_TOPIC": f"demo-{run}-repayment-events",
        "MONITOR_ALERTS_TOPIC": f"demo-{run}-alerts",
        "MONITOR_DEAD_LETTER_TOPIC": f"demo-{run}-dlq",
        "MONITOR_RISK_TOPIC": f"demo-{run}-risk",
        # two partitions unless told: each keeps its own portfolio book, and a small simulated
        # portfolio split four ways leaves segments too small to watch
        "MONITOR_PARTITIONS": os.environ.get("MONITOR_PARTITIONS", "2"),
        "MONITOR_DATA_DIR": str(Path(base.data_dir) / f"demo-{run}"),
        "MONITOR_WEB_PORT": str(base.web_port),
    }
    if checkpoint is not None:
        copy = Path(env["MONITOR_DATA_DIR"]) / "models.ckpt"
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(checkpoint, copy)
        env["MONITOR_MODEL_CHECKPOINT"] = str(copy)
    else:  # a variable naming no checkpoint would otherwise be written to by the demo
        env["MONITOR_MODEL_CHECKPOINT"] = ""
    return Settings.from_env({**os.environ, **env}), env


def _health(settings: Settings) -> dict[str, Any]:
    url = f"http://{settings.web_host}:{settings.web_port}/health"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            data: dict[str, Any] = orjson.loads(response.read())
            return data
    except OSError:
        return {}


def _line(alert: dict[str, Any]) -> str:
    if alert["kind"] != "borrower_risk":
        return (
            f"{alert['event_time'][:10]}  {alert['status']:<8} PORTFOLIO  "
            f"{alert['kind']:<16} {alert['summary']}"
        )
    reason = alert["reasons"][0] if alert["reasons"] else ""
    return (
        f"{alert['event_time'][:10]}  {alert['status']:<8} {alert['account_id']:<10} "
        f"{alert['product']:<10} p={alert['probability']:.2f} {alert['risk_tier']:<8} "
        f"{alert['action']:<18} {reason}"
    )


def run_demo(
    accounts: int,
    days: int,
    seed: int,
    scenario: str,
    keep_running: bool,
    checkpoint: Path | None = None,
) -> int:
    """Run the demo; returns the exit status. With ``checkpoint`` (or
    ``MONITOR_MODEL_CHECKPOINT``) the worker starts from those models."""
    source = _checkpoint_source(checkpoint)
    if "MONITOR_BOOTSTRAP" not in os.environ:
        print("starting the local Kafka broker (first run downloads it with Maven) ...")
        localkafka.start()
    run = time.strftime("%Y%m%d-%H%M%S")
    settings, env = _demo_settings(run, source)
    if source is not None:
        print(f"the worker starts from the models in {source} (a copy: the file is not changed)")
    kafkaio.create_topics(settings)
    print(f"simulating {accounts} accounts over {days} days ({scenario}, seed {seed}) ...")
    simulation = sim.simulate(
        sim.SimConfig(accounts=accounts, days=days, seed=seed, scenario=scenario)
    )
    truth = {row.account_id: row for row in simulation.truth}
    log_path = Path(settings.data_dir) / "worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "monitor", "worker"],
            env={**os.environ, **env},
            stdout=log,
            stderr=log,
        )
    print(
        f"worker started (log: {log_path}); metrics at "
        f"http://{settings.web_host}:{settings.web_port}/metrics"
    )
    lines = [orjson.dumps(e) for e in simulation.events]
    sent: list[int] = []
    producer = threading.Thread(
        target=lambda: sent.append(kafkaio.produce_lines(settings, lines)), daemon=True
    )
    producer.start()
    alerts: list[dict[str, Any]] = []
    health: dict[str, Any] = {}
    try:
        alerts = _follow_alerts(settings, worker, producer, sent)
        health = _health(settings)
    finally:
        if not keep_running:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
    if not health:
        print(f"the worker stopped early; its log: {log_path}", file=sys.stderr)
        return 1
    _summary(simulation.scenario, len(lines), sent, alerts, truth, health)
    if keep_running:
        print("worker still running; Ctrl-C to stop it")
        try:
            worker.wait()
        except KeyboardInterrupt:
            worker.terminate()
    return 0


def _follow_alerts(
    settings: Settings, worker: subprocess.Popen[bytes], producer: threading.Thread, sent: list[int]
) -> list[dict[str, Any]]:
    consumer = KafkaConsumer(
        settings.alerts_topic,
        bootstrap_servers=settings.bootstrap,
        **client_options(settings),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
    )
    alerts: list[dict[str, Any]] = []
    quiet_since = time.monotonic()
    try:
        while worker.poll() is None:
            got = False
            for message in consumer:
                alert = orjson.loads(message.value)
                alerts.append(alert)
                print(_line(alert), flush=True)
                got = True
            if got:
                quiet_since = time.monotonic()
            caught_up = sent and _health(settings).get("processed", -1) >= sent[0]
            if not producer.is_alive() and caught_up and time.monotonic() - quiet_since > 2:
                break
            if not producer.is_alive() and time.monotonic() - quiet_since > 10 * _QUIET_S:
                print("the worker stopped making progress; see its log", file=sys.stderr)
                break
    finally:
        consumer.close()
    if worker.poll() is not None:
        print(f"the worker exited with status {worker.returncode}; see its log", file=sys.stderr)
    return alerts


def _summary(
    scenario: dict[str, Any],
    events: int,
    sent: list[int],
    alerts: list[dict[str, Any]],
    truth: dict[str, sim.TruthRow],
    health: dict[str, Any],
) -> None:
    portfolio = [a for a in alerts if a["kind"] != "borrower_risk" and a["status"] == "firing"]
    alerts = [a for a in alerts if a["kind"] == "borrower_risk"]
    firing = [a for a in alerts if a["status"] == "firing"]
    alerted = {a["account_id"] for a in firing}
    delinquent = {acc for acc, row in truth.items() if row.label}
    caught = alerted & delinquent
    actions = Counter(a["action"] for a in firing)
    print("\n=== summary ===")
    print(
        f"scenario        {scenario.get('name')} (shock: {scenario.get('shock_region')} "
        f"from {scenario.get('shock_start')})"
    )
    print(
        f"events          {events} simulated, {sent[0] if sent else 0} messages sent, "
        f"{health.get('processed', '?')} processed"
    )
    print(f"alerts          {len(firing)} raised, {len(alerts) - len(firing)} cleared")
    print(
        f"truth           {len(delinquent)} accounts reached 30+ days past due; "
        f"{len(caught)} of them alerted ({len(caught) / max(len(delinquent), 1):.0%})"
    )
    print(
        f"precision       {len(caught) / max(len(alerted), 1):.0%} of alerted accounts "
        "reached 30+ days past due within the simulation"
    )
    print("actions         " + ", ".join(f"{k} {v}" for k, v in actions.most_common()))
    print(
        f"portfolio       {len(portfolio)} alerts: "
        + "; ".join(f"{a['kind']} {a['segment']} on {a['event_time'][:10]}" for a in portfolio)
    )
    print(
        f"model           {health.get('model_version', '?')}, "
        f"{health.get('labels_learned', '?')} outcomes learned"
    )
