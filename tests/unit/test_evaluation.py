import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.core.timeutil import DAY, iso_time
from monitor.offline.evaluation import firing_times, judge_alerts, pr_auc, roc_auc


def brute_auc(labels: list[int], scores: list[float]) -> float:
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 20)), min_size=2, max_size=60))
def test_roc_auc_matches_pairwise_definition(pairs: list[tuple[int, int]]) -> None:
    labels = [y for y, _ in pairs]
    scores = [s / 20 for _, s in pairs]
    if 0 < sum(labels) < len(labels):
        assert roc_auc(labels, scores) == pytest.approx(brute_auc(labels, scores))
    else:
        assert roc_auc(labels, scores) is None


def test_pr_auc_of_a_perfect_and_a_reversed_ranking() -> None:
    assert pr_auc([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]) == pytest.approx(1.0)
    assert pr_auc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]) == pytest.approx((1 / 3 + 2 / 4) / 2)


def _alert(account: str, day: float) -> dict:
    return {"status": "firing", "account_id": account, "event_time": iso_time(day * DAY)}


def test_alerts_judged_on_horizon_lead_and_censoring() -> None:
    delinquent = {"a": 40 * DAY, "b": 100 * DAY, "c": None, "d": 45 * DAY, "e": None}
    alerts = [
        _alert("a", 20),  # true, 20 days ahead
        _alert("b", 10),  # false: 30+ comes after the 60-day horizon
        _alert("c", 30),  # false: never delinquent
        _alert("d", 42),  # true, but only 3 days ahead
        _alert("e", 190),  # censored: horizon runs past the stream end
    ]
    out = judge_alerts(firing_times(alerts), delinquent, horizon_days=60, stream_end=200 * DAY)
    assert out.judged_alerts == 4 and out.censored_alerts == 1
    assert out.precision == pytest.approx(2 / 4)
    assert out.recall == pytest.approx(3 / 3)  # a, b and d were alerted before 30+
    assert out.recall_with_7d_lead == pytest.approx(2 / 3)  # d's 3 days do not count
    assert out.lead_time_days_median == pytest.approx(20)
