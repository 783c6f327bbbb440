"""The online models' inputs, class-balanced learning and the checkpoint format."""

from __future__ import annotations

import math
import pickle
import random

import pytest

from monitor.core.models import CHECKPOINT_FORMAT, Judged, ModelBook
from monitor.core.scoring import (
    OnlineLogistic,
    Scorecard,
    base_feature,
    model_inputs,
    river_weights,
)


def test_inputs_carry_bands_and_the_billing_phase() -> None:
    ahead = model_inputs({"pay_to_due_ratio": 0.1, "days_to_next_due": 5.0, "dpd": 0.0})
    settled = model_inputs({"pay_to_due_ratio": 0.1, "days_to_next_due": 60.0, "dpd": 3.0})
    assert ahead["pay_to_due_ratio#1"] == ahead["pay_to_due_ratio#1|due_ahead"] == 1.0
    assert "pay_to_due_ratio#1|settled" not in ahead
    assert settled["pay_to_due_ratio#1|settled"] == 1.0 and settled["phase|settled"] == 1.0
    assert {base_feature(k) for k in settled} == {
        "pay_to_due_ratio",
        "days_to_next_due",
        "dpd",
        "phase",
    }


def _stream(n: int, seed: int) -> list[tuple[dict[str, float], bool]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        ratio = rng.random()
        util = rng.random()
        z = -3.2 + 2.5 * (ratio < 0.2) + 1.5 * util
        out.append(
            (
                {"pay_to_due_ratio": ratio, "utilisation": util},
                rng.random() < 1 / (1 + math.exp(-z)),
            )
        )
    return out


def test_balanced_learning_up_weights_positives_and_stays_calibrated() -> None:
    train, test = _stream(20000, 1), _stream(4000, 2)
    balanced, plain = OnlineLogistic(), OnlineLogistic(balanced=False)
    for x, y in train:
        balanced.learn(x, y)
        plain.learn(x, y)
    rate = sum(y for _, y in test) / len(test)
    positives = sum(y for _, y in train)
    weight = (len(train) - positives) / positives  # negatives per positive, under the cap
    assert 1.0 < weight <= balanced.max_weight
    assert balanced.positive_weight == pytest.approx(weight)
    assert plain.positive_weight == 1.0
    for model in (balanced, plain):
        mean = sum(model.predict(x) for x, _ in test) / len(test)
        assert mean == pytest.approx(rate, abs=0.03)
        risky = model.predict({"pay_to_due_ratio": 0.05, "utilisation": 0.9})
        safe = model.predict({"pay_to_due_ratio": 0.9, "utilisation": 0.1})
        assert risky > 4 * safe


def test_contributions_sum_to_the_logit_without_the_phase_and_intercept() -> None:
    model = OnlineLogistic()
    for x, y in _stream(3000, 4):
        model.learn(x, y)
    x = {"pay_to_due_ratio": 0.1, "utilisation": 0.8}
    contributions = model.contributions(x)
    assert set(contributions) == {"pay_to_due_ratio", "utilisation"}
    inputs = model_inputs(x)
    weights = river_weights(model.regression)
    phase = sum(weights.get(k, 0.0) for k in inputs if k.startswith("phase"))
    logit = math.log(model.predict(x) / (1 - model.predict(x)))
    expected = model.regression.intercept + phase - math.log(model.positive_weight)
    assert logit == pytest.approx(sum(contributions.values()) + expected, abs=1e-6)


def test_a_checkpoint_round_trips_with_its_detector() -> None:
    book = ModelBook(min_labels=20, min_positives=2)
    for i in range(300):
        book.learn({"dpd": float(i % 40), "utilisation": 0.5}, i % 40 >= 30)
        book.behaviour.update({"paid": (i % 7) / 7, "missed": float(i % 5 == 0)})
    restored = ModelBook.from_bytes(book.to_bytes())
    x = {"dpd": 12.0, "utilisation": 0.9}
    assert restored.score(x).probability == book.score(x).probability
    probe = {"paid": 0.0, "missed": 1.0}
    assert restored.behaviour.score(probe) == book.behaviour.score(probe)
    assert restored.format == CHECKPOINT_FORMAT


def test_a_checkpoint_of_the_previous_format_is_refused_with_a_sentence() -> None:
    book = ModelBook()
    del book.format  # as books pickled before the format existed
    with pytest.raises(ValueError, match="model format 1, this version reads format 3"):
        ModelBook.from_bytes(pickle.dumps(book))


def test_a_fresh_online_model_scores_like_the_scorecard_then_learns_away() -> None:
    from monitor.core.features import FEATURE_NAMES
    from monitor.core.scoring import Scorecard

    rng = random.Random(9)
    xs = [
        {name: rng.random() for name in FEATURE_NAMES} | {"dpd": rng.choice([0.0, 12.0])}
        for _ in range(50)
    ]
    fresh, card = OnlineLogistic(), Scorecard()
    assert [round(fresh.predict(x), 9) for x in xs] == [round(card.predict(x), 9) for x in xs]
    for x, y in _stream(5000, 5):
        fresh.learn(x, y)
    assert any(abs(fresh.predict(x) - card.predict(x)) > 0.01 for x in xs)


def test_the_windowed_loss_is_the_mean_of_the_window_and_survives_old_checkpoints() -> None:
    judged = Judged(Scorecard(), window=50)
    rng = random.Random(5)
    for _ in range(537):
        judged.judge({"dpd": rng.uniform(0, 40), "share_missed": rng.random()}, rng.random() < 0.2)
        assert judged.loss == pytest.approx(sum(judged.losses) / len(judged.losses), rel=1e-12)
    # a checkpoint written before the running sum has only the losses
    old = pickle.loads(pickle.dumps(judged))
    del old._sum, old._until_resum
    restored = pickle.loads(pickle.dumps(old))
    assert restored.loss == pytest.approx(judged.loss, rel=1e-12)
    restored.judge({"dpd": 3.0}, False)
    assert restored.loss == pytest.approx(sum(restored.losses) / 50, rel=1e-12)
