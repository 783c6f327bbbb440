"""Scoring models: an expert scorecard for the cold start and the online River champion.

A model maps a feature dict to the probability that the account reaches 30+ days past due within
the label horizon, and says how much each feature pushed the score (its contributions, in log-odds),
which the alert explanations are built from.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Any, Protocol

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
#: Scale-free features also given as categories (bin edges): a risk analyst's bands, so the
#: linear model can bend where the risk does (a payment of 0-5% of the bill is not "a bit less"
#: than one of 20%).
BANDS: dict[str, tuple[float, ...]] = {
    "pay_to_due_ratio": (0.05, 0.2, 0.5, 0.95),
    "utilisation": (0.05, 0.3, 0.6, 0.9),
    "statement_utilisation": (0.05, 0.3, 0.6, 0.9),
    "last_pay_ratio": (0.05, 0.2, 0.5, 0.95),
    "share_missed": (0.01, 0.34, 0.67),
    "share_paid_full": (0.01, 0.5, 0.99),
    "consecutive_misses": (1, 2, 3),
    "days_since_payment": (35, 65),
}
#: ``days_to_next_due`` at or above this means no unpaid bill is ahead of its due date.
_NO_BILL_AHEAD = 60.0


_BAND_NAMES = {name: [f"{name}#{i}" for i in range(len(e) + 1)] for name, e in BANDS.items()}
_STEP_NAMES = [(step, f"dpd>={step}") for step in DPD_STEPS]
_PHASES = ("settled", "due_ahead")
#: input name -> its name in each phase (a bounded set: the features, steps and bands)
_CROSSED: dict[str, tuple[str, str]] = {}


def river_weights(regression: Any) -> Any:
    """The weights of a River linear model, read and written in place: its public ``weights`` is
    a copy, too slow for every score. The one use of a River internal (checked against River
    0.26.1; the scoring tests fail if it moves)."""
    return regression._weights  # noqa: SLF001


def _crossed(name: str) -> tuple[str, str]:
    names = _CROSSED.get(name)
    if names is None:
        names = _CROSSED[name] = (f"{name}|{_PHASES[0]}", f"{name}|{_PHASES[1]}")
    return names


def model_inputs(x: dict[str, float]) -> dict[str, float]:
    """The online models' inputs: scaled features, DPD steps and bands, each given twice.

    Once shared, and once for the phase of the billing cycle the account is in
    (``|due_ahead``: a bill is still ahead of its due date; ``|settled``: none is), so the model
    can weigh the same behaviour differently mid-cycle and after the due date, where its meaning
    differs (an unpaid bill a week before its due date is normal; after it, it is a miss).
    Inputs that are zero are left out (they add nothing to the score).

    >>> inputs = model_inputs({"dpd": 15.0, "utilisation": 0.5, "months_on_book": 3.0})
    >>> inputs["dpd"], inputs["dpd>=14"], "dpd>=21" in inputs, inputs["utilisation#2"]
    (0.5, 1.0, False, 1.0)
    >>> inputs["dpd|settled"], inputs["phase|settled"], "months_on_book" in inputs
    (0.5, 1.0, False)
    """
    # The tables below are worked out once (see _TRANSFORMS, _BAND_TABLE, _CROSS_TABLES); the
    # inputs, their values and their order (which fixes the rounding of every dot product) are
    # those of the plain definition: (v - centre) / scale, steps, bands, then each crossed.
    ahead = not x.get("days_to_next_due", _NO_BILL_AHEAD) >= _NO_BILL_AHEAD
    shared: dict[str, float] = {}
    transforms = _TRANSFORMS
    for k, v in x.items():
        if v != 0.0:
            how = transforms.get(k)
            if how is None:  # neither centred nor scaled: (v - 0.0) / 1.0 is v + 0.0
                shared[k] = v + 0.0
            elif how is not _SKIP:
                shared[k] = (v - how[0]) / how[1]
    dpd = x.get("dpd", 0.0)
    if dpd >= _FIRST_STEP:
        for step, name in _STEP_NAMES:
            if dpd >= step:
                shared[name] = 1.0
    for name, edges, names in _BAND_TABLE:
        value = x.get(name)
        if value is not None:
            # NaN is at or above no edge (the lowest band), as in a count of edges passed
            shared[names[bisect_right(edges, value) if value == value else 0]] = 1.0
    out = shared.copy()
    crossed = _CROSS_TABLES[ahead]
    for k, v in shared.items():
        cross = crossed.get(k)
        out[cross if cross is not None else _crossed(k)[ahead]] = v
    out[_PHASE_NAMES[ahead]] = 1.0
    return out


#: feature -> (centre, scale) of the features that have either, _SKIP for those left out
_SKIP = (0.0, 0.0)
_TRANSFORMS: dict[str, tuple[float, float]] = {
    **{
        k: (CENTRES.get(k, 0.0), SCALES.get(k, 1.0))
        for k in {*SCALES, *CENTRES}
        if (CENTRES.get(k, 0.0), SCALES.get(k, 1.0)) != (0.0, 1.0)
    },
    **dict.fromkeys(UNUSED, _SKIP),
}
_FIRST_STEP = min(DPD_STEPS)
#: (feature, sorted edges, band names): bisect_right counts the edges at or below a value
_BAND_TABLE = [(name, tuple(sorted(edges)), _BAND_NAMES[name]) for name, edges in BANDS.items()]
_PHASE_NAMES = (f"phase|{_PHASES[0]}", f"phase|{_PHASES[1]}")


def _cross_tables() -> tuple[dict[str, str], dict[str, str]]:
    """Crossed names of every input the features can give, per phase (0 settled, 1 ahead)."""
    from monitor.core.features import FEATURE_NAMES

    names = [*FEATURE_NAMES, *(name for _, name in _STEP_NAMES)]
    names += [band for bands in _BAND_NAMES.values() for band in bands]
    return {n: _crossed(n)[0] for n in names}, {n: _crossed(n)[1] for n in names}


_CROSS_TABLES = _cross_tables()


#: the last inputs worked out, by the identity of their feature dict: a scoring asks for the
#: same inputs for its score and its reasons, a resolved outcome for five predictions and lessons
_last: list[object] = [None, None]


def cached_inputs(x: dict[str, float]) -> dict[str, float]:
    """:func:`model_inputs` of ``x``, worked out once while ``x`` is the latest asked for.

    Feature dicts are never changed once made (the engine builds a new one for every scoring),
    so the identity of ``x`` names its inputs.
    """
    if _last[0] is x:
        return _last[1]  # type: ignore[return-value]
    inputs = model_inputs(x)
    _last[0], _last[1] = x, inputs
    return inputs


def base_feature(name: str) -> str:
    """The feature an input was derived from (``dpd>=7|settled`` -> ``dpd``)."""
    base = _BASES.get(name)
    if base is None:
        base = name.split("|")[0].split(">=")[0].split("#")[0]
        if len(_BASES) < _MAX_BASES:  # inputs are a bounded set; the bound is for odd callers
            _BASES[name] = base
    return base


_BASES: dict[str, str] = {}
_MAX_BASES = 10_000


def scorecard_start() -> tuple[dict[str, float], float]:
    """The scorecard as shared weights and an intercept over :func:`model_inputs`.

    A scorecard term ``w (v - c)`` is ``w s u + w (m - c)`` for the input ``u = (v - m) / s``
    (scale ``s``, centre ``m``), so the scorecard and an online model started from it score the
    same accounts the same way.

    >>> weights, intercept = scorecard_start()
    >>> x = {name: centre + 0.4 for name, (_, centre) in SCORECARD.items()} | {"dpd": 12.0}
    >>> z = intercept + sum(weights.get(k, 0.0) * v for k, v in model_inputs(x).items())
    >>> round(sigmoid(z), 6) == round(Scorecard().predict(x), 6)
    True
    """
    weights: dict[str, float] = {}
    intercept = SCORECARD_INTERCEPT
    for k, (w, c) in SCORECARD.items():
        weights[k] = w * SCALES.get(k, 1.0)
        intercept += w * (CENTRES.get(k, 0.0) - c)
    return weights, intercept


class OnlineLogistic:
    """An online logistic regression (River, AdaGrad) over :func:`model_inputs`.

    It starts from the expert scorecard's weights (:func:`scorecard_start`), so before it has
    learned anything it scores like the scorecard and can take over as soon as it does better;
    without ``from_scorecard`` it starts at the prior log-odds. AdaGrad gives each input its own
    step size, so rare inputs (a band few accounts fall in) still learn while common ones settle.

    Class imbalance: with ``balanced`` (the default) each positive outcome is learned with the
    weight ``negatives / positives`` seen so far (at most ``max_weight``), so the few accounts
    that go bad move the weights as much as the many that do not; the score subtracts the log of
    that weight again (the prior correction of weighted logistic regression), so probabilities
    stay calibrated to the real rate and the alert thresholds keep their meaning.
    """

    def __init__(
        self,
        name: str = "online-logistic",
        lr: float = 0.05,
        l2: float = 1e-5,
        balanced: bool = True,
        max_weight: float = 5.0,
        from_scorecard: bool = True,
    ) -> None:
        self.name = name
        self.balanced = balanced
        self.max_weight = max_weight
        self.seen = [0, 0]  # negatives, positives learned
        start = scorecard_start() if from_scorecard else ({}, PRIOR_LOGIT)
        self.regression = linear_model.LogisticRegression(
            optimizer=optim.AdaGrad(lr), l2=l2, intercept_init=start[1], intercept_lr=lr / 5
        )
        for name_, weight in start[0].items():
            river_weights(self.regression)[name_] = weight

    @property
    def positive_weight(self) -> float:
        """Weight a positive outcome is learned with now."""
        if not self.balanced:
            return 1.0
        negatives, positives = self.seen
        return min(max(negatives / max(positives, 1), 1.0), self.max_weight)

    def _logit(self, inputs: dict[str, float]) -> float:
        get = river_weights(self.regression).get
        z = self.regression.intercept + sum([get(k, 0.0) * v for k, v in inputs.items()])
        return z - math.log(self.positive_weight)

    def predict(self, x: dict[str, float]) -> float:
        return sigmoid(self._logit(cached_inputs(x)))

    def contributions(self, x: dict[str, float]) -> dict[str, float]:
        get = river_weights(self.regression).get
        out: dict[str, float] = {}
        for k, v in cached_inputs(x).items():
            base = _BASES.get(k) or base_feature(k)
            if base != "phase":  # the phase inputs act as intercepts, not reasons
                out[base] = out.get(base, 0.0) + get(k, 0.0) * v
        return out

    def learn(self, x: dict[str, float], y: bool) -> None:
        weight = self.positive_weight if y else 1.0
        self.regression.learn_one(cached_inputs(x), y, w=weight)
        self.seen[int(y)] += 1
