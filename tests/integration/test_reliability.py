"""What production does to a worker: SIGKILL in the middle of a stream, then a restart."""

from __future__ import annotations

import collections
import os
import signal
import time
from typing import Any

import orjson
import pytest

from monitor import simulator as sim
from monitor.kafka import io as kafkaio
from monitor.kafka.io import ConfigResource, ConfigResourceType
from monitor.offline.backtest import replay_lines
from monitor.settings import Settings
from tests.integration.conftest import WorkerFactory, WorkerProcess
from tests.support.kafka import consume_json
from tests.support.receiver import Request, WebhookReceiver

pytestmark = pytest.mark.reliability


def key_of(alert: dict[str, Any]) -> tuple[str, str]:
    return alert["alert_id"], alert["status"]


def alertmanager_keys(requests: list[Request]) -> collections.Counter[tuple[str, str]]:
    """(alert_id, status) of every alert in Alertmanager v2 POSTs (a list of alerts each)."""
    return collections.Counter(
        (a["labels"]["alert_id"], "resolved" if "endsAt" in a else "firing")
        for r in requests
        if r.path == "/api/v2/alerts"
        for a in r.json
    )


@pytest.mark.parametrize("down", [False, True], ids=["receivers-up", "receivers-down-until-crash"])
def test_sigkill_mid_stream_loses_and_repeats_no_alert(
    worker_factory: WorkerFactory, capsys: pytest.CaptureFixture[str], down: bool
) -> None:
    """Every alert the worker produced reaches the webhook and Alertmanager exactly once, across
    a SIGKILL and a restart (the sinks' delivery journals). With ``down``, both receivers answer
    503 until the crash, so the killed worker dies with its alerts queued, their input already
    committed: only the journal knows they are still to be delivered.

    The decisions across the crash are those of an uninterrupted run (the backtest's): account
    state, the portfolio and the learner (its models as the last day closed, and the outcomes
    handed on since) come back from the changelogged tables.
    """
    simulation = sim.simulate(sim.SimConfig(accounts=600, days=150, seed=5, scenario="macro-shock"))
    lines = [orjson.dumps(e) for e in simulation.events]
    expected = {(a["alert_id"], a["status"]) for a in replay_lines(lines).alerts}

    with WebhookReceiver() as receiver, WebhookReceiver() as alertmanager:
        worker = worker_factory(
            partitions=1,
            MONITOR_WEBHOOK_URLS=receiver.url,
            MONITOR_ALERTMANAGER_URL=alertmanager.base_url,
            MONITOR_ALERTMANAGER_RESEND_S="3600",  # keep-alive re-sends are not deliveries
        )
        if down:
            receiver.set_status(503)
            alertmanager.set_status(503)
        worker.start()
        kafkaio.produce_lines(worker.settings, lines)
        deadline = time.monotonic() + 120
        while worker.health().get("processed", 0) < len(lines) * 0.4:
            assert time.monotonic() < deadline, worker.tail()
            time.sleep(0.2)
        assert worker.process is not None
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.wait()
        time.sleep(0.5)  # a request the dead worker had sent is recorded by now
        # the one delivery the kill may have cut between the receiver's 2xx and the journal
        in_flight = {
            "webhook": {key_of(r.json) for r in receiver.requests[-1:]},
            "alertmanager": set(alertmanager_keys(alertmanager.requests[-1:])),
        }
        receiver.set_status(200)
        alertmanager.set_status(200)

        again = WorkerProcess(worker.settings, worker.env, log=worker.log)
        again.start()
        try:
            again.wait_committed()
            time.sleep(3)  # let the webhook queue drain
        finally:
            again.stop()
        on_topic = consume_json(worker.settings, worker.settings.alerts_topic)
        delivered = [r.json for r in receiver.requests]
        am_keys = alertmanager_keys(alertmanager.requests)

    topic_keys = collections.Counter((a["alert_id"], a["status"]) for a in on_topic)
    hook_keys = collections.Counter((a["alert_id"], a["status"]) for a in delivered)
    decided = set(topic_keys)  # what the killed run and the restarted run decided
    overlap = len(decided & expected) / len(expected)
    got_by_sink = {"webhook": hook_keys, "alertmanager": am_keys}
    counts = {
        name: (len(decided - set(got)), sum(n - 1 for n in got.values()), sum(got.values()))
        for name, got in got_by_sink.items()
    }
    with capsys.disabled():
        print(
            f"\ncrash test ({'receivers down until the crash' if down else 'receivers up'}): "
            f"{len(decided)} alerts decided across the crash "
            f"({len(expected)} in an uninterrupted run, {overlap:.0%} of them also made); topic "
            f"{sum(topic_keys.values())} records ({sum(n - 1 for n in topic_keys.values())} "
            "repeated); "
            + "; ".join(
                f"{name} received {received}, lost {lost}, duplicated {dup} "
                f"(last delivered before the kill: {sorted(in_flight[name])})"
                for name, (lost, dup, received) in counts.items()
            )
        )
    assert decided
    # the restarted worker carries on where the killed one stopped and decides as it would have
    assert decided == expected, (
        f"{overlap:.0%} of an uninterrupted run's alerts made; "
        f"missing {sorted(expected - decided)[:5]}, extra {sorted(decided - expected)[:5]}"
    )
    for name, got in got_by_sink.items():
        assert set(got) == decided, f"{name}: lost {decided - set(got)}, extra {set(got) - decided}"
        # at most the one delivery the kill cut short comes twice (receivers deduplicate it)
        repeated = {k: n for k, n in got.items() if n > 1}
        assert set(repeated) <= in_flight[name] and max(got.values()) <= 2, (name, repeated)


