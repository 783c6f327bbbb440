"""The webhook sink against httpx.MockTransport, and once against a real local HTTP server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry

from monitor.metrics import DeliveryMetrics
from monitor.sinks.signing import verify
from monitor.sinks.webhook import WebhookSink
from tests.support.receiver import WebhookReceiver

URL = "http://receiver.test/alerts"
Handler = Callable[[httpx.Request], httpx.Response]
GivenUp = list[tuple[dict[str, Any], str]]


def alert(n: int) -> dict[str, Any]:
    return {"alert_id": f"{n:024x}", "status": "firing", "account_id": f"a{n}"}


def ids(alerts: list[dict[str, Any]]) -> list[str]:
    return [a["alert_id"] for a in alerts]


def deliveries(
    registry: CollectorRegistry, outcome: str, receiver: str = "http://receiver.test"
) -> float:
    value = registry.get_sample_value(
        "monitor_deliveries_total", {"sink": "webhook", "receiver": receiver, "outcome": outcome}
    )
    assert value is not None, f"outcome {outcome} is not exported"
    return value


def queued(registry: CollectorRegistry, receiver: str = "http://receiver.test") -> float | None:
    return registry.get_sample_value(
        "monitor_delivery_queue", {"sink": "webhook", "receiver": receiver}
    )


async def run_sink(
    handler: Handler,
    alerts: list[dict[str, Any]],
    stop_timeout_s: float = 5.0,
    url: str = URL,
    **kwargs: Any,
) -> tuple[CollectorRegistry, GivenUp]:
    registry = CollectorRegistry()
    given_up: GivenUp = []
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    sink = WebhookSink(
        url,
        client=client,
        metrics=DeliveryMetrics(registry),
        backoff_s=kwargs.pop("backoff_s", 0.001),
        on_give_up=kwargs.pop("on_give_up", lambda a, r: given_up.append((a, r))),
        **kwargs,
    )
    await sink.start()
    assert all(sink.offer(a) for a in alerts)
    await sink.stop(timeout_s=stop_timeout_s)
    await client.aclose()
    assert queued(registry, sink.receiver) == 0
    return registry, given_up


def test_delivers_in_order_with_alert_id_and_signature() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    registry, given_up = asyncio.run(run_sink(handler, [alert(i) for i in range(5)], secret="k"))
    assert [orjson.loads(r.content) for r in seen] == [alert(i) for i in range(5)]
    assert all(r.content == orjson.dumps(orjson.loads(r.content)) for r in seen)  # compact
    assert all(r.headers["Content-Type"] == "application/json" for r in seen)
    assert [r.headers["X-Monitor-Alert-Id"] for r in seen] == ids([alert(i) for i in range(5)])
    now = time.time()
    assert all(verify("k", r.content, r.headers["X-Monitor-Signature"], now=now) for r in seen)
    assert not verify("other", seen[0].content, seen[0].headers["X-Monitor-Signature"], now=now)
    assert deliveries(registry, "delivered") == 5
    assert deliveries(registry, "error") == 0
    assert given_up == []


def test_no_signature_header_without_a_secret() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    asyncio.run(run_sink(handler, [alert(1)]))
    assert len(seen) == 1 and "X-Monitor-Signature" not in seen[0].headers


def test_retries_server_errors_and_timeouts_then_delivers() -> None:
    answers: list[int | Exception] = [500, httpx.ReadTimeout("slow"), 503, 429, 408, 200, 200]
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(orjson.loads(request.content)["alert_id"])
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer)

    registry, given_up = asyncio.run(run_sink(handler, [alert(1), alert(2)], retries=5))
    assert seen == [alert(1)["alert_id"]] * 6 + [alert(2)["alert_id"]]  # in order, no skipping
    assert deliveries(registry, "error") == 5
    assert deliveries(registry, "delivered") == 2
    assert given_up == []


def test_gives_up_after_the_retries_and_says_why() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused", request=request)

    registry, given_up = asyncio.run(run_sink(handler, [alert(1), alert(2)], retries=2))
    assert len(calls) == 6
    assert deliveries(registry, "error") == 6
    assert deliveries(registry, "failed") == 2
    assert deliveries(registry, "delivered") == 0
    assert [a for a, _ in given_up] == [alert(1), alert(2)]
    assert "ConnectError after 3 attempts" in given_up[0][1]


@pytest.mark.parametrize("status", [400, 401, 404, 413, 301])
def test_client_errors_and_redirects_are_not_retried(status: int) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(status)

    registry, given_up = asyncio.run(run_sink(handler, [alert(1)], retries=5))
    assert len(calls) == 1
    assert deliveries(registry, "rejected") == 1
    assert deliveries(registry, "error") == 0
    assert [a for a, _ in given_up] == [alert(1)]
    assert f"HTTP {status}" in given_up[0][1]


def test_a_full_queue_refuses_without_blocking() -> None:
    async def scenario() -> tuple[list[bool], CollectorRegistry, list[str]]:
        registry = CollectorRegistry()
        given_up: list[str] = []
        sink = WebhookSink(
            URL,
            queue_size=2,
            metrics=DeliveryMetrics(registry),
            on_give_up=lambda a, r: given_up.append(r),
        )
        # not started: nothing drains the queue
        accepted = [sink.offer(alert(i)) for i in range(4)]
        assert queued(registry) == 2
        return accepted, registry, given_up

    accepted, registry, given_up = asyncio.run(scenario())
    assert accepted == [True, True, False, False]
    assert deliveries(registry, "refused") == 2
    assert given_up == ["http://receiver.test: delivery queue full"] * 2


def test_a_hanging_receiver_never_blocks_offer() -> None:
    async def scenario() -> tuple[list[bool], float, CollectorRegistry, GivenUp]:
        registry = CollectorRegistry()
        given_up: GivenUp = []
        never = asyncio.Event()

        async def handler(request: httpx.Request) -> httpx.Response:
            await never.wait()  # the receiver accepts the connection and never answers
            return httpx.Response(200)

        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        sink = WebhookSink(
            URL,
            client=client,
            queue_size=3,
            metrics=DeliveryMetrics(registry),
            on_give_up=lambda a, r: given_up.append((a, r)),
        )
        await sink.start()
        await asyncio.sleep(0)
        started = time.perf_counter()
        accepted = [sink.offer(alert(i)) for i in range(10)]
        elapsed = time.perf_counter() - started
        await asyncio.sleep(0.01)  # the task takes one alert in flight
        await sink.stop(timeout_s=0.05)
        await client.aclose()
        return accepted, elapsed, registry, given_up

    accepted, elapsed, registry, given_up = asyncio.run(scenario())
    assert elapsed < 0.5
    assert accepted == [True] * 3 + [False] * 7
    assert deliveries(registry, "refused") == 7
    # nothing lost silently: 7 refused, then the 3 accepted ones dead-lettered at stop
    assert deliveries(registry, "failed") == 3
    assert sorted(ids([a for a, _ in given_up])) == sorted(ids([alert(i) for i in range(10)]))


def test_real_receiver_outage_then_recovery_delivers_each_alert_once_in_order() -> None:
    async def scenario(url: str) -> CollectorRegistry:
        registry = CollectorRegistry()
        sink = WebhookSink(
            url, secret="k", backoff_s=0.01, retries=10, metrics=DeliveryMetrics(registry)
        )
        await sink.start()
        for i in range(6):
            sink.offer(alert(i))
        await sink.stop(timeout_s=10)
        return registry

    with WebhookReceiver(secret="k") as receiver:
        receiver.fail_next(3)
        registry = asyncio.run(scenario(receiver.url))
        answered = [r.answered for r in receiver.all_requests]
        got = receiver.requests
    assert answered == [500, 500, 500] + [200] * 6
    assert [r.json for r in got] == [alert(i) for i in range(6)]
    assert all(r.valid_signature is True for r in got)
    assert all(r.headers["X-Monitor-Alert-Id"] == r.json["alert_id"] for r in got)
    assert deliveries(registry, "error", receiver.base_url) == 3
    assert deliveries(registry, "delivered", receiver.base_url) == 6


def test_keeps_retrying_for_the_configured_time_before_giving_up() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503)

    registry, given_up = asyncio.run(
        run_sink(handler, [alert(1)], retries=1, retry_for_s=0.3, max_backoff_s=0.02)
    )
    assert len(calls) > 5, "kept trying for 0.3 s, far beyond one retry"
    assert deliveries(registry, "failed") == 1 and len(given_up) == 1


def test_many_retries_do_not_overflow_the_back_off() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503 if len(calls) <= 1100 else 200)

    # 2**1024 does not fit a float: the back-off must cap the exponent, not just the delay
    registry, given_up = asyncio.run(
        run_sink(handler, [alert(1)], retries=2000, max_backoff_s=0.0, stop_timeout_s=20)
    )
    assert len(calls) == 1101
    assert deliveries(registry, "delivered") == 1 and given_up == []


def test_nothing_is_dropped_silently_at_shutdown() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    registry, given_up = asyncio.run(
        run_sink(
            handler, [alert(i) for i in range(3)], stop_timeout_s=0.1, retries=1000, retry_for_s=60
        )
    )
    assert deliveries(registry, "failed") == 3
    assert sorted(a["alert_id"] for a, _ in given_up) == [alert(i)["alert_id"] for i in range(3)]
    assert all("the worker stopped" in reason for _, reason in given_up)


def test_a_failing_give_up_callback_does_not_stop_delivery() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(orjson.loads(request.content)["alert_id"])
        return httpx.Response(400 if len(seen) == 1 else 200)

    def explode(alert: dict[str, Any], reason: str) -> None:
        raise KeyError("account_id")

    registry, _ = asyncio.run(run_sink(handler, [alert(1), alert(2)], on_give_up=explode))
    assert seen == ids([alert(1), alert(2)])
    assert deliveries(registry, "rejected") == 1 and deliveries(registry, "delivered") == 1


def test_an_alert_that_cannot_be_encoded_costs_only_itself() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(orjson.loads(request.content)["alert_id"])
        return httpx.Response(200)

    bad = dict(alert(1), extra=object())
    registry, given_up = asyncio.run(run_sink(handler, [bad, alert(2)]))
    assert seen == [alert(2)["alert_id"]]
    assert deliveries(registry, "failed") == 1 and deliveries(registry, "delivered") == 1
    assert given_up[0][0] is bad and "not JSON serializable" in given_up[0][1]


def test_give_up_reasons_do_not_leak_the_url_path_or_credentials() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404)

    url = "https://user:pw@hooks.example.com:8443/services/T0/B0/s3cr3tT0ken?token=qs"
    _, given_up = asyncio.run(run_sink(handler, [alert(1)], url=url))
    ((_, reason),) = given_up
    assert reason == "https://hooks.example.com:8443: HTTP 404"
