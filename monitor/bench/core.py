"""The core alone: the bench's simulated events replayed through the engine, CPU time per event.

``python -m monitor.bench.core [--events N] [--accounts A] [--batch B] [--profile FILE]``
simulates the same events as ``monitor bench`` (same seed, same sizes) and replays them through
what the worker runs for each one, with no broker: decoding and validation, the engine, and the
account-state records it would write to the changelog (a write-back store flushed every ``B``
events, as the worker flushes each batch, each state encoded by the accounts table's codec), and
the other per-partition state it writes (portfolio books, the learner, kept outcomes). It
prints the CPU time per event (``time.process_time``) over the late events, the last quarter,
which are the dearer ones (accounts with history, outcomes to learn), and the changelog bytes
per event over the same events. With ``--profile`` it also writes a cProfile of the late events
and prints its top functions.

The figures are CPU time of this process only, so other work on the machine moves them less than
it moves a wall-clock rate; still compare two versions in the same sitting.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from kafka.partitioner.default import murmur2

from monitor.bench.data import make_data
from monitor.bench.run import LATE_SHARE
from monitor.core.engine import Engine
from monitor.core.events import InvalidEvent, parse_event
from monitor.core.macro import MacroBook
from monitor.core.models import ModelBook
from monitor.core.state import AccountState
from monitor.core.store import MemoryStore, WriteBackStore
from monitor.engine_config import engine_config
from monitor.kafka.io import key_of
from monitor.settings import Settings
from monitor.worker.app import GC_THRESHOLDS
from monitor.worker.tablestore import deletions_of, records_of

#: Live events ``monitor bench`` simulates after the pre-load at its default 60 s live phase.
LIVE_EVENTS = 600_000


class EncodingStore(MemoryStore):
    """A :class:`MemoryStore` that encodes every state written to it as the changelog would
    (:func:`~monitor.worker.tablestore.records_of`: its own record, and those of the pending
    snapshots made or resolved since its last write) and counts the records and bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.records = 0
        self.bytes = 0
        self.extra_bytes = 0  # the other per-partition state (portfolio, learner, outcomes)
        #: the same by kind (the key up to its first ``:``)
        self.extra_by_kind: Counter[str] = Counter()

    def put_extra(self, key: str, value: str, partition: int = 0) -> None:
        size = len(key) + len(value) + 2
        self.extra_bytes += size
        self.extra_by_kind[key.split(":", 1)[0]] += size
        super().put_extra(key, value, partition)

    def put_macro(self, partition: int, book: MacroBook) -> None:
        size = len(orjson.dumps(book.to_dict())) + len(f'"p{partition}"')
        self.extra_bytes += size
        self.extra_by_kind["macro book"] += size
        super().put_macro(partition, book)

    def put(self, state: AccountState) -> None:
        for key, _, record, _ in records_of(state):
            self.records += 1
            self.bytes += len(record or b"") + len(orjson.dumps(key))  # the key as JSON
        super().put(state)

    def delete(self, account_id: str) -> None:
        state = self.accounts.get(account_id)
        for key, _ in deletions_of(state) if state is not None else []:
            self.records += 1
            self.bytes += len(orjson.dumps(key))
        super().delete(account_id)


@dataclass
class CoreFigures:
    """What a core replay measured over its late events."""

    events: int
    late_events: int
    cpu_us_per_event: float
    changelog_records_per_event: float
    changelog_bytes_per_event: float
    extra_bytes_per_event: float
    #: ``extra_bytes_per_event`` by kind (the store key's prefix)
    extra_by_kind: dict[str, float]
    looks_per_event: float
    alerts: int
    seconds: float

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("events replayed", f"{self.events}"),
            ("late events (last quarter)", f"{self.late_events}"),
            ("CPU us per late event", f"{self.cpu_us_per_event:.1f}"),
            ("looks per late event", f"{self.looks_per_event:.2f}"),
            ("changelog records per late event", f"{self.changelog_records_per_event:.2f}"),
            ("changelog bytes per late event", f"{self.changelog_bytes_per_event:.0f}"),
            ("other state bytes per late event", f"{self.extra_bytes_per_event:.0f}"),
            *(
                (f"  of which {kind}", f"{size:.0f}")
                for kind, size in sorted(self.extra_by_kind.items(), key=lambda kv: -kv[1])
            ),
            ("alerts (all events)", f"{self.alerts}"),
            ("replay seconds (wall)", f"{self.seconds:.1f}"),
        ]


