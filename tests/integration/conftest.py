"""Fixtures for tests on the real local Kafka broker and a real worker process."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from monitor.bench.procs import free_port
from monitor.devtools import localkafka
from monitor.devtools.demo import worker_health
from monitor.kafka import io as kafkaio
from monitor.settings import Settings


@pytest.fixture(scope="session")
def bootstrap() -> str:
    """The broker: ``MONITOR_BOOTSTRAP`` if set, else the local KRaft broker (started if needed)."""
    if "MONITOR_BOOTSTRAP" in os.environ:
        address = os.environ["MONITOR_BOOTSTRAP"]
        kafkaio.check_reachable(address)
        return address
    return localkafka.start()


def worker_env(
    bootstrap: str, app_id: str, data_dir: Path, partitions: int = 1, **extra: str
) -> dict[str, str]:
    """A worker's environment: its broker, app id and partitions, a free web port, its data
    folder, warnings only in its log (``MONITOR_TEST_WORKER_LOG_LEVEL`` sets another level);
    ``extra`` (``MONITOR_...`` names) on top."""
    return {
        "MONITOR_BOOTSTRAP": bootstrap,
        "MONITOR_APP_ID": app_id,
        "MONITOR_PARTITIONS": str(partitions),
        "MONITOR_WEB_PORT": str(free_port()),
        "MONITOR_DATA_DIR": str(data_dir),
        "MONITOR_LOG_LEVEL": os.environ.get("MONITOR_TEST_WORKER_LOG_LEVEL", "warning"),
        **extra,
    }


@dataclass
class WorkerProcess:
    """A ``monitor worker`` subprocess with its own topics, app id and web port."""

    settings: Settings
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as handle:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "monitor", "worker"],
                env={**os.environ, **self.env},
                stdout=handle,
                stderr=subprocess.STDOUT,
            )

    def health(self) -> dict[str, Any]:
        return worker_health(self.settings)

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.settings.web_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text: str = response.read().decode()
            return text

    def wait_processed(self, count: int, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited early:\n{self.tail()}")
            if self.health().get("processed", -1) >= count:
                return
            time.sleep(0.5)
        raise AssertionError(f"worker processed {self.health()} of {count}:\n{self.tail()}")

    def wait_committed(self, timeout: float = 240.0) -> None:
        """Until the worker's group has committed all its input; fails if the worker exits."""
        deadline = time.monotonic() + timeout
        while True:
            rows = kafkaio.consumer_lag(self.settings)
            if rows and all(end == committed for _, _, committed, end in rows):
                return
            assert self.process is not None and self.process.poll() is None, self.tail()
            assert time.monotonic() < deadline, f"lag {rows} {self.health()}\n{self.tail()}"
            time.sleep(1)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


#: makes a worker on fresh topics: ``worker_factory(partitions=1, MONITOR_SETTING=value, ...)``
WorkerFactory = Callable[..., WorkerProcess]


@pytest.fixture
def worker_factory(bootstrap: str, tmp_path: Path) -> Iterator[WorkerFactory]:
    """Make workers on fresh topics; every worker is stopped at the end of the test."""
    made: list[WorkerProcess] = []

    def make(partitions: int = 1, **extra: str) -> WorkerProcess:
        run = uuid.uuid4().hex[:8]
        env = worker_env(
            bootstrap,
            f"it-{run}",
            tmp_path / f"data-{run}",
            partitions,
            MONITOR_INPUT_TOPIC=f"it-{run}-events",
            MONITOR_ALERTS_TOPIC=f"it-{run}-alerts",
            MONITOR_DEAD_LETTER_TOPIC=f"it-{run}-dlq",
            MONITOR_RISK_TOPIC=f"it-{run}-risk",
            **extra,
        )
        worker = WorkerProcess(Settings.from_env(env), env, log=tmp_path / f"worker-{run}.log")
        kafkaio.create_topics(worker.settings)
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.stop()
    # each run's topics (Faust's changelogs too) go with it: left behind they pile up in the
    # broker's data folder, and a broker with thousands of partitions starts slowly
    for app_id, settings in {w.settings.app_id: w.settings for w in made}.items():
        with contextlib.suppress(Exception):  # a test that stopped the broker keeps its topics
            kafkaio.delete_topics(settings, app_id)
