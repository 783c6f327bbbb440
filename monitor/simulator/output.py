"""Writing a simulation: events as JSON lines, truth as CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson


def write_events(events: Iterable[dict[str, Any]], path: Path | str) -> int:
    """One compact JSON object per line; returns the count."""
    count = 0
    with open(path, "wb") as out:
        for event in events:
            out.write(orjson.dumps(event) + b"\n")
            count += 1
    return count


def write_truth(truth: Iterable[Any], path: Path | str) -> None:
    """CSV ``account_id,label,as_of,delinquent_at``."""
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["account_id", "label", "as_of", "delinquent_at"])
        for row in truth:
            writer.writerow([row.account_id, row.label, row.as_of, row.delinquent_at])
