"""Scenarios: how the environment changes over the simulated period.

Each scenario says, per region and day, how much more likely borrowers are to lose income
(``hazard``), how their spending moves (``spend``), the region's unemployment indicator, and how
the platform lends (limit increases, drawdowns). Its ``truth`` records where and when the change
starts, in the backtest report's terms.
"""

from __future__ import annotations

from dataclasses import dataclass

BASE_UNEMPLOYMENT = {"north": 5.2, "south": 4.6, "east": 5.8, "west": 4.9}


@dataclass(frozen=True)
class Scenario:
    """The environment of one simulation."""

    name: str
    shock_day: int | None
    shock_region: str | None
    regions: tuple[str, ...]

    def active(self, day: int) -> bool:
        """True once the scenario's change has started."""
        return self.shock_day is not None and day >= self.shock_day

    def hazard(self, region: str, day: int) -> float:
        """Multiplier of the daily chance of losing income."""
        if not self.active(day):
            return 1.0
        ramp = min((day - (self.shock_day or 0)) / 7.0, 1.0)
        if self.name == "macro-shock" and region == self.shock_region:
            return 1.0 + 11.0 * ramp
        if self.name == "liquidity-squeeze":
            return 1.0 + 3.0 * ramp
        if self.name == "limit-growth":
            return 1.0 + 0.8 * ramp
        return 1.0

    def spend(self, day: int) -> float:
        """Multiplier of spending (more credit, more spending)."""
        if self.name == "limit-growth" and self.active(day):
            return 1.25
        return 1.0

    def income(self, day: int) -> float:
        """Multiplier of income (a squeeze cuts it)."""
        if self.name == "liquidity-squeeze" and self.active(day):
            return 0.8
        return 1.0

    def unemployment(self, region: str, day: int) -> float:
        """The region's unemployment indicator (percent) before noise."""
        base = BASE_UNEMPLOYMENT.get(region, 5.0)
        if not self.active(day):
            return base
        ramp = min((day - (self.shock_day or 0)) / 7.0, 1.0)
        if self.name == "macro-shock" and region == self.shock_region:
            return base + 4.0 * ramp
        if self.name == "liquidity-squeeze":
            return base + 1.5 * ramp
        return base

    def limit_raise(self, day: int) -> float:
        """Chance per account and day that the platform raises a limit."""
        if self.name == "limit-growth" and self.active(day) and day < (self.shock_day or 0) + 30:
            return 0.03
        return 0.0015

    def drawdown_rate(self, day: int) -> float:
        """Multiplier of cash-loan drawdowns."""
        return 3.0 if self.name == "limit-growth" and self.active(day) else 1.0


SCENARIOS = ("baseline", "macro-shock", "limit-growth", "liquidity-squeeze")


def make(
    name: str, days: int, regions: tuple[str, ...], shock_day: int | None, shock_region: str | None
) -> Scenario:
    """The scenario of that name, with its defaults filled in."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}: choose one of {', '.join(SCENARIOS)}")
    if name == "baseline":
        return Scenario(name, None, None, regions)
    day = shock_day if shock_day is not None else int(days * 0.4)
    region = (shock_region or regions[0]) if name == "macro-shock" else None
    if region is not None and region not in regions:
        raise ValueError(f"shock region {region!r} is not one of {', '.join(regions)}")
    return Scenario(name, day, region, regions)
