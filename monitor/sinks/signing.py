"""Webhook signatures: HMAC-SHA256 over a timestamp and the body, checked against replay.

The header is ``X-Monitor-Signature: t=<unix seconds>,v1=<hex digest>``, the digest an
HMAC-SHA256 with the shared secret over ``b"<t>." + body``. Receivers call :func:`verify` (this
module has no dependencies beyond the standard library, so they can copy it). Verify the raw
body bytes as received, before any JSON parsing.

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
_HEX = frozenset("0123456789abcdef")


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """Signature header value for a request body.

    Parameters
    ----------
    secret : str
        The secret shared with the receiver.
    body : bytes
        The exact bytes sent as the request body.
    timestamp : int, optional
        Unix time in seconds to sign at; the current wall-clock time when omitted.

    Returns
    -------
    str
        ``t=<timestamp>,v1=<hex HMAC-SHA256 of b"<timestamp>." + body>``.

    Examples
    --------
    >>> sign("k", b"{}", timestamp=1)[:5]
    't=1,v'
    """
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={stamp},v1={_digest(secret, body, stamp)}"


def verify(
    secret: str,
    body: bytes,
    header: str,
    now: float | None = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """Check a signature header against a body, a secret and the clock.

    Parameters
    ----------
    secret : str
        The secret shared with the sender.
    body : bytes
        The request body exactly as received.
    header : str
        The value of the ``X-Monitor-Signature`` header.
    now : float, optional
        Unix time in seconds to judge the timestamp against; the wall clock when omitted.
    tolerance_s : int, default 300
        Largest accepted distance, either way, between the signed timestamp and ``now``.

    Returns
    -------
    bool
        True only for a well-formed header whose timestamp is within ``tolerance_s`` of
        ``now`` and whose digest matches (compared in constant time). Never raises on a
        malformed header.

    Examples
    --------
    >>> header = sign("k", b"{}", timestamp=1_700_000_000)
    >>> verify("k", b"{}", header, now=1_700_000_299), verify("k", b"{}", header, now=1_700_000_301)
    (True, False)
    >>> verify("k", b"{}", "t=1700000000,v1=nothex", now=1_700_000_000)
    False
    """
    try:
        fields = dict(part.strip().split("=", 1) for part in header.split(","))
        stamp_text, given = fields["t"], fields["v1"]
    except (ValueError, KeyError, AttributeError):
        return False
    if not (stamp_text.isascii() and stamp_text.isdigit()):
        return False
    if len(given) != 64 or not _HEX.issuperset(given):
        return False
    stamp = int(stamp_text)
    current = time.time() if now is None else now
    if not abs(current - stamp) <= tolerance_s:  # `not <=` so that a NaN clock fails too
        return False
    return hmac.compare_digest(given.encode(), _digest(secret, body, stamp).encode())
