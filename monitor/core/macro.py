"""Regional macro indicators joined into account features.

Each region keeps the latest value of each indicator and a slow baseline (an exponentially
weighted mean of earlier values), so a sudden rise shows as ``value - baseline``.

>>> book = MacroBook()
>>> for v in (5.0, 5.0, 5.0, 9.0):
...     book.update("north", "unemployment_rate", v)
>>> book.level("north"), round(book.change("north"), 2)
(9.0, 4.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

INDICATOR = "unemployment_rate"
_BASELINE_WEIGHT = 0.1


@dataclass
class MacroBook:
    """Latest value and baseline of each (region, indicator)."""

    values: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    offset: int = -1  # input offset of the last reading applied

    def update(self, region: str, indicator: str, value: float) -> None:
        """Record a new reading."""
        series = self.values.setdefault(region, {})
        if indicator not in series:
            series[indicator] = [value, value]
            return
        latest, baseline = series[indicator]
        baseline = baseline + _BASELINE_WEIGHT * (latest - baseline)
        series[indicator] = [value, baseline]

    def level(self, region: str, indicator: str = INDICATOR) -> float:
        """Latest value, 0 when unknown."""
        return self.values.get(region, {}).get(indicator, [0.0, 0.0])[0]

    def change(self, region: str, indicator: str = INDICATOR) -> float:
        """Latest value minus its baseline, 0 when unknown."""
        latest, baseline = self.values.get(region, {}).get(indicator, [0.0, 0.0])
        return latest - baseline

    def copy(self) -> MacroBook:
        """An independent copy (the book as it stands now)."""
        return MacroBook.from_dict(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {"v": self.values, "of": self.offset}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MacroBook:
        values = {r: {k: list(v) for k, v in s.items()} for r, s in d["v"].items()}
        return cls(values, d.get("of", -1))
