"""Alerts over HTTP: JSON POSTs with retries, back-off and a bounded queue.

:class:`HttpSink` holds the delivery mechanics shared by the webhook and Alertmanager sinks.
``offer`` never blocks: it queues the alert, or refuses it when the queue is full (the alert then
goes to the give-up callback, which the worker turns into a dead-letter record). One task sends
the queue in order. A 2xx answer delivers; 408, 429, 5xx, time-outs and connection errors are
retried with exponential back-off (for at least ``retries`` retries and ``retry_for_s``
seconds, so a receiver that is down for minutes still gets every alert, in order, once it is
back); other answers (4xx, 3xx) are final. A give-up callback that raises, or an alert that
cannot be encoded, costs that one alert and never the delivery task. Give-up reasons name the
receiver by its origin only (webhook URLs often carry a token in the path or query), and so do
the ``receiver`` labels of its metrics (:func:`receiver_labels`). With a
:class:`~monitor.sinks.journal.DeliveryJournal`, accepted alerts and deliveries are persisted:
after a restart the undelivered ones are sent first and the delivered ones never again (an
offer of either counts as ``duplicate``), and a stop leaves what is queued for the next start.
:class:`WebhookSink` posts each alert as it is, signed when a secret is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import httpx
import orjson

from monitor.metrics import DeliveryMetrics
from monitor.sinks.base import Sink
from monitor.sinks.journal import DeliveryJournal
from monitor.sinks.signing import SIGNATURE_HEADER, sign

#: Called with an alert the sink gives up on and why; it may return the future of the record
#: that keeps the alert (the worker's dead letter), and the journal lets the alert go once that
#: future is done without error.
GiveUp = Callable[[dict[str, Any], str], Any]
_RETRYABLE = {408, 429}
_MAX_EXPONENT = 32  # 2**32 x any sane back-off is past max_backoff_s; a float cannot overflow
log = logging.getLogger(__name__)
OUTCOMES = ("delivered", "error", "failed", "rejected", "refused", "duplicate")


class HttpSink(Sink):
    """Queue, ordered delivery, retries and accounting of an HTTP sink; subclasses say what to
    send with :meth:`request`."""

    name = "http"

    def __init__(
        self,
        url: str,
        *,
        secret: str = "",
        timeout_s: float = 5.0,
        retries: int = 5,
        retry_for_s: float = 0.0,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        queue_size: int = 10000,
        metrics: DeliveryMetrics | None = None,
        client: httpx.AsyncClient | None = None,
        on_give_up: GiveUp | None = None,
        journal: DeliveryJournal | None = None,
        receiver: str = "",
    ) -> None:
        self.url = url
        self.origin = _origin(url)
        #: the ``receiver`` label of this sink's metrics (see :func:`receiver_labels`)
        self.receiver = receiver or self.origin
        self.secret = secret
        self.timeout_s = timeout_s
        self.retries = retries
        self.retry_for_s = retry_for_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.metrics = metrics
        self.on_give_up = on_give_up
        self._client = client
        self._own_client = client is None
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=queue_size)
        if metrics is not None:  # every outcome exists from the start, at 0, for rate() queries
            for outcome in OUTCOMES:
                metrics.deliveries.labels(sink=self.name, receiver=self.receiver, outcome=outcome)
            metrics.delivery_queue.labels(sink=self.name, receiver=self.receiver).set(0)
        self._task: asyncio.Task[None] | None = None
        self.journal = journal
        if journal is not None:  # what a crash kept from the receiver goes first, in order
            for alert in journal.pending():
                self._put(alert)

    # -- accounting -----------------------------------------------------------------------
    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.deliveries.labels(
                sink=self.name, receiver=self.receiver, outcome=outcome
            ).inc()

    def _gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.delivery_queue.labels(sink=self.name, receiver=self.receiver).set(
                self._queue.qsize()
            )

    def _give_up(self, alert: dict[str, Any], outcome: str, reason: str) -> None:
        self._count(outcome)
        written: Any = None
        if self.on_give_up is not None:
            try:
                written = self.on_give_up(alert, f"{self.origin}: {reason}")
            except Exception:  # the callback's failure must not stop delivery or offer()
                log.exception(
                    "%s sink: the give-up callback failed for alert %s",
                    self.name,
                    alert.get("alert_id"),
                )
        journal = self.journal
        if journal is None or not self.journalled(alert):
            return
        if isinstance(written, asyncio.Future):
            # out of the journal once the dead letter is written: if the worker stops first, the
            # restart still has the alert to deliver
            written.add_done_callback(partial(_drop_if_written, journal, alert))
        else:
            journal.dropped(alert)

    # -- interface ------------------------------------------------------------------------
    def offer(self, alert: dict[str, Any]) -> bool:
        journal = self.journal if self.journalled(alert) else None
        if journal is not None and (journal.was_delivered(alert) or journal.is_pending(alert)):
            self._count("duplicate")  # e.g. re-sent by the engine's recovery after a crash
            return True
        if not self._put(alert):
            return False
        if journal is not None:
            journal.queued(alert)
        return True

    def journalled(self, alert: dict[str, Any]) -> bool:
        """Whether ``alert`` is one delivery the journal tracks (keep-alives are not)."""
        return True

    def _put(self, alert: dict[str, Any]) -> bool:
        try:
            self._queue.put_nowait(alert)
        except asyncio.QueueFull:
            self._give_up(alert, "refused", "delivery queue full")
            return False
        self._gauge()
        return True

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout_s)
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Deliver what can be delivered within ``timeout_s``, then stop; what is left stays in
        the journal for the next start, or without a journal goes to the give-up callback (the
        dead-letter topic), never silently away."""
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout_s)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            left = self._queue.get_nowait()
            if self.journal is None or not self.journalled(left):
                self._give_up(left, "failed", "the worker stopped first")
        self._gauge()
        if self.journal is not None:
            self.journal.close()
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def pending(self) -> int:
        """Alerts waiting in the queue."""
        return self._queue.qsize()

    # -- delivery -------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            alert = await self._queue.get()
            try:
                await self._deliver(alert)
            except asyncio.CancelledError:
                if self.journal is None or not self.journalled(alert):
                    self._give_up(alert, "failed", "the worker stopped during delivery")
                raise
            except Exception as exc:  # e.g. not JSON-encodable: lose this alert, not the task
                self._give_up(alert, "failed", f"{type(exc).__name__}: {exc}")
            finally:
                self._queue.task_done()
                self._gauge()

    def request(self, alert: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """Body and headers of the POST for one alert (called again for each attempt)."""
        raise NotImplementedError

    async def _deliver(self, alert: dict[str, Any]) -> None:
        assert self._client is not None
        attempt = 0
        started = time.monotonic()
        while True:
            body, headers = self.request(alert)
            try:
                response = await self._client.post(
                    self.url, content=body, headers=headers, timeout=self.timeout_s
                )
                status: int | None = response.status_code
                problem = f"HTTP {status}"
            except httpx.HTTPError as exc:
                status, problem = None, f"{type(exc).__name__}"
            if status is not None and 200 <= status < 300:
                self._count("delivered")
                if self.journal is not None and self.journalled(alert):
                    self.journal.delivered(alert, sync=False)  # flushed: a SIGKILL keeps it
                    await asyncio.to_thread(self.journal.sync)  # fsync off the event loop
                return
            if status is not None and status < 500 and status not in _RETRYABLE:
                self._give_up(alert, "rejected", problem)  # 4xx, or a 3xx nobody follows
                return
            self._count("error")
            elapsed = time.monotonic() - started
            if attempt >= self.retries and elapsed >= self.retry_for_s:
                self._give_up(alert, "failed", f"{problem} after {attempt + 1} attempts")
                return
            delay = min(self.backoff_s * 2.0 ** min(attempt, _MAX_EXPONENT), self.max_backoff_s)
            await asyncio.sleep(delay * (1 + random.random() * 0.1))
            attempt += 1


def _drop_if_written(journal: DeliveryJournal, alert: dict[str, Any], future: Any) -> None:
    if not future.cancelled() and future.exception() is None:
        journal.dropped(alert)


def receiver_labels(urls: Sequence[str]) -> list[str]:
    """The ``receiver`` metric label of each URL's sink: its origin, never its path or query
    (they may carry a token); URLs of one origin are numbered in their order, so that each URL
    is a series of its own.

    >>> receiver_labels(["https://a.example/h/T0KEN", "http://b.example:8080/", "https://a.example/x"])
    ['https://a.example#1', 'http://b.example:8080', 'https://a.example#2']
    """
    origins = [_origin(url) for url in urls]
    shared = {o for o in origins if origins.count(o) > 1}
    seen: dict[str, int] = {}
    labels = []
    for origin in origins:
        if origin in shared:
            seen[origin] = seen.get(origin, 0) + 1
            origin = f"{origin}#{seen[origin]}"
        labels.append(origin)
    return labels


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL, without credentials, path or query."""
    try:
        parsed = httpx.URL(url)
    except Exception:
        return "<invalid url>"
    port = f":{parsed.port}" if parsed.port is not None else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


class WebhookSink(HttpSink):
    """POSTs each alert as JSON to one URL, with ``X-Monitor-Alert-Id`` for deduplication and
    ``X-Monitor-Signature`` when a secret is set."""

    name = "webhook"

    def request(self, alert: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        body = orjson.dumps(alert)
        headers = {
            "Content-Type": "application/json",
            "X-Monitor-Alert-Id": str(alert.get("alert_id", "")),
        }
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, body)
        return body, headers
