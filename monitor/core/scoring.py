"""Scoring models: an expert scorecard for the cold start and the online River champion.

A model maps a feature dict to the probability that the account reaches 30+ days past due within
the label horizon, and says how much each feature pushed the score (its contributions, in log-odds),
which the alert explanations are built from.
"""

from __future__ import annotations

import math
from typing import Protocol

from river import linear_model, optim

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
SCORECARD_INTERCEPT = -4.2
#: log-odds of a typical share of accounts reaching 30+ DPD within the horizon (about 3%): where
#: the online models start, so that they do not begin at a probability of one half
PRIOR_LOGIT = -3.5


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


#: Fixed scales of the features for the online models (value / scale), chosen from what each
#: feature means rather than learned from the stream: running standardisation drifts with the
#: portfolio's age and mix and would move every score with it.
SCALES: dict[str, float] = {
    "dpd": 30.0,
    "past_due_bills": 2.0,
    "consecutive_misses": 2.0,
    "days_since_payment": 30.0,
    "borrow_to_repay_90d": 2.0,
    "active_products": 2.0,
    "plans_granted": 2.0,
    "macro_unemployment": 10.0,
    "days_to_next_due": 30.0,
    "log_credit_limit": 2.0,
}
#: Features the online models leave out: they grow with the portfolio's age, not with risk.
UNUSED = frozenset({"months_on_book"})
#: Centres subtracted before scaling (log of a typical limit).
CENTRES: dict[str, float] = {"log_credit_limit": 10.0}
#: Steps of days past due given their own weight (the risk jumps rather than grows smoothly).
DPD_STEPS = (1, 7, 14, 21)


def model_inputs(x: dict[str, float]) -> dict[str, float]:
    """The online models' inputs: scaled features and DPD steps.

    >>> model_inputs({"dpd": 15.0, "utilisation": 0.5, "months_on_book": 3.0})
    {'dpd': 0.5, 'utilisation': 0.5, 'dpd>=1': 1.0, 'dpd>=7': 1.0, 'dpd>=14': 1.0, 'dpd>=21': 0.0}
    """
    out = {
        k: (v - CENTRES.get(k, 0.0)) / SCALES.get(k, 1.0) for k, v in x.items() if k not in UNUSED
    }
    dpd = x.get("dpd", 0.0)
    for step in DPD_STEPS:
        out[f"dpd>={step}"] = 1.0 if dpd >= step else 0.0
    return out


def base_feature(name: str) -> str:
    """The feature an input was derived from (``dpd>=7`` -> ``dpd``)."""
    return name.split(">=")[0]


class OnlineLogistic:
    """An online logistic regression (River) over fixed-scale inputs.

    It starts at the prior log-odds, so before it has learned anything it scores like the base
    rate; positives can be up-weighted by ``positive_weight`` (1 keeps it calibrated).
    """

    def __init__(
        self,
        name: str = "online-logistic",
        lr: float = 0.05,
        l2: float = 1e-5,
        positive_weight: float = 1.0,
    ) -> None:
        self.name = name
        self.positive_weight = positive_weight
        self.regression = linear_model.LogisticRegression(
            optimizer=optim.SGD(lr), l2=l2, intercept_init=PRIOR_LOGIT, intercept_lr=lr
        )

    def predict(self, x: dict[str, float]) -> float:
        return float(self.regression.predict_proba_one(model_inputs(x)).get(True, 0.0))

    def contributions(self, x: dict[str, float]) -> dict[str, float]:
        weights = self.regression.weights
        out: dict[str, float] = {}
        for k, v in model_inputs(x).items():
            base = base_feature(k)
            out[base] = out.get(base, 0.0) + weights.get(k, 0.0) * v
        return out

    def learn(self, x: dict[str, float], y: bool) -> None:
        self.regression.learn_one(model_inputs(x), y, w=self.positive_weight if y else 1.0)
