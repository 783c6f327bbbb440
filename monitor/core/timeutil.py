"""Event-time helpers: ISO-8601 strings to epoch seconds and day numbers, and back.

Times inside the core are float seconds since the Unix epoch (UTC); calendar dates are
integer day numbers (days since 1970-01-01), which keeps account state small.

>>> t = parse_time("2026-01-31T12:00:00Z")
>>> day_of(t), iso_date(day_of(t))
(20484, '2026-01-31')
>>> iso_time(t)
'2026-01-31T12:00:00Z'
"""

from __future__ import annotations

import datetime as dt

DAY = 86400.0
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def parse_time(text: str) -> float:
    """Parse an ISO-8601 time with an offset (``Z`` or ``+hh:mm``) to epoch seconds."""
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return value.timestamp()


def parse_date(text: str) -> int:
    """Parse ``YYYY-MM-DD`` to a day number."""
    return dt.date.fromisoformat(text).toordinal() - _EPOCH_ORDINAL


def day_of(ts: float) -> int:
    """Day number of an epoch time."""
    return int(ts // DAY)


def iso_date(day: int) -> str:
    """Day number to ``YYYY-MM-DD``."""
    return dt.date.fromordinal(day + _EPOCH_ORDINAL).isoformat()


def iso_time(ts: float) -> str:
    """Epoch seconds to ISO-8601 UTC with a trailing ``Z`` (whole seconds unless fractional)."""
    value = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    text = value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    return text.replace("+00:00", "Z")
