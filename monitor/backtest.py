"""Offline replay of an events file through the same core as the worker, with no broker."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.core.alerts import AlertPolicy
from monitor.core.engine import Engine, EngineConfig
from monitor.core.events import InvalidEvent, parse_event
from monitor.core.models import ModelBook
from monitor.core.store import MemoryStore
from monitor.settings import Settings


@dataclass
class Replay:
    """Everything one offline replay produced."""

    engine: Engine
    alerts: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    invalid: Counter[str] = field(default_factory=Counter)
    labels: list[tuple[bool, float]] = field(default_factory=list)


def engine_for(settings: Settings) -> Engine:
    """An engine configured like the worker's, over an in-memory store."""
    policy = AlertPolicy(open_at=settings.alert_open, clear_at=settings.alert_clear)
    return Engine(
        MemoryStore(), ModelBook(), EngineConfig(horizon_days=settings.horizon_days, policy=policy)
    )


def replay_lines(lines: Iterable[bytes], settings: Settings | None = None) -> Replay:
    """Run raw event lines through the core (one partition), collecting alerts and labels."""
    settings = settings or Settings()
    run = Replay(engine_for(settings))
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            event = parse_event(line, settings.max_event_bytes)
        except InvalidEvent as exc:
            run.invalid[exc.kind] += 1
            continue
        result = run.engine.process(event, 0)
        run.events += 1
        run.alerts.extend(result.alerts)
        run.labels.extend(result.labels)
    return run


def replay_file(path: Path, settings: Settings | None = None) -> Replay:
    """:func:`replay_lines` over a JSON-lines file."""
    with open(path, "rb") as handle:
        return replay_lines(handle, settings)
