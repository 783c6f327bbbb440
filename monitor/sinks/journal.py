"""A sink's delivery journal: which alerts are waiting and which were delivered, on disk.

One append-only file of JSON lines per sink, in the worker's data directory. ``queued`` is
written (and flushed to the OS, so a SIGKILL keeps it) when the sink accepts an alert;
``delivered`` is written, and fsync'd off the event loop, after the receiver answered 2xx;
``dropped`` when the alert went to the dead-letter topic instead. Loaded at start, the journal
gives back the alerts that were accepted but never delivered (to send them first) and the keys
already delivered (never to send them again), so a crash neither loses nor repeats a delivery,
up to the one alert whose 2xx answer the crash interrupted. The key of an alert is ``alert_id``
and ``status`` (a firing alert and its resolution share the id). The file is rewritten, keeping
the pending alerts and the newest ``keep`` delivered keys, when it has grown to about twice what
it has to hold.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "webhook.log"
>>> j = DeliveryJournal(path)
>>> a = {"alert_id": "ab", "status": "firing"}
>>> j.queued(a); j.delivered(a); j.close()
>>> again = DeliveryJournal(path)
>>> again.was_delivered(a), again.pending()
(True, [])
"""

from __future__ import annotations

import contextlib
import os
from collections import OrderedDict
from pathlib import Path
from typing import IO, Any

import orjson


def journal_key(alert: dict[str, Any]) -> str:
    """The identity of one delivery: ``alert_id`` and ``status``.

    >>> journal_key({"alert_id": "ab", "status": "resolved"})
    'ab/resolved'
    """
    return f"{alert.get('alert_id', '')}/{alert.get('status', '')}"


class DeliveryJournal:
    """Pending alerts and delivered keys of one sink, persisted in ``path``.

    Parameters
    ----------
    path
        The journal file (created with its directory when missing).
    keep
        How many delivered keys to remember (the newest); older ones are forgotten when the
        file is compacted, so a redelivery older than that is no longer suppressed.
    """

    def __init__(self, path: Path, keep: int = 100_000) -> None:
        self.path = path
        self.keep = max(keep, 1)
        self._pending: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._delivered: OrderedDict[str, None] = OrderedDict()
        self._lines = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._load()
        self._compact()
        self._file: IO[bytes] = open(path, "ab")  # noqa: SIM115 - open for the sink's life

    # -- reading --------------------------------------------------------------------------
    def _load(self) -> None:
        if not self.path.is_file():
            return
        with open(self.path, "rb") as handle:
            for line in handle:
                try:
                    entry = orjson.loads(line)
                    op, key = entry["op"], entry["key"]
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    continue  # a line the crash cut short: the entries before it still count
                if op == "queued" and key not in self._delivered:
                    self._pending[key] = entry["alert"]
                elif op == "delivered":
                    self._pending.pop(key, None)
                    self._remember(key)
                elif op == "dropped":
                    self._pending.pop(key, None)

    def pending(self) -> list[dict[str, Any]]:
        """Alerts accepted but neither delivered nor dead-lettered, oldest first."""
        return list(self._pending.values())

    def was_delivered(self, alert: dict[str, Any]) -> bool:
        """True if this alert (id and status) was delivered already."""
        return journal_key(alert) in self._delivered

    def is_pending(self, alert: dict[str, Any]) -> bool:
        """True if this alert (id and status) is waiting for delivery already."""
        return journal_key(alert) in self._pending

    # -- writing --------------------------------------------------------------------------
    def queued(self, alert: dict[str, Any]) -> None:
        """The sink accepted ``alert`` (flushed to the OS, not fsync'd)."""
        key = journal_key(alert)
        self._pending[key] = alert
        self._append({"op": "queued", "key": key, "alert": alert}, sync=False)

    def delivered(self, alert: dict[str, Any], sync: bool = True) -> None:
        """The receiver took ``alert``: flushed, and fsync'd before returning unless ``sync`` is
        False (then call :meth:`sync`, e.g. in a thread, before the next delivery)."""
        key = journal_key(alert)
        self._pending.pop(key, None)
        self._remember(key)
        self._append({"op": "delivered", "key": key}, sync=sync)

    def sync(self) -> None:
        """fsync what was written (safe from another thread; a closed file is skipped)."""
        with contextlib.suppress(OSError, ValueError):
            os.fsync(self._file.fileno())

    def dropped(self, alert: dict[str, Any]) -> None:
        """``alert`` went to the dead-letter topic and is no longer this sink's to deliver (a
        closed journal keeps it pending: the next start delivers it again)."""
        key = journal_key(alert)
        if self._file.closed:
            return
        if self._pending.pop(key, None) is not None:
            self._append({"op": "dropped", "key": key}, sync=False)

    def close(self) -> None:
        """Flush, fsync and close the file."""
        if not self._file.closed:
            self._file.flush()
            with contextlib.suppress(OSError):
                os.fsync(self._file.fileno())
            self._file.close()

    def _remember(self, key: str) -> None:
        self._delivered[key] = None
        self._delivered.move_to_end(key)
        while len(self._delivered) > self.keep:
            self._delivered.popitem(last=False)

    def _append(self, entry: dict[str, Any], sync: bool) -> None:
        self._file.write(orjson.dumps(entry) + b"\n")
        self._file.flush()
        if sync:
            os.fsync(self._file.fileno())
        self._lines += 1
        if self._lines > 2 * (len(self._pending) + len(self._delivered)) + 1000:
            self._file.close()
            self._compact()
            self._file = open(self.path, "ab")  # noqa: SIM115

    def _compact(self) -> None:
        """Rewrite the file with only what it has to hold (atomically: a crash keeps the old)."""
        partial = self.path.with_suffix(self.path.suffix + ".partial")
        with open(partial, "wb") as handle:
            for key in self._delivered:
                handle.write(orjson.dumps({"op": "delivered", "key": key}) + b"\n")
            for key, alert in self._pending.items():
                handle.write(orjson.dumps({"op": "queued", "key": key, "alert": alert}) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, self.path)
        self._lines = len(self._delivered) + len(self._pending)
