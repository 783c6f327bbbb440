"""``monitor receiver``: a small webhook receiver that logs what it gets, one JSON line each.

For trying webhooks and Alertmanager out (docker-compose runs it). With a secret it checks the
``X-Monitor-Signature`` of each request and logs whether it was valid; it deduplicates monitor
alerts by ``(alert_id, status)`` as receivers should.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from monitor.sinks.signing import SIGNATURE_HEADER, verify


def serve(host: str, port: int, secret: str = "") -> None:
    """Serve until interrupted."""
    seen: set[tuple[str, str]] = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            entry: dict[str, Any] = {"path": self.path}
            if secret:
                header = self.headers.get(SIGNATURE_HEADER, "")
                entry["valid_signature"] = verify(secret, body, header)
            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
            if isinstance(payload, dict) and "alert_id" in payload:
                key = (payload["alert_id"], payload.get("status", ""))
                entry["duplicate"] = key in seen
                seen.add(key)
            entry["body"] = payload
            print(json.dumps(entry), flush=True)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    print(f"receiving webhooks on http://{host}:{port}/", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
