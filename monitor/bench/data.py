"""Bench input: simulated event lines, split into a pre-loaded part and a live part."""

from __future__ import annotations

import math
from dataclasses import dataclass

import orjson

from monitor import simulator as sim

#: Events per account over 180 simulated days, measured on the baseline scenario (about 12.7).
EVENTS_PER_ACCOUNT_180D = 12.7


@dataclass
class BenchData:
    """Lines to pre-load (``preload``) and lines to offer later at a fixed rate (``live``)."""

    preload: list[bytes]
    live: list[bytes]
    accounts: int


def make_data(events: int, accounts: int, live: int, seed: int = 7) -> BenchData:
    """Simulate ``accounts`` borrowers long enough for ``events + live`` lines, in time order.

    The first ``events`` lines are pre-loaded; the ``live`` lines that follow them in event time
    continue the same accounts, so the live phase scores accounts that already have history.
    """
    wanted = events + live
    days = max(30, math.ceil(180 * wanted / (accounts * EVENTS_PER_ACCOUNT_180D) * 1.1))
    simulation = sim.simulate(sim.SimConfig(accounts=accounts, days=days, seed=seed))
    lines = [orjson.dumps(event) for event in simulation.events]
    if len(lines) < wanted:
        raise ValueError(
            f"{accounts} accounts over {days} days give {len(lines)} events, fewer than the "
            f"{wanted} asked: raise --accounts or lower --events."
        )
    return BenchData(lines[:events], lines[events:wanted], accounts)
