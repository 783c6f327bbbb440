"""``monitor demo``: the whole monitor on this machine, watched live from the terminal.

Starts the local broker (unless ``MONITOR_BOOTSTRAP`` names another cluster, or one already runs),
creates fresh topics for this run, starts a worker process, streams a simulated portfolio with a
regional shock into Kafka, prints every alert as it arrives, and ends with a summary scored against
the simulator's truth. Then it stops what it started (the worker, the broker if it started it) and
deletes this run's topics, unless told to keep running; the summary says what still runs.
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

from monitor import simulator as sim
from monitor.core.vocabulary import BORROWER_RISK
from monitor.devtools import localkafka
from monitor.kafka import io as kafkaio
from monitor.kafka.security import client_options
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


def _demo_settings(
    run: str, bootstrap: str, checkpoint: Path | None = None
) -> tuple[Settings, dict[str, str]]:
    """The run's settings; a checkpoint is copied into the run's data folder, so the worker
    starts from it without overwriting it with what it learns."""
    base = Settings.from_env()
    env = {
        "MONITOR_BOOTSTRAP": bootstrap,
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


def worker_health(settings: Settings) -> dict[str, Any]:
    """A worker's ``/health`` as a dict (empty while it does not answer)."""
    url = f"http://{settings.web_host}:{settings.web_port}/health"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            data: dict[str, Any] = orjson.loads(response.read())
            return data
    except OSError:
        return {}


def _line(alert: dict[str, Any]) -> str:
    if alert["kind"] != BORROWER_RISK:
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
    kafka_port: int = 9092,
    kafka_controller_port: int | None = None,
    kafka_data: Path | None = None,
    checkpoint: Path | None = None,
) -> int:
    """Run the demo; returns the exit status. With ``checkpoint`` (or
    ``MONITOR_MODEL_CHECKPOINT``) the worker starts from those models.

    Without ``MONITOR_BOOTSTRAP`` the demo uses the local broker on ``kafka_port`` (its
    controller port and data folder as :func:`monitor.devtools.localkafka.start` takes them),
    starting it if none answers there. At the end it stops the worker, deletes this run's topics
    and stops the broker if it started it; with ``keep_running`` it leaves all of them running (the
    worker until Ctrl-C) and says how to stop the broker.
    """
    source = _checkpoint_source(checkpoint)
    broker = _Broker(kafka_port, kafka_controller_port, kafka_data)
    bootstrap = os.environ.get("MONITOR_BOOTSTRAP") or broker.ensure()
    run = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(2).hex()}"  # two demos never share
    settings, env = _demo_settings(run, bootstrap, source)
    if source is not None:
        print(f"the worker starts from the models in {source} (a copy: the file is not changed)")
    worker: subprocess.Popen[bytes] | None = None
    cleaned: list[bool] = []

    def clean_up() -> None:
        """Stop the worker, delete this run's topics, stop the broker if the demo started it."""
        if worker is not None:
            _stop(worker)
        if not cleaned:
            cleaned.append(True)
            _delete_topics(settings, run)
            broker.stop()

    try:
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
        alerts = _follow_alerts(settings, worker, producer, sent)
        health = worker_health(settings)
        if not keep_running:
            _stop(worker)
        if not health:
            print(f"the worker stopped early; its log: {log_path}", file=sys.stderr)
            return 1
        _summary(simulation.scenario, len(lines), sent, alerts, truth, health)
        if keep_running:
            try:
                print(
                    f"still running: the worker (metrics at http://{settings.web_host}:"
                    f"{settings.web_port}/metrics; Ctrl-C stops it) and "
                    + broker.still_running(bootstrap),
                    flush=True,
                )
                worker.wait()
            except KeyboardInterrupt:
                _stop(worker)
        else:
            left = broker.left(bootstrap)
            clean_up()
            print(f"stopped: the worker; this run's topics are deleted; {left}")
        return 0
    finally:
        if keep_running:
            if worker is not None:
                _stop(worker)
        else:
            clean_up()  # also after Ctrl-C or an error


class _Broker:
    """The local broker of the demo: whether it was already running, and stopping it if not."""

    def __init__(self, port: int, controller_port: int | None, data: Path | None) -> None:
        self.port, self.controller_port, self.data = port, controller_port, data
        self.started = False

    def ensure(self) -> str:
        """The local broker's address, starting it if none answers on the port."""
        if localkafka.broker_answers(self.port):
            return localkafka.bootstrap_address(self.port)
        print("starting the local Kafka broker (first run downloads it with Maven) ...")
        address = localkafka.start(
            port=self.port, controller_port=self.controller_port, data_dir=self.data
        )
        self.started = True
        return address

    def stop(self) -> None:
        if self.started:
            localkafka.stop(port=self.port, data_dir=self.data)
            self.started = False

    def left(self, bootstrap: str) -> str:
        """What the end of the demo does to the broker, in words."""
        if self.started:
            return f"the Kafka broker it started at {bootstrap} is stopped."
        return f"the Kafka broker at {bootstrap} was running before the demo and stays up."

    def still_running(self, bootstrap: str) -> str:
        """The broker that stays up with ``--keep-running``, and how to stop it."""
        if self.started:
            return (
                f"the Kafka broker the demo started at {bootstrap} (it stays up after the worker; "
                f"`monitor kafka stop{_port_flag(self.port)}` stops it)."
            )
        return f"the Kafka broker at {bootstrap}, as before the demo."


def _port_flag(port: int) -> str:
    return "" if port == 9092 else f" --port {port}"


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _delete_topics(settings: Settings, run: str) -> None:
    """This run's topics and its worker's changelogs (left behind they pile up in the broker)."""
    try:
        kafkaio.delete_topics(settings, f"demo-{run}-")
        kafkaio.delete_topics(settings, f"{settings.app_id}-")
    except Exception as exc:  # the broker may be gone: the summary is what matters
        print(f"could not delete this run's topics: {exc}", file=sys.stderr)


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
            caught_up = sent and worker_health(settings).get("processed", -1) >= sent[0]
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
    portfolio = [a for a in alerts if a["kind"] != BORROWER_RISK and a["status"] == "firing"]
    alerts = [a for a in alerts if a["kind"] == BORROWER_RISK]
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
