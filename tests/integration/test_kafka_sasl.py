"""Kafka with SASL: the worker and the CLI log in with the configured credentials, and with wrong
ones the CLI stops with one sentence.

The test starts its own broker on free ports with a SASL_PLAINTEXT listener (mechanism PLAIN,
users in the listener's JAAS config) next to the PLAINTEXT one that the readiness probe uses;
the monitor is only given the SASL listener.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from monitor import simulator as sim
from monitor.devtools import localkafka
from monitor.kafka import io as kafkaio
from monitor.settings import Settings
from tests.integration.conftest import WorkerProcess, free_port, worker_env
from tests.support.kafka import consume_all

PASSWORD = "monitor-pa55"


@pytest.fixture(scope="module")
def sasl_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port, controller, sasl = free_port(), free_port(), free_port()
    data = tmp_path_factory.mktemp("sasl-broker")
    jaas = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        'username="admin" password="admin-pw" user_admin="admin-pw" '
        f'user_monitor="{PASSWORD}";'
    )
    extra = {
        "listeners": f"PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:{sasl},"
        f"CONTROLLER://127.0.0.1:{controller}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:{sasl}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,"
        "CONTROLLER:PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas,
    }
    localkafka.start(port=port, controller_port=controller, data_dir=data, extra_properties=extra)
    try:
        yield f"127.0.0.1:{sasl}"
    finally:
        localkafka.stop(port=port, data_dir=data)


def _env(bootstrap: str, password: str, tmp_path: Path) -> dict[str, str]:
    return worker_env(
        bootstrap,
        "sasl-it",
        tmp_path / "worker",
        MONITOR_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        MONITOR_KAFKA_SASL_MECHANISM="PLAIN",
        MONITOR_KAFKA_SASL_USERNAME="monitor",
        MONITOR_KAFKA_SASL_PASSWORD=password,
    )


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_worker_and_cli_log_in_with_sasl(sasl_bootstrap: str, tmp_path: Path) -> None:
    env = _env(sasl_bootstrap, PASSWORD, tmp_path)
    out, err = _cli("topics", "create", env=env).communicate(timeout=120)
    assert "created: repayment-events" in out, err
    settings = Settings.from_env(env)
    lines = [
        orjson.dumps(e) for e in sim.simulate(sim.SimConfig(accounts=100, days=90, seed=5)).events
    ]
    worker = WorkerProcess(settings, env, log=tmp_path / "worker.log")
    try:
        worker.start()
        assert kafkaio.produce_lines(settings, lines) == len(lines)
        worker.wait_processed(len(lines), timeout=180)
        risk = consume_all(settings, settings.risk_topic)
        assert risk, "the worker wrote to the risk topic over SASL"
    finally:
        worker.stop()
    out, err = _cli("lag", env=env).communicate(timeout=120)
    assert "total lag 0" in out, err
    assert PASSWORD not in worker.log.read_text() + out + err


def test_wrong_password_is_one_sentence(sasl_bootstrap: str, tmp_path: Path) -> None:
    env = _env(sasl_bootstrap, "not-the-password", tmp_path)
    # both at once: each waits for kafka-python's bootstrap timeout
    runs = [_cli("topics", "create", env=env), _cli("worker", env=env)]
    for run in runs:
        out, err = run.communicate(timeout=180)
        assert run.returncode == 2, (out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith(
            f"monitor: Kafka at {sasl_bootstrap} answers but did not let the monitor in"
        ), err
        # the broker sometimes closes the connection before the client reads its reason
        assert (
            "(Authentication failed: Invalid username or password)" in lines[0]
            or "(the connection closed or timed out while logging in)" in lines[0]
        ), err
        assert "MONITOR_KAFKA_SASL_" in lines[0] and "not-the-password" not in err
