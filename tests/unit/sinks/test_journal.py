"""The delivery journal on its own, and a webhook sink that restarts from one."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import orjson
from prometheus_client import CollectorRegistry

from monitor.metrics import DeliveryMetrics
from monitor.sinks.journal import DeliveryJournal, journal_key
from monitor.sinks.webhook import WebhookSink


def alert(n: int, status: str = "firing") -> dict[str, Any]:
    return {"alert_id": f"{n:024x}", "status": status, "account_id": f"a{n}"}


def test_pending_and_delivered_survive_a_reload(tmp_path: Path) -> None:
    path = tmp_path / "j" / "webhook.jsonl"
    journal = DeliveryJournal(path)
    for n in range(5):
        journal.queued(alert(n))
    journal.delivered(alert(1))
    journal.dropped(alert(3))
    # no close(): a SIGKILL does not close files, what was written is in the OS already
    again = DeliveryJournal(path)
    assert [a["alert_id"] for a in again.pending()] == [alert(n)["alert_id"] for n in (0, 2, 4)]
    assert again.was_delivered(alert(1))
    assert not again.was_delivered(alert(1, "resolved"))  # firing and resolved are two deliveries
    assert not again.was_delivered(alert(3)) and not again.is_pending(alert(3))


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "webhook.jsonl"
    journal = DeliveryJournal(path)
    journal.queued(alert(1))
    journal.delivered(alert(1))
    journal.queued(alert(2))
    journal.close()
    with open(path, "ab") as handle:
        handle.write(b'{"op":"delivered","key":"' + journal_key(alert(2)).encode()[:5])
    again = DeliveryJournal(path)
    assert again.was_delivered(alert(1))
    assert [a["alert_id"] for a in again.pending()] == [alert(2)["alert_id"]]


def test_the_file_stays_bounded_and_keeps_the_newest_delivered_ids(tmp_path: Path) -> None:
    path = tmp_path / "webhook.jsonl"
    journal = DeliveryJournal(path, keep=50)
    for n in range(5000):  # about nine compactions
        journal.queued(alert(n))
        # the size rule does not depend on fsync (the other tests deliver with it): 5,000
        # fsyncs cost seconds and prove nothing more here
        journal.delivered(alert(n), sync=n % 1000 == 999)
    journal.close()
    lines = path.read_bytes().splitlines()
    assert len(lines) <= 2 * 50 + 1000 + 1
    again = DeliveryJournal(path, keep=50)
    assert again.was_delivered(alert(4999)) and again.was_delivered(alert(4950))
    assert not again.was_delivered(alert(4949)) and not again.was_delivered(alert(0))
    assert again.pending() == []
    assert all(orjson.loads(line)["op"] == "delivered" for line in path.read_bytes().splitlines())


class Recorder:
    """A MockTransport handler that records bodies and answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.status < 300:
            self.bodies.append(orjson.loads(request.content))
        return httpx.Response(self.status)


def sink_for(
    path: Path, handler: Recorder, registry: CollectorRegistry, **kwargs: Any
) -> WebhookSink:
    return WebhookSink(
        "http://receiver.test/alerts",
        client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        metrics=DeliveryMetrics(registry),
        backoff_s=0.001,
        max_backoff_s=0.01,
        journal=DeliveryJournal(path),
        **kwargs,
    )


def test_a_restarted_sink_sends_the_undelivered_first_and_the_delivered_never_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "webhook.jsonl"
    first, second = Recorder(), Recorder()

    async def before_crash() -> None:
        sink = sink_for(path, first, CollectorRegistry(), retries=1000, retry_for_s=60)
        await sink.start()
        for n in range(3):
            sink.offer(alert(n))
        while len(first.bodies) < 3:
            await asyncio.sleep(0.01)
        first.status = 503  # the receiver goes down; the next alerts stay queued
        for n in range(3, 6):
            sink.offer(alert(n))
        await asyncio.sleep(0.05)
        assert sink._task is not None
        sink._task.cancel()  # the process dies: no stop(), no flush

    async def after_restart() -> CollectorRegistry:
        registry = CollectorRegistry()
        sink = sink_for(path, second, registry)
        await sink.start()
        for n in range(8):  # the engine's recovery offers old alerts again, then new ones
            sink.offer(alert(n))
        await sink.stop()
        return registry

    asyncio.run(before_crash())
    registry = asyncio.run(after_restart())
    assert [b["account_id"] for b in first.bodies] == ["a0", "a1", "a2"]
    assert [b["account_id"] for b in second.bodies] == [f"a{n}" for n in range(3, 8)]
    duplicate = registry.get_sample_value(
        "monitor_deliveries_total",
        {"sink": "webhook", "receiver": "http://receiver.test", "outcome": "duplicate"},
    )
    assert duplicate == 6  # 0-2 delivered before, 3-5 already pending from the journal


def test_stop_leaves_the_queue_in_the_journal_instead_of_dead_lettering(tmp_path: Path) -> None:
    path = tmp_path / "webhook.jsonl"
    given_up: list[str] = []

    async def run() -> None:
        sink = sink_for(
            path,
            Recorder(status=503),
            CollectorRegistry(),
            retries=1000,
            retry_for_s=60,
            on_give_up=lambda a, reason: given_up.append(reason),
        )
        await sink.start()
        for n in range(4):
            sink.offer(alert(n))
        await sink.stop(timeout_s=0.1)

    asyncio.run(run())
    assert given_up == []
    assert len(DeliveryJournal(path).pending()) == 4


def test_a_dead_lettered_alert_is_not_sent_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "webhook.jsonl"
    given_up: list[str] = []
    second = Recorder()

    async def run() -> None:
        sink = sink_for(
            path,
            Recorder(status=400),
            CollectorRegistry(),
            on_give_up=lambda a, reason: given_up.append(reason),
        )
        await sink.start()
        sink.offer(alert(1))
        await sink.stop()
        again = sink_for(path, second, CollectorRegistry())
        await again.start()
        await again.stop()

    asyncio.run(run())
    assert len(given_up) == 1 and second.bodies == []


def test_a_given_up_alert_leaves_the_journal_only_once_its_dead_letter_is_written(
    tmp_path: Path,
) -> None:
    """The give-up callback returns the future of the dead-letter record: until Kafka has it,
    the alert stays pending in the journal, so a worker that stops first (Kafka refused the
    record) delivers or dead-letters it again after its restart."""
    path = tmp_path / "webhook.jsonl"
    letters: dict[str, asyncio.Future[Any]] = {}

    async def give_up_twice() -> None:
        loop = asyncio.get_running_loop()

        def dead_letter(alert: dict[str, Any], reason: str) -> asyncio.Future[Any]:
            letters[alert["alert_id"]] = loop.create_future()
            return letters[alert["alert_id"]]

        sink = sink_for(path, Recorder(400), CollectorRegistry(), on_give_up=dead_letter)
        await sink.start()
        sink.offer(alert(1))
        sink.offer(alert(2))
        while len(letters) < 2:
            await asyncio.sleep(0.01)
        letters[alert(1)["alert_id"]].set_result(None)  # written
        letters[alert(2)["alert_id"]].set_exception(RuntimeError("refused"))  # not written
        await asyncio.sleep(0)
        assert sink._task is not None
        sink._task.cancel()  # the worker exits

    asyncio.run(give_up_twice())
    assert [a["alert_id"] for a in DeliveryJournal(path).pending()] == [alert(2)["alert_id"]]
