"""Webhook signatures: HMAC-SHA256 over a timestamp and the body, checked against replay.

The header is ``X-Monitor-Signature: t=<unix seconds>,v1=<hex digest>``, the digest an
HMAC-SHA256 with the shared secret over ``b"<t>." + body``. Receivers call :func:`verify` (this
module has no dependencies beyond the standard library, so they can copy it).

>>> header = sign("s3cret", b'{"alert_id": "x"}', timestamp=1_700_000_000)
>>> header.startswith("t=1700000000,v1=")
True
>>> verify("s3cret", b'{"alert_id": "x"}', header, now=1_700_000_100)
True
>>> verify("s3cret", b'{"alert_id": "y"}', header, now=1_700_000_100)
False
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Monitor-Signature"
DEFAULT_TOLERANCE_S = 300


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The signature header value for ``body`` at ``timestamp`` (default: now)."""
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={stamp},v1={_digest(secret, body, stamp)}"


def verify(
    secret: str,
    body: bytes,
    header: str,
    now: float | None = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """True if ``header`` signs ``body`` with ``secret`` within ``tolerance_s`` of ``now``."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        stamp = int(fields["t"])
        given = fields["v1"]
    except (ValueError, KeyError):
        return False
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance_s:
        return False
    return hmac.compare_digest(given, _digest(secret, body, stamp))
