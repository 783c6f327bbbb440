"""A real HTTP server on 127.0.0.1 that records webhook requests, for tests."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from monitor.sinks.signing import SIGNATURE_HEADER, verify


@dataclass
class Request:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    json: Any
    valid_signature: bool | None
    answered: int


class WebhookReceiver:
    """``with WebhookReceiver() as r: ... r.url ... r.requests``; answers 200 unless told.

    ``port`` 0 takes a free port; a given port lets a test bring a receiver back where an
    earlier one was (or where none listened yet), as after an outage.
    """

    def __init__(self, secret: str = "", port: int = 0) -> None:
        self.secret = secret
        self._lock = threading.Lock()
        self._all: list[Request] = []
        self._status = 200
        self._fail_next = 0
        self._fail_status = 500
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                status = receiver._answer()
                try:
                    parsed = json.loads(body)
                except ValueError:  # cut short (a sender killed mid-request) or not JSON:
                    parsed = None  # refused, as a real receiver would, so never a delivery
                    status = 400
                header = self.headers.get(SIGNATURE_HEADER)
                valid = (
                    verify(receiver.secret, body, header)
                    if receiver.secret and header
                    else (False if receiver.secret else None)
                )
                with receiver._lock:
                    receiver._all.append(
                        Request(self.path, dict(self.headers.items()), body, parsed, valid, status)
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _answer(self) -> int:
        with self._lock:
            if self._fail_next > 0:
                self._fail_next -= 1
                return self._fail_status
            return self._status

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/alerts"

    @property
    def base_url(self) -> str:
        """``http://host:port`` (for sinks that add their own path, like Alertmanager's)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer ``status`` (500 by default) to the next ``count`` requests, then as before."""
        with self._lock:
            self._fail_next = count
            self._fail_status = status

    def set_status(self, status: int) -> None:
        """Answer ``status`` from now on (e.g. 503 for an outage, 200 to recover)."""
        with self._lock:
            self._status = status

    @property
    def all_requests(self) -> list[Request]:
        """Every request, including those answered with an error."""
        with self._lock:
            return list(self._all)

    @property
    def requests(self) -> list[Request]:
        """The requests answered 2xx (the deliveries)."""
        return [r for r in self.all_requests if 200 <= r.answered < 300]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Request]:
        """Wait until ``count`` deliveries arrived; raise AssertionError on time-out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.requests
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"received {len(self.requests)} of {count} webhook deliveries")

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
