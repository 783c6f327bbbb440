"""Scoring models: an expert scorecard for the cold start and the online River champion.

A model maps a feature dict to the probability that the account reaches 30+ days past due within
the label horizon, and says how much each feature pushed the score (its contributions, in log-odds),
which the alert explanations are built from.
"""

from __future__ import annotations

import math
from typing import Protocol

from river import compose, linear_model, optim, preprocessing

#: Scorecard weights (log-odds per unit) and the value each feature is centred on. Set by hand from
#: credit-risk practice, not fitted: it only scores until the online model has learned enough.
SCORECARD: dict[str, tuple[float, float]] = {
    "dpd": (0.14, 0.0),
    "past_due_bills": (0.5, 0.0),
    "share_minimum_only": (1.0, 0.0),
    "share_missed": (2.0, 0.0),
    "pay_to_due_ratio": (-1.5, 1.0),
    "consecutive_misses": (0.6, 0.0),
    "utilisation": (1.2, 0.5),
    "utilisation_change": (0.8, 0.0),
    "days_since_payment": (0.02, 30.0),
    "borrow_to_repay_90d": (0.8, 0.0),
    "macro_unemployment_change": (0.3, 0.0),
}
SCORECARD_INTERCEPT = -3.6


def sigmoid(z: float) -> float:
    """Logistic function, safe for large magnitudes."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class Model(Protocol):
    """What the engine needs of a scoring model."""

    name: str

    def predict(self, x: dict[str, float]) -> float: ...

    def contributions(self, x: dict[str, float]) -> dict[str, float]: ...

    def learn(self, x: dict[str, float], y: bool) -> None: ...


class Scorecard:
    """A fixed logistic scorecard (does not learn).

    >>> card = Scorecard()
    >>> good = {"pay_to_due_ratio": 1.0, "utilisation": 0.2}
    >>> bad = {"dpd": 20.0, "share_missed": 0.5, "pay_to_due_ratio": 0.1, "utilisation": 0.95}
    >>> card.predict(good) < 0.05 < 0.5 < card.predict(bad)
    True
    """

    name = "scorecard"

    def contributions(self, x: dict[str, float]) -> dict[str, float]:
        return {k: w * (x.get(k, c) - c) for k, (w, c) in SCORECARD.items()}

    def predict(self, x: dict[str, float]) -> float:
        return sigmoid(SCORECARD_INTERCEPT + sum(self.contributions(x).values()))

    def learn(self, x: dict[str, float], y: bool) -> None:
        return None


class OnlineLogistic:
    """Standardised features into an online logistic regression (River).

    Positives are up-weighted by ``positive_weight`` to counter the class imbalance.
    """

    def __init__(
        self,
        name: str = "online-logistic",
        lr: float = 0.02,
        l2: float = 1e-4,
        positive_weight: float = 1.0,
    ) -> None:
        self.name = name
        self.positive_weight = positive_weight
        self.scaler = preprocessing.StandardScaler()
        self.regression = linear_model.LogisticRegression(
            optimizer=optim.SGD(lr), l2=l2, intercept_lr=lr
        )
        self.pipeline = compose.Pipeline(self.scaler, self.regression)

    def predict(self, x: dict[str, float]) -> float:
        return float(self.pipeline.predict_proba_one(x).get(True, 0.0))

    def contributions(self, x: dict[str, float]) -> dict[str, float]:
        scaled = self.scaler.transform_one(x)
        weights = self.regression.weights
        return {k: weights.get(k, 0.0) * v for k, v in scaled.items()}

    def learn(self, x: dict[str, float], y: bool) -> None:
        self.scaler.learn_one(x)
        self.regression.learn_one(
            self.scaler.transform_one(x), y, w=self.positive_weight if y else 1.0
        )
