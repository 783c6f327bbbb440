"""Offline replay of an events file through the same core as the worker, with no broker.

``monitor backtest`` uses it to write the alerts, a JSON report scored against a truth file and
plots; the integration tests use it to know which alerts the worker must produce.
"""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.core.engine import Engine
from monitor.core.events import InvalidEvent, parse_event
from monitor.core.models import ModelBook
from monitor.core.schedule import LABEL
from monitor.core.store import MemoryStore
from monitor.core.timeutil import DAY, parse_time
from monitor.engine_config import engine_config
from monitor.settings import Settings

WEEK = 7 * DAY


@dataclass
class Replay:
    """Everything one offline replay produced."""

    engine: Engine
    alerts: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    invalid: Counter[str] = field(default_factory=Counter)
    labels: list[tuple[bool, float]] = field(default_factory=list)
    first_seen: dict[str, float] = field(default_factory=dict)
    as_of_scores: dict[str, float] = field(default_factory=dict)
    weekly_risk: dict[int, list[float]] = field(
        default_factory=lambda: defaultdict(lambda: [0.0, 0])
    )
    start: float | None = None
    end: float | None = None
    #: day -> segment -> 30+ rate at the start of that day (one partition)
    segment_rates: dict[int, dict[str, float]] = field(default_factory=dict)
    #: account -> the features its as-of score was made from (only when asked for)
    as_of_inputs: dict[str, dict[str, float]] = field(default_factory=dict)
    #: every resolved outcome the models learned: features, outcome, time (only when asked for)
    outcomes: list[tuple[dict[str, float], bool, float]] = field(default_factory=list)
    #: scorings of accounts that owe money, at most one per account per ``record_every_days``:
    #: account, time, features, probability scored (only when asked for)
    scorings: list[tuple[str, float, dict[str, float], float]] = field(default_factory=list)
    #: every score in order: account, time, probability (only when asked for)
    score_log: list[tuple[str, float, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Truth:
    """One row of a truth file (times as epoch seconds, None when empty)."""

    account_id: str
    label: int
    as_of: float | None
    delinquent_at: float | None


def read_truth(path: Path) -> list[Truth]:
    """Read a truth CSV (``account_id,label,as_of,delinquent_at``)."""
    if not path.is_file():
        raise FileNotFoundError(f"no truth file at {path}: check the path.")
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"account_id", "label", "as_of", "delinquent_at"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"truth file {path} lacks the columns {', '.join(sorted(missing))}.")
        for row in reader:
            rows.append(
                Truth(
                    row["account_id"],
                    int(row["label"]),
                    parse_time(row["as_of"]) if row["as_of"] else None,
                    parse_time(row["delinquent_at"]) if row["delinquent_at"] else None,
                )
            )
    return rows


def engine_for(settings: Settings, models: ModelBook | None = None) -> Engine:
    """An engine configured like the worker's, over an in-memory store, with ``models`` (a
    checkpoint's) or fresh ones."""
    return Engine(MemoryStore(), models or ModelBook(), engine_config(settings, 1))


class _Recorder:
    """What a recording replay keeps between scorings: how far apart they are kept."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.last: dict[str, float] = {}


def replay_lines(
    lines: Iterable[bytes],
    settings: Settings | None = None,
    as_of: dict[str, float] | None = None,
    models: ModelBook | None = None,
    record: bool = False,
    record_every_days: float = 0.0,
) -> Replay:
    """Run raw event lines through the core (one partition).

    ``as_of`` maps accounts to a time: the replay keeps each such account's last score before it.
    ``models`` (a checkpoint's) score and learn instead of fresh ones. With ``record`` the replay
    also keeps the features behind each as-of score and every resolved outcome the models learned
    (what ``monitor train`` fits on), and with ``record_every_days`` the scorings of accounts
    that owe money, spaced like the core's snapshots.
    """
    settings = settings or Settings()
    run = Replay(engine_for(settings, models))
    as_of = as_of or {}
    recorder = _Recorder(record_every_days * DAY) if record else None
    _replay(lines, settings, as_of, run, recorder)
    return run


def _replay(
    lines: Iterable[bytes],
    settings: Settings,
    as_of: dict[str, float],
    run: Replay,
    recorder: _Recorder | None,
) -> None:
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            event = parse_event(line, settings.max_event_bytes)
        except InvalidEvent as exc:
            run.invalid[exc.kind] += 1
            continue
        day = int(event.time // DAY)
        if day not in run.segment_rates:
            run.segment_rates[day] = {
                key: seg.rate_30_plus for key, seg in run.engine.book(0).segments.items()
            }
        result = run.engine.process(event, 0)
        run.events += 1
        if run.start is None:
            run.start = event.time
        run.end = max(run.end or event.time, event.time)
        if event.account_id:
            run.first_seen.setdefault(event.account_id, event.time)
        run.alerts.extend(result.alerts)
        run.labels.extend(result.labels)
        if recorder is not None:
            run.score_log.extend(result.scores)
        for n, (account, time, probability) in enumerate(result.scores):
            cutoff = as_of.get(account)
            if cutoff is not None and time < cutoff:
                run.as_of_scores[account] = probability
                if recorder is not None:
                    run.as_of_inputs[account] = result.inputs[n]
            if (
                recorder is not None
                and recorder.every
                and _owes(result.inputs[n])
                and time - recorder.last.get(account, -math.inf) >= recorder.every
            ):
                recorder.last[account] = time
                run.scorings.append((account, time, result.inputs[n], probability))
            week = run.weekly_risk[int(time // WEEK)]
            week[0] += probability
            week[1] += 1
        if recorder is not None:
            run.outcomes.extend(
                (o.x, bool(o.label), event.time) for o in result.outcomes if o.kind == LABEL
            )


def _owes(x: dict[str, float]) -> bool:
    """Whether features say an unpaid bill is ahead or past due (the core's snapshot rule)."""
    return x.get("dpd", 0.0) > 0 or x.get("days_to_next_due", 60.0) < 60.0


def replay_file(
    path: Path,
    settings: Settings | None = None,
    as_of: dict[str, float] | None = None,
    models: ModelBook | None = None,
    record: bool = False,
) -> Replay:
    """:func:`replay_lines` over a JSON-lines file."""
    if not path.is_file():
        raise FileNotFoundError(f"no events file at {path}: check the path.")
    with open(path, "rb") as handle:
        return replay_lines(handle, settings, as_of, models, record)