def _limit_batches(settings: Settings, topic: str, max_bytes: int | None) -> None:
    """Cap the record batches ``topic`` accepts (None: back to the broker's default)."""
    value = ("SET", str(max_bytes)) if max_bytes is not None else ("DELETE", None)
    resource = ConfigResource(ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": value})
    with kafkaio.admin(settings) as client:
        client.alter_configs([resource])


def _wait_committed(worker: WorkerProcess, timeout_s: float) -> None:
    """Until the worker's group has committed all its input, or the worker has exited."""
    assert worker.process is not None
    deadline = time.monotonic() + timeout_s
    while worker.process.poll() is None:
        rows = kafkaio.consumer_lag(worker.settings)
        if rows and all(end == committed for _, _, committed, end in rows):
            return
        assert time.monotonic() < deadline, f"lag {rows}\n{worker.tail()}"
        time.sleep(0.5)


@pytest.mark.parametrize("refusing", ["alerts", "macro-changelog"])
def test_output_the_broker_refuses_never_lets_its_input_be_committed(
    worker_factory: WorkerFactory, refusing: str
) -> None:
    """A topic refuses every batch (each is over its ``max.message.bytes``): the alerts topic,
    written in the worker's own batches, or the macro table's changelog, written by Faust (which
    only logs a failure). The worker stops with status 70 at the first refused batch, before its
    input is committed (the input before it was, while nothing was refused). Once the topic
    takes them again, a restart writes every alert an uninterrupted run makes (those of the
    backtest of the same input), unless the refused batch's records for the other topics were
    written (an expected failure then: the tables are written without a transaction).

    In this stream the first alert comes at event 749 and the first outcome the models learn
    at 1,171, so the restarted worker decides exactly as an uninterrupted one."""
    simulation = sim.simulate(sim.SimConfig(accounts=300, days=120, seed=5, scenario="macro-shock"))
    lines = [orjson.dumps(e) for e in simulation.events]
    expected = {key_of(a) for a in replay_lines(lines).alerts}
    assert expected

    worker = worker_factory(partitions=1)
    settings = worker.settings
    topic = {
        "alerts": settings.alerts_topic,
        "macro-changelog": f"{settings.app_id}-macro-changelog",
    }[refusing]
    before = 700  # events without an alert: committed before the first refusal
    kafkaio.produce_lines(settings, lines[:before])
    worker.start()
    _wait_committed(worker, 120)
    _limit_batches(settings, topic, 100)  # an alert alone is about 600 bytes, a macro book more
    kafkaio.produce_lines(settings, lines[before:])
    _wait_committed(worker, 120)  # (it used to carry on, committing all its input)
    worker.stop()
    assert worker.process is not None
    status = worker.process.returncode
    committed = sum(c for _, _, c, _ in kafkaio.consumer_lag(settings))

    _limit_batches(settings, topic, None)
    again = WorkerProcess(settings, worker.env, log=worker.log)
    again.start()
    try:
        _wait_committed(again, 180)
        assert again.process is not None and again.process.poll() is None, again.tail()
    finally:
        again.stop()
    on_topic = {key_of(a) for a in consume_json(settings, settings.alerts_topic)}
    print(
        f"\n{refusing} refused: the first worker exited with {status} having committed {committed} "
        f"of {len(lines)} inputs; after the restart {len(on_topic & expected)} of "
        f"{len(expected)} alerts on the topic"
    )
    assert status == 70, worker.tail()
    assert before <= committed < len(lines)
    if on_topic != expected:
        # the refused batch's records for the other topics (the other table's changelog) may
        # have been written: the restart then skips events whose state was kept and decides
        # differently for them (docs/operations.md, Known limits: no transaction across topics)
        pytest.xfail(
            f"the tables' changelogs diverged at the refusal: missing {expected - on_topic}, "
            f"extra {on_topic - expected}"
        )
