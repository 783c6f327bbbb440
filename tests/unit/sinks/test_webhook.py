"""The webhook sink against httpx.MockTransport, and once against a real local HTTP server."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry

from monitor.metrics import Metrics
from monitor.signing import verify
from monitor.sinks.webhook import WebhookSink
from tests.support.receiver import WebhookReceiver

pytestmark = pytest.mark.unit
URL = "http://receiver.test/alerts"


def alert(n: int) -> dict[str, Any]:
    return {"alert_id": f"{n:024x}", "status": "firing", "account_id": f"a{n}"}


def deliveries(registry: CollectorRegistry, outcome: str) -> float:
    value = registry.get_sample_value(
        "monitor_deliveries_total", {"sink": "webhook", "outcome": outcome}
    )
    return value or 0.0


async def run_sink(handler, alerts, **kwargs) -> tuple[WebhookSink, CollectorRegistry, list]:
    registry = CollectorRegistry()
    given_up: list[tuple[dict[str, Any], str]] = []
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    sink = WebhookSink(
        URL,
        client=client,
        metrics=Metrics(registry),
        backoff_s=0.001,
        on_give_up=lambda a, r: given_up.append((a, r)),
        **kwargs,
    )
    await sink.start()
    for a in alerts:
        sink.offer(a)
    await sink.stop(timeout_s=5)
    await client.aclose()
    return sink, registry, given_up


def test_delivers_in_order_with_alert_id_and_signature() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    _, registry, given_up = asyncio.run(run_sink(handler, [alert(i) for i in range(5)], secret="k"))
    assert [orjson.loads(r.content)["alert_id"] for r in seen] == [
        alert(i)["alert_id"] for i in range(5)
    ]
    assert all(r.headers["X-Monitor-Alert-Id"] == orjson.loads(r.content)["alert_id"] for r in seen)
    assert all(verify("k", r.content, r.headers["X-Monitor-Signature"]) for r in seen)
    assert deliveries(registry, "delivered") == 5
    assert given_up == []


def test_retries_server_errors_then_delivers() -> None:
    answers = iter([500, 503, 429, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers))

    _, registry, given_up = asyncio.run(run_sink(handler, [alert(1)], retries=5))
    assert deliveries(registry, "error") == 3
    assert deliveries(registry, "delivered") == 1
    assert given_up == []


def test_gives_up_after_the_retries_and_says_why() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused", request=request)

    _, registry, given_up = asyncio.run(run_sink(handler, [alert(1)], retries=2))
    assert len(calls) == 3
    assert deliveries(registry, "failed") == 1
    assert [a["alert_id"] for a, _ in given_up] == [alert(1)["alert_id"]]
    assert "ConnectError after 3 attempts" in given_up[0][1]


def test_client_errors_are_not_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(400)

    _, registry, given_up = asyncio.run(run_sink(handler, [alert(1)], retries=5))
    assert len(calls) == 1
    assert deliveries(registry, "rejected") == 1
    assert "HTTP 400" in given_up[0][1]


def test_a_full_queue_refuses_without_blocking() -> None:
    async def scenario() -> tuple[list[bool], CollectorRegistry, list]:
        registry = CollectorRegistry()
        given_up: list = []
        sink = WebhookSink(
            URL, queue_size=2, metrics=Metrics(registry), on_give_up=lambda a, r: given_up.append(r)
        )
        # not started: nothing drains the queue
        return [sink.offer(alert(i)) for i in range(4)], registry, given_up

    accepted, registry, given_up = asyncio.run(scenario())
    assert accepted == [True, True, False, False]
    assert deliveries(registry, "refused") == 2
    assert given_up == ["http://receiver.test/alerts: delivery queue full"] * 2


def test_real_receiver_outage_then_recovery_delivers_each_alert_once_in_order() -> None:
    async def scenario(url: str) -> None:
        sink = WebhookSink(url, secret="k", backoff_s=0.01, retries=10)
        await sink.start()
        for i in range(6):
            sink.offer(alert(i))
        await sink.stop(timeout_s=10)

    with WebhookReceiver(secret="k") as receiver:
        receiver.fail_next(3)
        asyncio.run(scenario(receiver.url))
        got = receiver.requests
        assert len(receiver.all_requests) == 6 + 3
    assert [r.json["alert_id"] for r in got] == [alert(i)["alert_id"] for i in range(6)]
    assert all(r.valid_signature for r in got)


def test_keeps_retrying_for_the_configured_time_before_giving_up() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503)

    _, registry, given_up = asyncio.run(
        run_sink(handler, [alert(1)], retries=1, retry_for_s=0.3, max_backoff_s=0.02)
    )
    assert len(calls) > 5, "kept trying for 0.3 s, far beyond one retry"
    assert deliveries(registry, "failed") == 1 and len(given_up) == 1


def test_nothing_is_dropped_silently_at_shutdown() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    _, registry, given_up = asyncio.run(
        run_sink(handler, [alert(i) for i in range(3)], retries=1000, retry_for_s=60)
    )
    assert deliveries(registry, "failed") == 3
    assert sorted(a["alert_id"] for a, _ in given_up) == [alert(i)["alert_id"] for i in range(3)]
    assert all("the worker stopped" in reason for _, reason in given_up)
