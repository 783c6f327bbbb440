"""One bench run: load, references, the worker(s), latency, memory and state size."""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from monitor.bench.bare import bare_consumer_rate
from monitor.bench.data import make_data
from monitor.bench.latency import (
    AlertReader,
    keep_append_time,
    latencies_ms,
    offer,
    percentile,
)
from monitor.bench.procs import Process, free_port
from monitor.kafka import io as kafkaio
from monitor.kafka.security import client_options
from monitor.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.consumer import KafkaConsumer
    from kafka.structs import TopicPartition

POLL_S = 0.2
#: How long the bench waits for a worker's /api/state-size (s).
STATE_SIZE_TIMEOUT_S = 300.0
#: The late rate is timed over this last share of the pre-load ...
LATE_SHARE = 0.25
#: ... if that took at least this long (s); else the whole pre-load's rate is the reference.
LATE_MIN_S = 2.0


def run_bench(
    base: Settings,
    workdir: Path,
    events: int = 1_000_000,
    accounts: int = 100_000,
    workers: Sequence[int] = (1,),
    live_seconds: float = 60.0,
    timeout_s: float = 3600.0,
    keep_topics: bool = False,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Measure the monitor against its references on one freshly loaded topic; return the report."""
    kafkaio.check_reachable(base.bootstrap)
    run = f"bench-{uuid.uuid4().hex[:8]}"
    workdir.mkdir(parents=True, exist_ok=True)
    live = min(events, max(1000, int(live_seconds * 10_000)))
    say(f"simulating {accounts} accounts for {events} + {live} events ...")
    data = make_data(events, accounts, live)
    topic_settings = base.for_app(run, input_topic=f"{run}-events")
    created = kafkaio.create_topics(_topics_of(topic_settings, run))
    report: dict[str, Any] = {"run": run, "partitions": base.partitions, "accounts": accounts}
    try:
        started = time.monotonic()
        messages = kafkaio.produce_lines(topic_settings, data.preload)
        load_s = time.monotonic() - started
        report.update(events=messages, load_events_per_s=round(messages / load_s))
        say(f"loaded {messages} messages in {load_s:.1f} s")

        bare = bare_consumer_rate(topic_settings, topic_settings.input_topic, messages, timeout_s)
        report["bare_consumer_events_per_s"] = round(bare)
        say(f"bare consumer: {bare:,.0f} events/s")
        empty, empty_cpu = _empty_agent(topic_settings, run, workdir, messages, timeout_s)
        report["empty_agent_events_per_s"] = round(empty)
        report["empty_agent_cpu_us_per_event"] = round(empty_cpu, 1)
        say(f"empty Faust agent: {empty:,.0f} events/s, {empty_cpu:,.1f} us of CPU per event")
        lean, lean_cpu = _empty_agent(topic_settings, run, workdir, messages, timeout_s, True)
        report["lean_empty_agent_events_per_s"] = round(lean)
        report["lean_empty_agent_cpu_us_per_event"] = round(lean_cpu, 1)
        say(f"empty Faust agent as the worker's LeanApp: {lean:,.0f} events/s, {lean_cpu:,.1f} us")

        scaling = []
        for index, count in enumerate(workers):
            settings = topic_settings.for_app(
                f"{run}-w{count}",
                alerts_topic=f"{run}-w{count}-alerts",
                dead_letter_topic=f"{run}-w{count}-dlq",
                risk_topic=f"{run}-w{count}-risk",
            )
            created += kafkaio.create_topics(settings)
            keep_append_time(settings, settings.alerts_topic)
            procs = _start_workers(settings, workdir, count)
            try:
                figures = _throughput(settings, procs, messages, timeout_s)
                say(f"{count} worker(s): {figures['events_per_s']:,.0f} events/s")
                if index == 0:
                    report.update(figures, workers=count)
                    # half the rate the worker sustained on events like the live ones
                    late = figures["late_events_per_s"] or figures["events_per_s"]
                    rate = min(figures["events_per_s"], late) / 2
                    say(f"offering {rate:,.0f} events/s for up to {live_seconds:.0f} s ...")
                    report.update(_latency(settings, data.live, rate, live_seconds))
                scaling.append({"workers": count, "events_per_s": figures["events_per_s"]})
            finally:
                for proc in procs:
                    proc.stop()
        report["scaling"] = scaling
        if len(scaling) > 1:
            report["scale_ratio"] = round(
                scaling[-1]["events_per_s"] / scaling[0]["events_per_s"], 2
            )
        report["ratio_to_empty_agent"] = round(report["events_per_s"] / empty, 3)
        report["ratio_to_bare_consumer"] = round(report["events_per_s"] / bare, 3)
    finally:
        if not keep_topics:
            kafkaio.delete_topics(base, run)
    return report


def _topics_of(settings: Settings, run: str) -> Settings:
    """Settings naming only bench topics (the alerts and other topics of the input's run)."""
    return replace(
        settings,
        alerts_topic=f"{run}-alerts",
        dead_letter_topic=f"{run}-dlq",
        risk_topic=f"{run}-risk",
    )


def _env(settings: Settings, workdir: Path, web_port: int) -> dict[str, str]:
    return {
        "MONITOR_BOOTSTRAP": settings.bootstrap,
        "MONITOR_APP_ID": settings.app_id,
        "MONITOR_INPUT_TOPIC": settings.input_topic,
        "MONITOR_ALERTS_TOPIC": settings.alerts_topic,
        "MONITOR_DEAD_LETTER_TOPIC": settings.dead_letter_topic,
        "MONITOR_RISK_TOPIC": settings.risk_topic,
        "MONITOR_OUTCOMES_TOPIC": settings.outcomes_topic,
        "MONITOR_PARTIALS_TOPIC": settings.partials_topic,
        "MONITOR_MODELS_TOPIC": settings.models_topic,
        "MONITOR_PARTITIONS": str(settings.partitions),
        "MONITOR_STORE": settings.store,
        "MONITOR_WEB_PORT": str(web_port),
        "MONITOR_DATA_DIR": str(workdir / f"data-{settings.app_id}-{web_port}"),
        "MONITOR_LOG_LEVEL": "warning",
        "MONITOR_WEBHOOK_URLS": "",
        "MONITOR_ALERTMANAGER_URL": "",
    }


def _empty_agent(
    settings: Settings,
    run: str,
    workdir: Path,
    messages: int,
    timeout_s: float,
    lean: bool = False,
) -> tuple[float, float]:
    """Events per second and CPU us per event of an empty Faust agent reading the whole topic
    (a :class:`~monitor.worker.faustcompat.LeanApp` with ``lean``)."""
    name = f"{run}-empty{'-lean' if lean else ''}"
    out = workdir / f"{name}.json"
    env = _env(settings.for_app(name), workdir, free_port())
    args = ["monitor.bench.empty_agent", str(messages), str(out), *(["--lean"] if lean else [])]
    proc = Process(args, env, workdir / f"{name}.log")
    proc.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not out.exists():
            if not proc.alive():
                raise RuntimeError(f"the empty Faust agent exited early:\n{proc.tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError("the empty Faust agent did not finish in time")
            time.sleep(POLL_S)
        result = orjson.loads(out.read_bytes())
    finally:
        proc.stop()
    rate = float(result["count"] / max(result["last"] - result["first"], 1e-9))
    return rate, float(result.get("cpu", 0.0)) / max(int(result["count"]), 1) * 1e6


def _start_workers(settings: Settings, workdir: Path, count: int) -> list[Process]:
    procs = []
    for _ in range(count):
        port = free_port()
        env = _env(settings, workdir, port)
        log = workdir / f"{settings.app_id}-{port}.log"
        procs.append(Process(["monitor", "worker"], env, log, web_port=port))
    for proc in procs:
        proc.start()
    return procs


def _sample(procs: Sequence[Process]) -> tuple[int, float, int]:
    """Events processed, CPU seconds used and bytes written to Kafka, over the workers."""
    done = bytes_out = 0
    cpu = 0.0
    for proc in procs:
        if not proc.alive():
            raise RuntimeError(f"a bench worker exited early:\n{proc.tail()}")
        health = proc.get("/health")
        cpu += proc.cpu_seconds()
        done += int(health.get("processed", 0))
        bytes_out += int(health.get("bytes_out", 0))
    return done, cpu, bytes_out


def _throughput(
    settings: Settings, procs: Sequence[Process], messages: int, timeout_s: float
) -> dict[str, Any]:
    """Events per second from the first event processed to the last alert written."""
    deadline = time.monotonic() + timeout_s
    first = 0.0
    progress: list[tuple[float, int]] = []
    late: tuple[int, float, int] | None = None  # the first sample of the late events
    while (sample := _sample(procs))[0] < messages:
        done = sample[0]
        if done and not first:
            first = time.monotonic() - POLL_S / 2
        if late is None and done >= messages * (1 - LATE_SHARE):
            late = sample
        progress.append((time.monotonic(), done))
        if time.monotonic() > deadline:
            raise TimeoutError(f"the workers processed {done} of {messages} in time")
        time.sleep(POLL_S)
    finished = time.monotonic()
    done = sample[0]
    progress.append((finished, done))
    alerts, last_change = _end_offsets(settings), finished
    while time.monotonic() - last_change < 2.0:  # the last alerts may still be in flight
        time.sleep(POLL_S)
        now = _end_offsets(settings)
        if now != alerts:
            alerts, last_change = now, time.monotonic()
    end = last_change if last_change > finished else finished
    # serialising every account state takes seconds at 100,000 accounts (5 s was too short)
    sizes = [proc.get("/api/state-size", timeout_s=STATE_SIZE_TIMEOUT_S) for proc in procs]
    held = sum(int(s.get("accounts", 0)) for s in sizes)
    # the keeper (in one of the workers): outcomes learnt per CPU second of its own work
    learnt = sum(proc.metric("monitor_learner_outcomes_total") for proc in procs)
    keeper_s = sum(proc.metric("monitor_keeper_cpu_seconds_total") for proc in procs)
    return {
        "learner_outcomes": int(learnt),
        "learner_outcomes_per_cpu_s": round(learnt / keeper_s) if keeper_s else None,
        "events_per_s": round(messages / max(end - first, 1e-9)),
        "late_events_per_s": late_rate(progress, messages),
        **per_event(late, sample),
        "seconds": round(end - first, 1),
        "alerts": alerts,
        "peak_rss_mb": round(max(proc.peak_rss_mb() for proc in procs), 1),
        "state_accounts": held,
        "state_bytes_per_account": round(sum(int(s.get("bytes", 0)) for s in sizes) / max(held, 1)),
    }


def late_rate(progress: Sequence[tuple[float, int]], messages: int) -> int | None:
    """Events per second over the last :data:`LATE_SHARE` of the pre-load, from ``progress``
    ((time, events processed) as polled); None if that stretch was too short to time.

    The early events are cheaper (accounts without history, no outcomes to learn yet), so the
    whole pre-load's rate overstates what the worker can do with events like the live ones.

    >>> late_rate([(0.0, 0), (1.0, 500), (2.0, 750), (4.0, 1000)], 1000)
    125
    >>> late_rate([(0.0, 0), (1.0, 1000)], 1000) is None
    True
    """
    start = next((p for p in progress if p[1] >= messages * (1 - LATE_SHARE)), None)
    end = progress[-1] if progress else None
    if start is None or end is None or end[0] - start[0] < LATE_MIN_S:
        return None
    return round((end[1] - start[1]) / (end[0] - start[0]))


def per_event(
    start: tuple[int, float, int] | None, end: tuple[int, float, int]
) -> dict[str, float | None]:
    """The workers' CPU time (us) and bytes written to Kafka per event between two samples of
    (events processed, CPU seconds, bytes written); None without a start or events between.

    >>> per_event((750, 10.0, 1_000_000), (1000, 10.05, 1_200_000))
    {'cpu_us_per_event': 200.0, 'bytes_out_per_event': 800.0}
    >>> per_event(None, (1000, 10.0, 0))
    {'cpu_us_per_event': None, 'bytes_out_per_event': None}
    """
    events = end[0] - start[0] if start is not None else 0
    if start is None or events <= 0:
        return {"cpu_us_per_event": None, "bytes_out_per_event": None}
    return {
        "cpu_us_per_event": round((end[1] - start[1]) / events * 1e6, 1),
        "bytes_out_per_event": round((end[2] - start[2]) / events, 1),
    }


def _end_offsets(settings: Settings) -> int:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap, group_id=None, **client_options(settings)
    )
    try:
        partitions = consumer.partitions_for_topic(settings.alerts_topic) or set()
        tps = [TopicPartition(settings.alerts_topic, p) for p in partitions]
        return int(sum(consumer.end_offsets(tps).values())) if tps else 0
    finally:
        consumer.close()


def _latency(
    settings: Settings, lines: Sequence[bytes], rate: float, seconds: float
) -> dict[str, Any]:
    reader = AlertReader(settings, settings.alerts_topic)
    reader.start()
    try:
        sent_at, sent = offer(settings, settings.input_topic, lines, rate, seconds)
        time.sleep(3.0)  # the alerts of the last inputs
    finally:
        reader.stop()
    values = latencies_ms(sent_at, reader.arrivals)
    return {
        "offered_events_per_s": round(rate),
        "offered_events": sent,
        "latency_alerts": len(values),
        "latency_clock": "broker append time"
        if reader.appended == len(reader.arrivals)
        else "read time",
        "latency_ms": {
            "p50": round(percentile(values, 0.5), 1),
            "p99": round(percentile(values, 0.99), 1),
            "p999": round(percentile(values, 0.999), 1),
        },
    }
