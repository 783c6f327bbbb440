"""The models in service: a fallback (the expert scorecard, or a model warm-started from the
lender's labelled history), the online champion and a challenger, with the promotion rule that
decides which of them scores.

Every resolved outcome is first scored by each model (before any of them learns from it), so all
are judged on the same predictions, then every learning model learns it. The judge is the mean
log loss over the last ``window`` outcomes.

Promotion rule: the fallback scores until the champion has learned ``min_labels`` outcomes
(``min_positives`` of them positive) and its windowed log loss is lower than the fallback's;
from then on the champion scores, falling back if it ever does worse again. The fallback is the
scorecard on a cold start; after ``monitor train --truth`` it is the warm-started model, frozen,
and the champion starts as a copy of it and keeps learning: the online model scores only while it
beats what the lender's history taught. A challenger that beats the champion's windowed log loss
by ``margin`` for ``patience`` consecutive outcomes leads (:attr:`ModelBook.challenger_leads`,
exported as ``monitor_model_challenger_leads`` and logged once when it starts leading); an online
challenger is never switched in. A challenger fitted offline (the boosted trees of ``monitor
train --trees``) is promoted by the champion's rule: it scores while it is the one of the two
with the lower windowed log loss and beats the fallback's. Every score names the version that
made it: ``<model>@<labels learned>`` (for the warm-started fallback, the examples it was
fitted on).
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import pickle
from collections import deque
from dataclasses import dataclass
from typing import Any

from monitor.core import scoring
from monitor.core.behaviour import BehaviourWatch
from monitor.core.features import FEATURE_NAMES
from monitor.core.scoring import Model, OnlineLogistic, Scorecard

log = logging.getLogger(__name__)

#: Version of the checkpoint layout; a checkpoint of another version is refused with a sentence.
#: 2: banded, phase-crossed inputs with AdaGrad and balanced learning, and the behaviour detector.
#: 3: a fallback role that can be a warm-started model, what it was trained on, the feature set.
CHECKPOINT_FORMAT = 3
#: Older formats a checkpoint is upgraded from (their fallback is the scorecard).
_UPGRADABLE = frozenset({2})


def input_definition() -> str:
    """A short digest of how features become model inputs (scales, centres, bands, steps).

    Two versions with the same feature names but another input definition would read a
    checkpoint's weights as meaning something else, so the digest is checkpointed and compared.
    """
    spec = repr(
        (
            sorted(scoring.SCALES.items()),
            sorted(scoring.CENTRES.items()),
            sorted(scoring.BANDS.items()),
            scoring.DPD_STEPS,
            sorted(scoring.UNUSED),
        )
    )
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


class Frozen:
    """A fitted model that no longer learns: the warm-started fallback.

    >>> model = OnlineLogistic()
    >>> frozen = Frozen(model, "warm-start")
    >>> frozen.learn({"dpd": 40.0}, True)
    >>> model.seen
    [0, 0]
    """

    def __init__(self, model: Model, name: str = "warm-start") -> None:
        self.model = model
        self.name = name

    def predict(self, x: dict[str, float]) -> float:
        return self.model.predict(x)

    def contributions(self, x: dict[str, float]) -> dict[str, float]:
        return self.model.contributions(x)

    def learn(self, x: dict[str, float], y: bool) -> None:
        return None


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
    """Fallback, champion and challenger; which one scores; the labels learned."""

    def __init__(
        self,
        champion: Model | None = None,
        challenger: Model | None = None,
        min_labels: int = 300,
        min_positives: int = 15,
        window: int = 1000,
        margin: float = 0.005,
        patience: int = 500,
        fallback: Model | None = None,
    ) -> None:
        self.fallback = Judged(fallback or Scorecard(), window)
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
        #: whether the challenger may score by the champion's rule (a model fitted offline)
        self.promote_challenger = False
        self._active = self.fallback
        #: the behaviour-change detector, checkpointed with the models
        self.behaviour = BehaviourWatch()
        self.format = CHECKPOINT_FORMAT
        #: the feature names and input definition the models were built over
        self.feature_set: tuple[str, ...] = FEATURE_NAMES
        self.inputs = input_definition()
        #: what the warm-started fallback was trained on (None on a cold start)
        self.trained: dict[str, Any] | None = None

    @classmethod
    def warm_started(
        cls,
        model: OnlineLogistic,
        trained: dict[str, Any],
        behaviour: BehaviourWatch | None = None,
        challenger: Model | None = None,
        **rule: Any,
    ) -> ModelBook:
        """A book whose fallback is ``model`` frozen, and whose champion and challenger start
        as copies of it and keep learning (the challenger at a fifth of the step size).

        A ``challenger`` fitted offline (it does not learn) takes the challenger's place and is
        promoted by the champion's rule. ``trained`` says what the model was fitted on (files,
        counts, positives, dates); it is kept in the checkpoint and shown in reports.
        """
        champion = copy.deepcopy(model)
        champion.name = "online-logistic"
        if challenger is None:
            slow = copy.deepcopy(model)
            slow.name = "online-logistic-slow"
            optimizer = slow.regression.optimizer
            optimizer.lr.learning_rate = optimizer.lr.learning_rate / 5
            challenger = slow
        frozen = copy.deepcopy(model)
        book = cls(champion, challenger, fallback=Frozen(frozen, "warm-start"), **rule)
        book.promote_challenger = not isinstance(challenger, OnlineLogistic)
        book.trained = dict(trained)
        if behaviour is not None:
            book.behaviour = behaviour
        return book

    @property
    def fallback_role(self) -> str:
        """``scorecard`` on a cold start, ``warm_start`` when the fallback was trained."""
        return "scorecard" if isinstance(self.fallback.model, Scorecard) else "warm_start"

    @property
    def fallback_labels(self) -> int:
        """Examples the fallback was fitted on (0 for the scorecard)."""
        return int((self.trained or {}).get("examples", 0))

    @property
    def warmed_up(self) -> bool:
        """True once the champion (or a promoted challenger) scores."""
        return self._active is not self.fallback

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
        if self.warmed_up:
            return f"{self.active.name}@{self.labels}"
        return f"{self.active.name}@{self.fallback_labels}"

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
        best = self.champion
        if getattr(self, "promote_challenger", False) and self.challenger.loss < best.loss:
            best = self.challenger
        better = best.loss < self.fallback.loss
        self._active = best if ready and better else self.fallback
        if self.challenger.loss < self.champion.loss - self.margin:
            self.challenger_streak += 1
            if self.challenger_streak == self.patience:
                log.info(
                    "challenger %s leads: log loss %.4f against the champion's %.4f for %d "
                    "outcomes in a row (it is not switched in)",
                    self.challenger.model.name,
                    self.challenger.loss,
                    self.champion.loss,
                    self.patience,
                )
        else:
            self.challenger_streak = 0

    def judged(self) -> dict[str, Judged]:
        """The models by role (``scorecard`` or ``warm_start``, ``champion``, ``challenger``)."""
        return {
            self.fallback_role: self.fallback,
            "champion": self.champion,
            "challenger": self.challenger,
        }

    def roles(self) -> dict[str, dict[str, Any]]:
        """How each role is doing, for reports: its model, windowed log loss, whether it scores."""
        out: dict[str, dict[str, Any]] = {}
        for role, judged in self.judged().items():
            out[role] = {
                "model": judged.model.name,
                "log_loss": round(judged.loss, 5) if judged.losses else None,
                "judged": len(judged.losses),
                "active": judged.model is self.active,
            }
        out["challenger"]["leads"] = self.challenger_leads
        return out

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
        if found in _UPGRADABLE:  # a scorecard fallback, built over this feature set
            book.format, book.trained = CHECKPOINT_FORMAT, None
            book.promote_challenger = False
            book.feature_set, book.inputs = FEATURE_NAMES, input_definition()
        if found != CHECKPOINT_FORMAT and found not in _UPGRADABLE:
            raise ValueError(
                f"the checkpoint is in model format {found}, this version reads format "
                f"{CHECKPOINT_FORMAT}: retrain it with monitor train or start afresh"
            )
        missing = [n for n in book.feature_set if n not in FEATURE_NAMES]
        new = [n for n in FEATURE_NAMES if n not in book.feature_set]
        if missing or new:
            parts = [f"features {', '.join(missing)} that this version lacks"] if missing else []
            parts += [f"not the features {', '.join(new)}"] if new else []
            raise ValueError(
                f"the checkpoint's models were built over {' and '.join(parts)}: retrain it "
                "with monitor train or start afresh"
            )
        if book.feature_set != FEATURE_NAMES:
            raise ValueError(
                "the checkpoint's models were built over the same features in another order: "
                "retrain it with monitor train or start afresh"
            )
        if book.inputs != input_definition():
            raise ValueError(
                "the checkpoint's models turn features into inputs differently (other scales, "
                "bands or DPD steps): retrain it with monitor train or start afresh"
            )
        return book
