"""Change detection on the portfolio's daily series, raising portfolio alerts.

Once a day (on each partition's event-time clock) every segment (product, region) gets one
reading per watched series, and a Page-Hinkley detector (River) per series looks for a sustained
rise. A segment is compared with the rest of its product, so what moves all regions together
(billing cycles, seasonality) does not alarm, while a regional shock does. Watched series:

- ``past_due_rate`` — share of the segment's accounts 1+ days past due, minus the product's;
- ``mean_pd`` — the segment's mean scored probability, minus the product's (score drift);
- ``unemployment`` — the region's unemployment indicator (a key feature, absolute).

Each alert names the segment, the size of the change (the latest reading against the detector's
running mean before the change) and when it started (the first day of the rise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from river import drift

#: series -> (min days before detecting, allowed drift per day, alarm threshold)
SERIES: dict[str, tuple[int, float, float]] = {
    "past_due_rate": (28, 0.008, 0.25),
    "mean_pd": (28, 0.006, 0.20),
    "unemployment": (14, 0.1, 2.0),
}


@dataclass
class SeriesWatch:
    """A Page-Hinkley detector on one daily series, with when the current rise began."""

    name: str
    detector: Any = None
    days: int = 0
    mean: float = 0.0
    rise_start: int = -1
    last: float = 0.0
    alarm_level: float | None = None  # halfway between the old level and the changed one

    def __post_init__(self) -> None:
        if self.detector is None:
            min_days, delta, threshold = SERIES[self.name]
            self.detector = drift.PageHinkley(
                min_instances=min_days, delta=delta, threshold=threshold, mode="up"
            )

    def update(self, day: int, value: float) -> dict[str, Any] | None:
        """Feed one day; return the change found (size, started day) or None."""
        baseline = self.mean
        self.days += 1
        self.mean += (value - self.mean) / self.days
        if value > baseline + SERIES[self.name][1]:
            if self.rise_start < 0:
                self.rise_start = day
        else:
            self.rise_start = -1
        self.last = value
        self.detector.update(value)
        if self.detector.drift_detected:
            found = {
                "series": self.name,
                "size": round(value - baseline, 5),
                "started": self.rise_start if self.rise_start >= 0 else day,
                "baseline": round(baseline, 5),
                "value": round(value, 5),
            }
            self.days, self.mean, self.rise_start = 0, value, -1  # learn the new level
            self.alarm_level = (baseline + value) / 2
            return found
        return None

    @property
    def holding(self) -> bool:
        """True while the series stays above the halfway mark of its last change."""
        return self.alarm_level is not None and self.last > self.alarm_level


@dataclass
class SegmentWatch:
    """The detectors of one segment."""

    series: dict[str, SeriesWatch] = field(
        default_factory=lambda: {name: SeriesWatch(name) for name in SERIES}
    )

    def restart(self, name: str) -> None:
        """Start the detector of series ``name`` afresh (what it learnt no longer applies)."""
        self.series[name] = SeriesWatch(name)

    def update(self, day: int, readings: dict[str, float]) -> list[dict[str, Any]]:
        """Feed one day's readings; return the changes found."""
        found = []
        for name, value in readings.items():
            change = self.series[name].update(day, value)
            if change is not None:
                found.append(change)
        return found

    @property
    def holding(self) -> bool:
        """True while any series stays changed."""
        return any(watch.holding for watch in self.series.values())
