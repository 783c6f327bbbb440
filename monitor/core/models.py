"""The models in service: a fixed scorecard, the online champion and a challenger, with the
promotion rule that decides which of them scores.

Every resolved outcome is first scored by each model (before any of them learns from it), so all
are judged on the same predictions, then every learning model learns it. The judge is the mean
log loss over the last ``window`` outcomes.

Promotion rule: the scorecard scores until the champion has learned ``min_labels`` outcomes
(``min_positives`` of them positive) and its windowed log loss is lower than the scorecard's;
from then on the champion scores, falling back to the scorecard if it ever does worse again. A
challenger that beats the champion's windowed log loss by ``margin`` for ``patience``
consecutive outcomes is reported (``challenger_leads``) for a person to promote (set
``MONITOR_CHAMPION``); it is never switched in silently. Every score names the version that
made it: ``<model>@<labels learned>``.
"""

from __future__ import annotations

import math
import pickle
from collections import deque
from dataclasses import dataclass

from monitor.core.behaviour import BehaviourWatch
from monitor.core.scoring import Model, OnlineLogistic, Scorecard

#: Version of the checkpoint layout; a checkpoint of another version is refused with a sentence.
#: 2: banded, phase-crossed inputs with AdaGrad and balanced learning, and the behaviour detector.
CHECKPOINT_FORMAT = 2


@dataclass(frozen=True, slots=True)
class Score:
    """A probability and the model version; the per-feature contributions behind it are worked
    out only when asked for (an alert or a risk record needs them, most scorings do not)."""

    probability: float
    version: str
    model: Model
    x: dict[str, float]

    @property
    def contributions(self) -> dict[str, float]:
        """Log-odds each feature added to the score."""
        return self.model.contributions(self.x)


def log_loss(y: bool, p: float) -> float:
    """Log loss of one prediction, with probabilities clipped away from 0 and 1."""
    p = min(max(p, 1e-6), 1 - 1e-6)
    return -math.log(p if y else 1 - p)


class Judged:
    """A model with its recent prequential losses.

    The windowed mean loss is kept as a running sum (the promotion rule reads it four times per
    outcome), summed afresh once per window so that rounding cannot build up.

    >>> judged = Judged(Scorecard(), window=2)
    >>> for y in (True, False, False):
    ...     judged.judge({"dpd": 40.0}, y)
    >>> round(judged.loss, 9) == round(sum(judged.losses) / 2, 9)
    True
    """

    def __init__(self, model: Model, window: int) -> None:
        self.model = model
        self.losses: deque[float] = deque(maxlen=window)
        self.recent: deque[tuple[bool, float]] = deque(maxlen=window)
        self._sum = 0.0
        self._until_resum = window

    def __setstate__(self, state: dict[str, object]) -> None:
        # checkpoints written before the running sum
        self.__dict__.update(state)
        if "_sum" not in state:
            self._sum, self._until_resum = math.fsum(self.losses), 0

    @property
    def loss(self) -> float:
        return self._sum / len(self.losses) if self.losses else math.inf

    def judge(self, x: dict[str, float], y: bool) -> None:
        p = self.model.predict(x)
        loss = log_loss(y, p)
        losses = self.losses
        if len(losses) == losses.maxlen:
            self._sum -= losses[0]
        losses.append(loss)
        self._until_resum -= 1
        if self._until_resum <= 0:
            self._sum, self._until_resum = math.fsum(losses), losses.maxlen or 1
        else:
            self._sum += loss
        self.recent.append((y, p))


class ModelBook:
    """Scorecard, champion and challenger; which one scores; the labels learned."""

    def __init__(
        self,
        champion: Model | None = None,
        challenger: Model | None = None,
        min_labels: int = 300,
        min_positives: int = 15,
        window: int = 1000,
        margin: float = 0.005,
        patience: int = 500,
    ) -> None:
        self.fallback = Judged(Scorecard(), window)
        self.champion = Judged(champion or OnlineLogistic(), window)
        self.challenger = Judged(
            challenger or OnlineLogistic("online-logistic-slow", lr=0.01), window
        )
        self.min_labels = min_labels
        self.min_positives = min_positives
        self.margin = margin
        self.patience = patience
        self.labels = 0
        self.positives = 0
        self.challenger_streak = 0
        self._active = self.fallback
        #: the behaviour-change detector, checkpointed with the models
        self.behaviour = BehaviourWatch()
        self.format = CHECKPOINT_FORMAT

    @property
    def warmed_up(self) -> bool:
        """True once the champion scores."""
        return self._active is self.champion

    @property
    def challenger_leads(self) -> bool:
        """True when the challenger has beaten the champion for ``patience`` outcomes."""
        return self.challenger_streak >= self.patience

    @property
    def active(self) -> Model:
        """The model that scores now."""
        return self._active.model

    @property
    def version(self) -> str:
        """Version of the active model."""
        return f"{self.active.name}@{self.labels if self.warmed_up else 0}"

    def score(self, x: dict[str, float]) -> Score:
        """Score one account."""
        model = self.active
        return Score(model.predict(x), self.version, model, x)

    def learn(self, x: dict[str, float], y: bool) -> None:
        """Judge every model on one resolved outcome, let them learn it, apply the rule."""
        for judged in (self.fallback, self.champion, self.challenger):
            judged.judge(x, y)
        self.champion.model.learn(x, y)
        self.challenger.model.learn(x, y)
        self.labels += 1
        self.positives += int(y)
        ready = self.labels >= self.min_labels and self.positives >= self.min_positives
        better = self.champion.loss < self.fallback.loss
        self._active = self.champion if ready and better else self.fallback
        if self.challenger.loss < self.champion.loss - self.margin:
            self.challenger_streak += 1
        else:
            self.challenger_streak = 0

    def judged(self) -> dict[str, Judged]:
        """The models by role, for metrics."""
        return {
            "scorecard": self.fallback,
            "champion": self.champion,
            "challenger": self.challenger,
        }

    # -- checkpoints ------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The whole book (models, judges, counts) as a checkpoint."""
        return pickle.dumps(self, protocol=5)

    @classmethod
    def from_bytes(cls, data: bytes) -> ModelBook:
        """A book from :meth:`to_bytes` (trusted input: the monitor's own checkpoint).

        Raises ValueError when the data is not a model book or was written in another checkpoint
        format (the models' state changed: retrain with ``monitor train`` or start afresh).
        """
        book = pickle.loads(data)
        if not isinstance(book, cls):
            raise ValueError("the checkpoint does not hold a model book")
        found = getattr(book, "format", 1)
        if found != CHECKPOINT_FORMAT:
            raise ValueError(
                f"the checkpoint is in model format {found}, this version reads format "
                f"{CHECKPOINT_FORMAT}: retrain it with monitor train or start afresh"
            )
        return book
