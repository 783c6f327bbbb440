"""A broker restart in the middle of a stream: the worker reconnects and carries on by itself."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from monitor import simulator as sim
from monitor.devtools import localkafka
from monitor.kafka import io as kafkaio
from monitor.settings import Settings
from tests.integration.conftest import WorkerProcess, free_port, worker_env

pytestmark = pytest.mark.reliability


def test_worker_survives_a_broker_restart(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "broker"
    controller = free_port()
    bootstrap = localkafka.start(port=port, controller_port=controller, data_dir=data)
    env = worker_env(bootstrap, "restart", tmp_path / "worker")
    settings = Settings.from_env(env)
    kafkaio.create_topics(settings)
    worker = WorkerProcess(settings, env, log=tmp_path / "worker.log")
    lines = [
        orjson.dumps(e) for e in sim.simulate(sim.SimConfig(accounts=300, days=120, seed=9)).events
    ]
    half = len(lines) // 2
    try:
        worker.start()
        kafkaio.produce_lines(settings, lines[:half])
        worker.wait_processed(half)
        localkafka.stop(port=port, data_dir=data)
        time.sleep(5)  # the worker sees the broker gone
        assert worker.process is not None and worker.process.poll() is None, worker.tail()
        localkafka.start(port=port, controller_port=controller, data_dir=data)
        kafkaio.produce_lines(settings, lines[half:])
        worker.wait_processed(len(lines), timeout=240)
    finally:
        worker.stop()
        localkafka.stop(port=port, data_dir=data)
