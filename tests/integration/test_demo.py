"""``monitor demo`` stops what it started: the worker, this run's topics and the broker if the
demo started it; a broker that was running before stays up.

Each test runs the demo on a small portfolio against a broker of its own on free ports (never
the shared one on 9092, which these tests must not stop).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypedDict

import pytest

from monitor.devtools import localkafka
from monitor.devtools.demo import run_demo
from monitor.kafka import io as kafkaio
from monitor.settings import Settings
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration


class OwnBroker(TypedDict):
    """Ports and data folder of a broker of the test's own (``run_demo``'s arguments)."""

    kafka_port: int
    kafka_controller_port: int
    kafka_data: Path


@pytest.fixture
def own_broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OwnBroker]:
    """Ports and data folder of a broker for one test (stopped at the end whatever happens)."""
    where: OwnBroker = {
        "kafka_port": free_port(),
        "kafka_controller_port": free_port(),
        "kafka_data": tmp_path / "broker",
    }
    monkeypatch.delenv("MONITOR_BOOTSTRAP", raising=False)
    monkeypatch.setenv("MONITOR_WEB_PORT", str(free_port()))
    monkeypatch.setenv("MONITOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MONITOR_PARTITIONS", "1")
    try:
        yield where
    finally:
        localkafka.stop(port=where["kafka_port"], data_dir=where["kafka_data"])


def _demo(where: OwnBroker) -> int:
    return run_demo(accounts=150, days=60, seed=3, scenario="baseline", keep_running=False, **where)


def test_the_demo_stops_the_broker_it_started(
    own_broker: OwnBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    port = own_broker["kafka_port"]
    assert not localkafka.broker_answers(port)
    assert _demo(own_broker) == 0
    out = capsys.readouterr().out
    assert "=== summary ===" in out
    assert f"the Kafka broker it started at 127.0.0.1:{port} is stopped" in out
    assert not localkafka.broker_answers(port)
    assert not localkafka.is_listening(port)


def test_the_demo_leaves_a_broker_that_was_running_and_deletes_its_topics(
    own_broker: OwnBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    port = own_broker["kafka_port"]
    bootstrap = localkafka.start(
        port=port,
        controller_port=own_broker["kafka_controller_port"],
        data_dir=own_broker["kafka_data"],
    )
    settings = Settings(bootstrap=bootstrap)
    with kafkaio.admin(settings) as client:
        before = set(client.list_topics())
    assert _demo(own_broker) == 0
    out, err = capsys.readouterr()
    assert "could not delete" not in err, err
    assert f"the Kafka broker at {bootstrap} was running before the demo and stays up" in out
    assert localkafka.broker_answers(port)
    deadline = time.monotonic() + 20  # a deletion reaches the metadata a moment later
    while True:
        with kafkaio.admin(settings) as client:
            left = {t for t in client.list_topics() if "demo" in t} - before
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not left, f"the demo left its topics behind: {left}"


def _sigint_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_with_keep_running_the_summary_says_what_still_runs_and_how_to_stop_it(
    own_broker: OwnBroker,
) -> None:
    port = own_broker["kafka_port"]
    call = (
        "from pathlib import Path; from monitor.devtools.demo import run_demo; "
        "raise SystemExit(run_demo(accounts=150, days=60, seed=3, scenario='baseline', "
        f"keep_running=True, kafka_port={port}, "
        f"kafka_controller_port={own_broker['kafka_controller_port']}, "
        f"kafka_data=Path({str(own_broker['kafka_data'])!r})))"
    )
    demo = subprocess.Popen(
        [sys.executable, "-c", call],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # Ctrl-C as in a terminal, also when this suite runs in the background (a shell's
        # background job ignores SIGINT, and its children inherit that)
        preexec_fn=_sigint_as_in_a_terminal,
    )
    assert demo.stdout is not None
    seen = []
    for line in demo.stdout:  # until the summary's last line
        seen.append(line)
        if line.startswith("still running:"):
            break
    else:
        raise AssertionError("".join(seen))
    assert f"the Kafka broker the demo started at 127.0.0.1:{port}" in line
    assert f"`monitor kafka stop --port {port}` stops it" in line
    assert "Ctrl-C stops it" in line
    demo.send_signal(signal.SIGINT)  # Ctrl-C: the worker stops, the broker stays as said
    assert demo.wait(timeout=60) == 0, demo.stdout.read()
    assert localkafka.broker_answers(port)
