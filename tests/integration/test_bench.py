"""``monitor bench`` end to end on the real broker, at a small size."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.kafka import io as kafkaio
from monitor.settings import Settings


@contextlib.contextmanager
def _port_6066_taken() -> Iterator[None]:
    """Faust's default web port held, as a worker or a demo running beside the bench holds it."""
    holder = socket.socket()
    # connections to 6066 left in TIME_WAIT (a demo or worker a moment ago) must not stop the
    # holder from taking the port, as they would not stop a worker
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        with contextlib.suppress(OSError):  # held already (a worker, a demo): taken all the same
            holder.bind(("127.0.0.1", 6066))
            holder.listen()
        with pytest.raises(OSError), socket.create_server(("127.0.0.1", 6066)):
            pass  # 6066 is taken
        yield
    finally:
        holder.close()


@pytest.mark.parametrize(
    "workers",
    # a second run with two workers only adds the scaling figure: on demand
    ["1", pytest.param("1,2", marks=pytest.mark.slow)],
)
def test_bench_reports_every_figure_it_promises(
    bootstrap: str, tmp_path: Path, workers: str
) -> None:
    """The whole bench at a small size, with Faust's default port 6066 taken: its empty-agent
    references serve no web pages, so a worker (or anything else) there does not stop it."""
    report = tmp_path / "bench.json"
    with _port_6066_taken():
        run = subprocess.run(
            [
                *(sys.executable, "-m", "monitor", "bench", "--events", "4000"),
                *("--accounts", "400", "--workers", workers, "--live-seconds", "8"),
                *("--report", str(report)),
            ],
            env={**os.environ, "MONITOR_BOOTSTRAP": bootstrap, "MONITOR_PARTITIONS": "2"},
            capture_output=True,
            text=True,
            timeout=900,
        )
    assert run.returncode == 0, run.stderr[-3000:]
    data = json.loads(report.read_text())
    assert data["events"] >= 4000  # macro indicators go to every partition
    for key in (
        "events_per_s",
        "bare_consumer_events_per_s",
        "empty_agent_events_per_s",
        "lean_empty_agent_events_per_s",
        "empty_agent_cpu_us_per_event",
        "lean_empty_agent_cpu_us_per_event",
    ):
        assert data[key] > 0
    assert data["ratio_to_empty_agent"] == pytest.approx(
        data["events_per_s"] / data["empty_agent_events_per_s"], rel=0.01
    )
    # the latency is measured at half the lower of the whole pre-load's and its last quarter's
    late = data["late_events_per_s"] or data["events_per_s"]
    assert data["offered_events_per_s"] == round(min(data["events_per_s"], late) / 2)
    latency = data["latency_ms"]
    assert data["latency_alerts"] > 0
    assert data["latency_clock"] == "broker append time"
    assert 0 < latency["p50"] <= latency["p99"] <= latency["p999"]
    assert data["peak_rss_mb"] > 50
    # the worker's CPU time and bytes written over its last quarter of the pre-load, per event:
    # each event writes at least its account's state to the changelog
    assert 0 < data["cpu_us_per_event"] < 1_000_000
    assert 100 < data["bytes_out_per_event"] < 50_000
    assert data["state_accounts"] == 400
    assert 200 < data["state_bytes_per_account"] < 20_000
    counts = [int(count) for count in workers.split(",")]
    assert [s["workers"] for s in data["scaling"]] == counts and data["workers"] == 1
    assert ("scale_ratio" in data) == (len(counts) > 1)
    assert "events per second (empty Faust agent)" in run.stdout  # the printed table
    # the bench leaves no topic of its own behind

    with kafkaio.admin(Settings(bootstrap=bootstrap)) as client:
        assert not [t for t in client.list_topics() if t.startswith(data["run"])]
