"""The simulation: borrowers, macro indicators, the merged stream and its truth."""

from __future__ import annotations

import datetime as dt
import heapq
import random
from dataclasses import dataclass
from typing import Any

from monitor.core.timeutil import DAY, iso_time, parse_date, parse_time
from monitor.core.truth import first_30_plus
from monitor.core.vocabulary import CASH_LOAN, CREDIT_PAY, PRODUCTS
from monitor.simulator import scenarios
from monitor.simulator.borrower import live, make_borrower

_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class SimConfig:
    """What to simulate."""

    accounts: int = 2000
    days: int = 180
    seed: int = 7
    scenario: str = "baseline"
    start: dt.date = dt.date(2026, 1, 1)
    regions: tuple[str, ...] = ("north", "south", "east", "west")
    shock_day: int | None = None
    shock_region: str | None = None


@dataclass(frozen=True)
class TruthRow:
    """Whether and when an account first reached 30+ days past due."""

    account_id: str
    label: int
    as_of: str
    delinquent_at: str


@dataclass
class Simulation:
    """The stream, its per-account truth and the scenario's truth."""

    events: list[dict[str, Any]]
    truth: list[TruthRow]
    scenario: dict[str, Any]


def simulate(config: SimConfig) -> Simulation:
    """Run a simulation; the same config always gives the same output."""
    if config.accounts < 1 or config.days < 1:
        raise ValueError("a simulation needs at least one account and one day")
    scenario = scenarios.make(
        config.scenario, config.days, config.regions, config.shock_day, config.shock_region
    )
    offset = (config.start - _EPOCH).days
    streams: list[list[tuple[float, int, dict[str, Any]]]] = []
    truth: list[TruthRow] = []
    for i in range(config.accounts):
        rng = random.Random(f"{config.seed}:{i}")
        borrower = make_borrower(i, rng, config.days, config.regions)
        products = {CREDIT_PAY} if rng.random() < 0.9 else set()
        if rng.random() < 0.35 or not products:
            products.add(CASH_LOAN)
        borrower.events = []
        live(borrower, rng, config.days, scenario, products)
        kept = sorted((d, n, e) for n, (d, e) in enumerate(borrower.events) if d < config.days)
        events = [(d + offset, n, _shift(e, offset)) for d, n, e in kept]
        truth.append(
            _truth(borrower.account_id, [e for _, _, e in events], (offset + config.days) * DAY)
        )
        streams.append(events)
    streams.append(_macro(config, scenario, offset))
    merged = [event for _, _, event in heapq.merge(*streams, key=lambda t: (t[0], t[1]))]
    return Simulation(merged, truth, _scenario_truth(config, scenario, offset))


def _shift(event: dict[str, Any], offset: int) -> dict[str, Any]:
    """Move an event from simulation days to calendar time."""
    event["event_time"] = iso_time(parse_time(event["event_time"]) + offset * DAY)
    for field in ("due_date", "new_due_date"):
        if field in event:
            day = parse_date(event[field]) + offset
            event[field] = (_EPOCH + dt.timedelta(days=day)).isoformat()
    return event


def _macro(
    config: SimConfig, scenario: scenarios.Scenario, offset: int
) -> list[tuple[float, int, dict[str, Any]]]:
    rng = random.Random(f"{config.seed}:macro")
    out = []
    n = 0
    for day in range(0, config.days, 7):
        for region in config.regions:
            n += 1
            value = scenario.unemployment(region, day) + rng.gauss(0.0, 0.05)
            out.append(
                (
                    offset + day + 0.02,
                    -1,
                    {
                        "schema_version": 1,
                        "event_id": f"macro-{n:05d}",
                        "event_time": iso_time((offset + day + 0.02) * DAY),
                        "type": "macro_indicator",
                        "region": region,
                        "indicator": "unemployment_rate",
                        "value": round(value, 2),
                    },
                )
            )
    return out


def _truth(account_id: str, events: list[dict[str, Any]], end: float) -> TruthRow:
    """When the account first reached 30+ DPD, by the core's own DPD definition."""
    when = first_30_plus(events, end)
    return TruthRow(account_id, int(when is not None), "", iso_time(when) if when else "")


def _scenario_truth(config: SimConfig, scenario: scenarios.Scenario, offset: int) -> dict[str, Any]:
    start = (offset + scenario.shock_day) * DAY if scenario.shock_day is not None else None
    segments = []
    if scenario.name == "macro-shock":
        segments = [f"{p}/{scenario.shock_region}" for p in PRODUCTS]
    elif scenario.name in ("liquidity-squeeze", "limit-growth"):
        segments = [f"{p}/all" for p in PRODUCTS]
    return {
        "name": scenario.name,
        "seed": config.seed,
        "accounts": config.accounts,
        "start": iso_time(offset * DAY),
        "days": config.days,
        "shock_start": iso_time(start) if start is not None else None,
        "shock_region": scenario.shock_region,
        "affected_segments": segments,
    }
