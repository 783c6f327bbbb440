"""Outcome records kept in the store until a snapshot of the learner has learnt them.

A worker's learner is saved whole only now and then (a snapshot); after a restart it takes back
the last snapshot and learns the days closed since again from the outcome records kept here,
each day with its own records, then the records of the days not closed yet. They are kept per
input partition and day (the day the learner learns them with), and dropped once a snapshot
newer than the one before the last has learnt them.

Each record is written once: the records of a partition and day handed on in one batch are one
store entry (a chunk), written as the batch is flushed (:meth:`KeptOutcomes.seal`, which the
engine calls at the end of each batch, starts the next chunk). A store that writes at once
(no batches) gets the chunk again with each record, up to :data:`CHUNK` records a chunk.
"""

from __future__ import annotations

from monitor.core.schedule import Outcome, decode_outcomes, encode_outcomes
from monitor.core.store import Store

#: outcome records in one store entry at most
CHUNK = 200
PREFIX = "outcomes:"


class KeptOutcomes:
    """The outcome records of the days not learnt yet, per input partition."""

    def __init__(self, store: Store) -> None:
        self.store = store
        #: partition -> day -> chunks of records
        self._days: dict[int, dict[int, list[list[Outcome]]]] = {}
        self._seen: dict[tuple[int, int], set[tuple[object, ...]]] = {}
        #: the chunks records are added to until the batch ends: (partition, day) -> chunk
        self._open: dict[tuple[int, int], int] = {}
        self._later = getattr(store, "put_extra_later", None)

    @staticmethod
    def _key(partition: int, day: int, chunk: int) -> str:
        return f"{PREFIX}{day}:{chunk}:p{partition}"

    def keep(self, outcome: Outcome, day: int) -> None:
        """Keep a record to be learnt with ``day`` (once, however often it is handed on)."""
        partition = outcome.partition
        seen = self._seen.setdefault((partition, day), set())
        if outcome.key in seen:
            return
        seen.add(outcome.key)
        chunks = self._days.setdefault(partition, {}).setdefault(day, [])
        at = self._open.get((partition, day))
        if at is None or (self._later is None and len(chunks[at]) >= CHUNK):
            at = self._open[(partition, day)] = len(chunks)
            chunks.append([])
        chunk = chunks[at]
        chunk.append(outcome)
        if self._later is not None:  # (again: the store may have been flushed since)
            self._later(self._key(partition, day, at), lambda: encode_outcomes(chunk), partition)
        else:
            text = encode_outcomes(chunks[at])
            self.store.put_extra(self._key(partition, day, at), text, partition)

    def seal(self) -> None:
        """The batch ends: the records handed on from now on go to new chunks."""
        self._open.clear()

    def learnt(self, partition: int, closed: int) -> None:
        """The days of ``partition`` up to ``closed`` need their records no longer (a snapshot
        of the learner has learnt them): drop them."""
        days = self._days.get(partition, {})
        for day in [d for d in days if d <= closed]:
            for chunk in range(len(days[day])):
                self.store.delete_extra(self._key(partition, day, chunk), partition)
            del days[day]
            self._seen.pop((partition, day), None)
            self._open.pop((partition, day), None)

    def recover(self, partition: int, closed: int | None) -> list[tuple[int, Outcome]]:
        """The records ``partition`` kept for days after ``closed`` (with their days). Those of
        days learnt already stay in the store until :meth:`learnt` drops them (a restart
        learns them again after the learner's snapshot)."""
        found: dict[int, dict[int, list[Outcome]]] = {}
        for key, text in list(self.store.extras(PREFIX)):
            day, chunk, home = self._parse(key)
            if home == partition:
                found.setdefault(day, {})[chunk] = decode_outcomes(text)
        self._days[partition] = {}
        out = []
        for day, chunks in sorted(found.items()):
            ordered = [chunks.get(i, []) for i in range(max(chunks) + 1)]
            self._days[partition][day] = ordered
            self._seen[(partition, day)] = {o.key for chunk in ordered for o in chunk}
            if closed is None or day > closed:
                out += [(day, o) for chunk in ordered for o in chunk]
        return out

    def log(self, after: int, through: int) -> dict[int, list[Outcome]]:
        """The records of every partition in the store kept for each day from ``after + 1`` to
        ``through`` (the outcomes the learner learnt with those days)."""
        found: dict[int, list[tuple[int, int, list[Outcome]]]] = {}
        for key, text in list(self.store.extras(PREFIX)):
            day, chunk, home = self._parse(key)
            if after < day <= through:
                found.setdefault(day, []).append((home, chunk, decode_outcomes(text)))
        return {
            day: [o for _, _, chunk in sorted(chunks, key=lambda c: c[:2]) for o in chunk]
            for day, chunks in found.items()
        }

    @staticmethod
    def _parse(key: str) -> tuple[int, int, int]:
        day, chunk, home = key[len(PREFIX) :].split(":")
        return int(day), int(chunk), int(home[1:])

    def release(self, partition: int) -> None:
        """Forget what is held for ``partition`` (the store keeps it)."""
        self._days.pop(partition, None)
        for key in [k for k in self._seen if k[0] == partition]:
            del self._seen[key]
        for key in [k for k in self._open if k[0] == partition]:
            del self._open[key]