def messages(lines: Sequence[bytes], partitions: int = 1) -> list[tuple[int, int, bytes]]:
    """``lines`` as the bench's producer spreads them over ``partitions`` input partitions:
    (partition, offset, line), keyed by account with Kafka's default partitioner, macro
    indicators and reserves to every partition."""
    out = []
    offsets = [0] * partitions
    for line in lines:
        key, broadcast = key_of(line)
        if broadcast:
            targets = list(range(partitions))
        elif key is None:
            targets = [0]
        else:
            targets = [(murmur2(key) & 0x7FFFFFFF) % partitions]
        for partition in targets:
            out.append((partition, offsets[partition], line))
            offsets[partition] += 1
    return out


def replay(
    lines: Sequence[bytes],
    batch: int = 100,
    settings: Settings | None = None,
    profile: cProfile.Profile | None = None,
    partitions: int = 1,
) -> CoreFigures:
    """Replay ``lines`` through the core (spread over ``partitions`` input partitions held by
    one engine, offsets as on a topic) and measure the last
    :data:`~monitor.bench.run.LATE_SHARE` of them."""
    settings = settings or Settings()
    inner = EncodingStore()
    store = WriteBackStore(inner)
    engine = Engine(store, ModelBook(), engine_config(settings, partitions=partitions))
    spread = messages(lines, partitions)
    late_from = int(len(spread) * (1 - LATE_SHARE))
    alerts = looks = 0
    cpu_start = 0.0
    records0 = bytes0 = extra0 = looks0 = 0
    kinds0: Counter[str] = Counter()
    started = time.monotonic()
    for index, (partition, offset, line) in enumerate(spread):
        if index == late_from:
            engine.save()
            store.flush()
            records0, bytes0, looks0 = inner.records, inner.bytes, looks
            extra0 = inner.extra_bytes
            kinds0 = Counter(inner.extra_by_kind)
            if profile is not None:
                profile.enable()
            cpu_start = time.process_time()
        try:
            event = parse_event(line, settings.max_event_bytes)
        except InvalidEvent:
            continue
        result = engine.process(event, partition, offset)
        alerts += len(result.alerts)
        looks += result.timers
        if index % batch == batch - 1:
            engine.save()
            store.flush()
    engine.save()
    store.flush()
    cpu = time.process_time() - cpu_start
    if profile is not None:
        profile.disable()
    late = max(len(spread) - late_from, 1)
    return CoreFigures(
        events=len(spread),
        late_events=late,
        cpu_us_per_event=cpu / late * 1e6,
        changelog_records_per_event=(inner.records - records0) / late,
        changelog_bytes_per_event=(inner.bytes - bytes0) / late,
        extra_bytes_per_event=(inner.extra_bytes - extra0) / late,
        extra_by_kind={
            kind: (size - kinds0[kind]) / late for kind, size in inner.extra_by_kind.items()
        },
        looks_per_event=(looks - looks0) / late,
        alerts=alerts,
        seconds=time.monotonic() - started,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m monitor.bench.core", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--events", type=int, default=200_000, help="events replayed")
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100, help="events per state flush")
    parser.add_argument(
        "--partitions", type=int, default=1, help="input partitions (all held by one engine)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="replays (each measured)")
    parser.add_argument("--profile", help="write a cProfile of the late events here")
    parser.add_argument("--top", type=int, default=30, help="profile rows printed")
    args = parser.parse_args(argv)
    gc.set_threshold(*GC_THRESHOLDS)  # as the worker
    # the same simulation as ``monitor bench`` at its default live phase (same days, same events)
    data = make_data(args.events, args.accounts, min(args.events, LIVE_EVENTS))
    lines = data.preload
    results: list[Any] = []
    for round_ in range(args.rounds):
        profile = cProfile.Profile() if args.profile and round_ == 0 else None
        figures = replay(lines, args.batch, profile=profile, partitions=args.partitions)
        results.append(figures)
        width = max(len(label) for label, _ in figures.rows())
        print(f"round {round_ + 1}")
        for label, value in figures.rows():
            print(f"  {label:<{width}}  {value}")
        if profile is not None:
            profile.dump_stats(args.profile)
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.top)
            print(out.getvalue())
    if len(results) > 1:
        best = min(r.cpu_us_per_event for r in results)
        print(f"best CPU us per late event over {len(results)} rounds: {best:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
