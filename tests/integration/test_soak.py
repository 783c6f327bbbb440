"""Soak: a worker under a steady input rate for a long time keeps up and keeps its memory flat.

Run on demand (about 30 minutes by default)::

    MONITOR_BOOTSTRAP=127.0.0.1:9092 pytest -m slow tests/integration/test_soak.py -s

``MONITOR_SOAK_SECONDS`` (default 1800) and ``MONITOR_SOAK_RATE`` (events per second, default
300) change the length and the load. The simulated portfolio is replayed lap after lap, each lap a
year later with fresh event, bill and loan ids but the same accounts, so the worker's state stays
the size of the portfolio and any growth of its memory is a leak, not data. Every few seconds the
test samples the worker group's consumer lag (committed offsets against the end of the input
topic) and the worker's resident memory; it prints a table and writes the series to
``test-artifacts/soak.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from monitor import simulator as sim
from monitor.kafka import io as kafkaio

pytestmark = pytest.mark.slow

SECONDS = float(os.environ.get("MONITOR_SOAK_SECONDS", "1800"))
RATE = float(os.environ.get("MONITOR_SOAK_RATE", "300"))
SAMPLE_EVERY_S = 5.0
WARM_UP_S = min(60.0, SECONDS / 6)
MAX_LAG_S = 30.0
"""After warm-up the committed lag never exceeds this many seconds of input."""
MAX_GROWTH = 0.10
"""The median RSS of the last third is at most this much above that of the second third."""
ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "soak.json"

_SHIFTED_TIMES = ("event_time",)
_SHIFTED_DATES = ("due_date", "new_due_date")
_RENAMED = ("event_id", "bill_id", "loan_id")


def laps(events: list[dict[str, Any]], years: int = 1000) -> Iterator[bytes]:
    """The events again and again, each lap 52 weeks later with ids made unique per lap."""
    for lap in range(years):
        shift = dt.timedelta(weeks=52 * lap)
        for event in events:
            out = dict(event)
            if lap:
                for name in _RENAMED:
                    if name in out:
                        out[name] = f"{out[name]}-r{lap}"
                for name in _SHIFTED_TIMES:
                    when = dt.datetime.fromisoformat(out[name].replace("Z", "+00:00")) + shift
                    out[name] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
                for name in _SHIFTED_DATES:
                    if name in out:
                        out[name] = (dt.date.fromisoformat(out[name]) + shift).isoformat()
            yield orjson.dumps(out)


def until(deadline: float, lines: Iterator[bytes]) -> Iterator[bytes]:
    for line in lines:
        if time.monotonic() >= deadline:
            return
        yield line


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB, from ``/proc/<pid>/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def _log_tail(worker: Any, lines: int = 40) -> str:
    """The worker's last log lines without Faust's repeated producer-buffer warnings; the whole
    log is kept as ``test-artifacts/soak-worker.log``."""
    text = worker.log.read_text(errors="replace")
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.with_name("soak-worker.log").write_text(text)
    kept = [line for line in text.splitlines() if "producer buffer full" not in line]
    return "\n".join(kept[-lines:])


@pytest.mark.timeout(SECONDS + 900)
def test_soak_lag_bounded_and_memory_flat(worker_factory: Any) -> None:
    worker = worker_factory(partitions=2)
    events = sim.simulate(sim.SimConfig(accounts=2000, days=364, seed=21)).events
    worker.start()
    assert worker.process is not None
    pid = worker.process.pid
    sent: list[int] = []
    failed: list[BaseException] = []
    started = time.monotonic()
    deadline = started + SECONDS

    def produce() -> None:
        try:
            sent.append(
                kafkaio.produce_lines(worker.settings, until(deadline, laps(events)), rate=RATE)
            )
        except BaseException as exc:  # reported by the test thread
            failed.append(exc)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    samples: list[dict[str, float]] = []
    print(f"\nsoak: {SECONDS:.0f} s at {RATE:.0f} events/s, worker pid {pid}")
    print(f"{'t (s)':>7} {'lag (msgs)':>11} {'lag (s)':>8} {'RSS (MiB)':>10} {'processed':>10}")
    while producer.is_alive() or not samples:
        time.sleep(SAMPLE_EVERY_S)
        code = worker.process.poll()
        assert code is None, f"worker exited with status {code}:\n{_log_tail(worker)}"
        rows = kafkaio.consumer_lag(worker.settings)
        lag = sum(end - committed for _, _, committed, end in rows)
        sample = {
            "t": round(time.monotonic() - started, 1),
            "lag": lag,
            "lag_s": round(lag / RATE, 2),
            "rss_mib": round(rss_mib(pid), 1),
            "processed": worker.health().get("processed", -1),
        }
        samples.append(sample)
        print(
            f"{sample['t']:>7} {sample['lag']:>11} {sample['lag_s']:>8} "
            f"{sample['rss_mib']:>10} {sample['processed']:>10}"
        )
    assert not failed, failed
    total = sent[0]
    # everything sent is consumed and committed soon after the input stops
    drained = time.monotonic() + 120
    while time.monotonic() < drained:
        rows = kafkaio.consumer_lag(worker.settings)
        if sum(end - committed for _, _, committed, end in rows) == 0:
            break
        time.sleep(2)
    final_lag = sum(
        end - committed for _, _, committed, end in kafkaio.consumer_lag(worker.settings)
    )

    steady = [s for s in samples if s["t"] >= WARM_UP_S]
    third = len(samples) // 3
    middle = statistics.median(s["rss_mib"] for s in samples[third : 2 * third])
    last = statistics.median(s["rss_mib"] for s in samples[2 * third :])
    summary = {
        "seconds": SECONDS,
        "rate": RATE,
        "sent": total,
        "achieved_rate": round(total / SECONDS, 1),
        "max_lag_after_warm_up": max(s["lag"] for s in steady),
        "max_lag_s_after_warm_up": max(s["lag_s"] for s in steady),
        "final_lag": final_lag,
        "processed_ok": worker.health().get("processed", -1),
        "rss_mib_first": samples[0]["rss_mib"],
        "rss_mib_median_second_third": round(middle, 1),
        "rss_mib_median_last_third": round(last, 1),
        "rss_growth_last_vs_second_third": round(last / middle - 1, 4),
        "rss_mib_max": max(s["rss_mib"] for s in samples),
    }
    _log_tail(worker)
    ARTIFACT.write_text(json.dumps({"summary": summary, "samples": samples}, indent=1))
    print(json.dumps(summary, indent=1))

    assert total >= 0.9 * RATE * SECONDS, f"the producer fell behind the rate: {summary}"
    assert summary["max_lag_s_after_warm_up"] <= MAX_LAG_S, summary
    assert final_lag == 0, summary
    assert last <= middle * (1 + MAX_GROWTH), summary
