"""The models in service: the online champion with its cold-start fallback.

Until the champion has learned from ``min_labels`` resolved outcomes (with at least
``min_positives`` positives) the scorecard scores, so early alerts are not made by an untrained
model. Every score names the version that made it: ``<model>@<labels learned>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.core.scoring import Model, OnlineLogistic, Scorecard


@dataclass(frozen=True, slots=True)
class Score:
    """A probability, the per-feature contributions behind it and the model version."""

    probability: float
    contributions: dict[str, float]
    version: str


class ModelBook:
    """Champion, cold-start fallback and the count of labels learned."""

    def __init__(
        self, champion: Model | None = None, min_labels: int = 300, min_positives: int = 15
    ) -> None:
        self.champion: Model = champion or OnlineLogistic(positive_weight=3.0)
        self.fallback: Model = Scorecard()
        self.min_labels = min_labels
        self.min_positives = min_positives
        self.labels = 0
        self.positives = 0

    @property
    def warmed_up(self) -> bool:
        """True once the champion has learned enough to score."""
        return self.labels >= self.min_labels and self.positives >= self.min_positives

    @property
    def active(self) -> Model:
        """The model that scores now."""
        return self.champion if self.warmed_up else self.fallback

    @property
    def version(self) -> str:
        """Version of the active model."""
        return f"{self.active.name}@{self.labels if self.warmed_up else 0}"

    def score(self, x: dict[str, float]) -> Score:
        """Score one account."""
        model = self.active
        return Score(model.predict(x), model.contributions(x), self.version)

    def learn(self, x: dict[str, float], y: bool) -> None:
        """Learn one resolved outcome."""
        self.champion.learn(x, y)
        self.labels += 1
        self.positives += int(y)
