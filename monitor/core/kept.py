"""Outcome records kept in the store until the learner has learnt them.

A worker's learner takes back its models from the store after a restart as they stood when a
day last closed; the outcome records handed on since then are kept here, so that it learns them
too. They are kept per input partition and day, in chunks of at most :data:`CHUNK` records (one
store write per chunk and batch, whatever the day's size), and dropped once their day is learnt.
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
        chunks = self._days.setdefault(partition, {}).setdefault(day, [[]])
        if len(chunks[-1]) >= CHUNK:
            chunks.append([])
        chunks[-1].append(outcome)
        key = self._key(partition, day, len(chunks) - 1)
        self.store.put_extra(key, encode_outcomes(chunks[-1]), partition)

    def learnt(self, partition: int, closed: int) -> None:
        """The days of ``partition`` up to ``closed`` are learnt: drop their records."""
        days = self._days.get(partition, {})
        for day in [d for d in days if d <= closed]:
            for chunk in range(len(days[day])):
                self.store.delete_extra(self._key(partition, day, chunk), partition)
            del days[day]
            self._seen.pop((partition, day), None)

    def recover(self, partition: int, closed: int | None) -> list[tuple[int, Outcome]]:
        """The records ``partition`` kept for days after ``closed`` (with their days); those of
        days learnt already are dropped."""
        found: dict[int, dict[int, list[Outcome]]] = {}
        for key, text in list(self.store.extras(PREFIX)):
            day_text, chunk_text, home = key[len(PREFIX) :].split(":")
            if home != f"p{partition}":
                continue
            day, chunk = int(day_text), int(chunk_text)
            if closed is not None and day <= closed:
                self.store.delete_extra(key, partition)
                continue
            found.setdefault(day, {})[chunk] = decode_outcomes(text)
        self._days[partition] = {}
        out = []
        for day, chunks in sorted(found.items()):
            ordered = [chunks.get(i, []) for i in range(max(chunks) + 1)]
            self._days[partition][day] = ordered
            self._seen[(partition, day)] = {o.key for chunk in ordered for o in chunk}
            out += [(day, o) for chunk in ordered for o in chunk]
        return out

    def release(self, partition: int) -> None:
        """Forget what is held for ``partition`` (the store keeps it)."""
        self._days.pop(partition, None)
        for key in [k for k in self._seen if k[0] == partition]:
            del self._seen[key]
