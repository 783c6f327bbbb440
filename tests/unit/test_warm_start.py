"""Warm start from labelled history: `monitor train --truth`, the warm-started fallback the online
champion must beat, checkpoints honoured and refused by every offline entry point."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import random
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from monitor.checkpoint import load_models, save_models
from monitor.cli import main
from monitor.core.features import FEATURE_NAMES
from monitor.core.models import ModelBook
from monitor.core.scoring import OnlineLogistic, river_weights
from monitor.metrics import Metrics
from monitor.offline.taiwan import COLUMNS, STATUS
from monitor.offline.training import fit
from monitor.settings import SettingsError
from monitor.simulator import SimConfig, simulate, write_events, write_truth
from tests.support.metrics import sample

pytestmark = pytest.mark.unit

#: the ``history`` fixture: ``events2``/``truth2`` (a simulated portfolio and its truth),
#: ``checkpoint`` (trained on them), ``events3``/``truth3`` (another portfolio)
History = dict[str, Path]


@pytest.fixture(autouse=True)
def _no_checkpoint_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold start unless a test sets ``MONITOR_MODEL_CHECKPOINT`` itself."""
    monkeypatch.delenv("MONITOR_MODEL_CHECKPOINT", raising=False)


def _train(history: History, checkpoint: Path, *extra: str) -> int:
    """``monitor train`` on the first simulated portfolio and its truth into ``checkpoint``."""
    events, truth = str(history["events2"]), str(history["truth2"])
    return main(["train", events, "--truth", truth, "--checkpoint", str(checkpoint), *extra])


def _warm_book(**rule: Any) -> ModelBook:
    """A book warm-started on history where a missed payment (dpd) means default."""
    rng = random.Random(3)
    examples = []
    for _ in range(600):
        dpd = rng.choice([0.0, 0.0, 5.0, 20.0])
        examples.append(({"dpd": dpd, "utilisation": rng.random()}, rng.random() < dpd / 25))
    model = OnlineLogistic()
    fit(model, examples, passes=3, seed=1)
    return ModelBook.warm_started(model, {"examples": len(examples)}, **rule)


def test_the_champion_does_not_score_until_it_beats_the_warm_started_fallback() -> None:
    book = _warm_book(min_labels=50, min_positives=5, window=200)
    x = {"dpd": 20.0, "utilisation": 0.9}
    assert book.fallback_role == "warm_start" and book.version == "warm-start@600"
    assert book.score(x).probability == book.fallback.model.predict(x)
    # the stream's outcomes follow utilisation, which the history did not teach: the champion
    # learns it and must first beat the frozen fallback on the same resolved outcomes
    rng = random.Random(5)
    scored_by: list[str] = []
    for _ in range(3000):
        u = rng.random()
        book.learn({"dpd": 0.0, "utilisation": u}, rng.random() < 0.9 * u**4)
        beats = book.champion.loss < book.fallback.loss
        ready = book.labels >= book.min_labels and book.positives >= book.min_positives
        assert book.warmed_up == (ready and beats)
        scored_by.append(book.version.split("@")[0])
    first = scored_by.index("online-logistic")
    assert first + 1 >= book.min_labels and set(scored_by[:first]) == {"warm-start"}
    assert book.fallback.model.predict(x) == book.fallback.model.predict(x)  # frozen
    assert book.warmed_up  # the champion did learn what the stream teaches


def test_a_champion_that_never_beats_the_fallback_never_scores() -> None:
    book = _warm_book(min_labels=20, min_positives=2, window=100)
    rng = random.Random(8)
    frozen = book.fallback.model
    # a champion that learns nothing scores exactly like the fallback: a tie is not a win
    book.champion.model.learn = lambda x, y: None  # type: ignore[method-assign]
    for _ in range(500):  # outcomes drawn from the fallback's own probabilities
        x = {"dpd": rng.choice([0.0, 5.0, 20.0]), "utilisation": rng.random()}
        book.learn(x, rng.random() < frozen.predict(x))
        assert not book.warmed_up and book.version == "warm-start@600"


def test_metrics_and_roles_show_the_fallback_and_the_challengers_lead(
    caplog: pytest.LogCaptureFixture,
) -> None:
    book = _warm_book(min_labels=10, min_positives=1, window=50, patience=3, margin=0.0)
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    rng = random.Random(2)
    # the slow challenger stays near the fallback the stream agrees with; the champion is made
    # to forget it, so the challenger leads after ``patience`` outcomes
    champion = book.champion.model
    assert isinstance(champion, OnlineLogistic)
    river_weights(champion.regression).clear()
    with caplog.at_level(logging.INFO, logger="monitor.core.models"):
        for _ in range(100):
            dpd = rng.choice([0.0, 20.0])
            book.learn({"dpd": dpd, "utilisation": 0.5}, rng.random() < dpd / 25)
    assert book.challenger_leads
    assert sum("challenger online-logistic-slow leads" in r.message for r in caplog.records) == 1
    metrics.record_models(book)
    assert registry.get_sample_value("monitor_model_challenger_leads") == 1.0
    for role in ("warm_start", "champion", "challenger"):
        assert sample(registry, "monitor_model_log_loss", {"role": role}) > 0
    roles = book.roles()
    assert set(roles) == {"warm_start", "champion", "challenger"}
    assert sum(r["active"] for r in roles.values()) == 1 and roles["challenger"]["leads"]


def test_a_checkpoint_of_another_feature_set_is_refused_naming_the_difference(
    tmp_path: Path,
) -> None:
    path = tmp_path / "other.ckpt"
    book = ModelBook()
    book.feature_set = (*FEATURE_NAMES[:-1], "gambling_spend")
    save_models(book, path)
    with pytest.raises(SettingsError) as caught:
        load_models(path)
    message = str(caught.value)
    assert "gambling_spend that this version lacks" in message
    assert f"not the features {FEATURE_NAMES[-1]}" in message
    book = ModelBook()
    book.inputs = "0" * 16
    save_models(book, path)
    with pytest.raises(SettingsError, match="turn features into inputs differently"):
        load_models(path)


def test_a_format_2_checkpoint_is_upgraded_with_a_scorecard_fallback(tmp_path: Path) -> None:
    book = ModelBook()
    book.format = 2
    del book.feature_set, book.inputs, book.trained
    path = tmp_path / "v2.ckpt"
    save_models(book, path)
    restored = load_models(path)
    assert restored.fallback_role == "scorecard" and restored.trained is None


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """Two simulated portfolios (seeds 2 and 3) and a checkpoint trained on the first."""
    root = tmp_path_factory.mktemp("warm")
    paths: dict[str, Path] = {}
    for seed in (2, 3):
        result = simulate(SimConfig(accounts=300, days=150, seed=seed))
        paths[f"events{seed}"] = root / f"e{seed}.jsonl"
        paths[f"truth{seed}"] = root / f"t{seed}.csv"
        write_events(result.events, paths[f"events{seed}"])
        write_truth(result.truth, paths[f"truth{seed}"])
    paths["checkpoint"] = root / "warm.ckpt"
    assert _train(paths, paths["checkpoint"]) == 0
    return paths


def _backtest(history: History, out: Path, *extra: str) -> dict:
    report = out / f"report{len(list(out.iterdir()))}.json"
    argv = ["backtest", str(history["events3"]), "--truth", str(history["truth3"])]
    assert main([*argv, "--report", str(report), *extra]) == 0
    return json.loads(report.read_text())


def test_a_backtest_from_a_checkpoint_differs_from_a_cold_one(
    history: History,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cold = _backtest(history, tmp_path)
    warm = _backtest(history, tmp_path, "--checkpoint", str(history["checkpoint"]))
    assert cold["warm_start"] is None and set(cold["models"]) == {
        "scorecard",
        "champion",
        "challenger",
    }
    assert warm["warm_start"]["events"]["file"] == "e2.jsonl"
    assert set(warm["models"]) == {"warm_start", "champion", "challenger"}
    assert warm["prequential_roc_auc"] != cold["prequential_roc_auc"]
    assert warm["models"]["champion"]["log_loss"] != cold["models"]["champion"]["log_loss"]
    # the variable is honoured the same way, and said on stderr
    monkeypatch.setenv("MONITOR_MODEL_CHECKPOINT", str(history["checkpoint"]))
    capsys.readouterr()
    by_env = _backtest(history, tmp_path)
    assert "MONITOR_MODEL_CHECKPOINT" in capsys.readouterr().err
    assert by_env["prequential_roc_auc"] == warm["prequential_roc_auc"]
    assert by_env["alerts"] == warm["alerts"]


def test_backtest_checkpoint_mistakes_are_one_sentence(
    history: History,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["backtest", str(history["events3"])]
    monkeypatch.setenv("MONITOR_MODEL_CHECKPOINT", str(tmp_path / "absent.ckpt"))
    assert main(argv) == 2
    assert "absent.ckpt, which does not exist" in capsys.readouterr().err
    monkeypatch.delenv("MONITOR_MODEL_CHECKPOINT")
    assert main([*argv, "--checkpoint", str(tmp_path / "nope.ckpt")]) == 2
    assert "no model checkpoint at" in capsys.readouterr().err
    other = tmp_path / "other.ckpt"
    book = ModelBook()
    book.format = 1
    other.write_bytes(book.to_bytes())
    assert main([*argv, "--checkpoint", str(other)]) == 2
    err = capsys.readouterr().err
    assert "model format 1, this version reads format 3" in err and len(err.splitlines()) == 1


def test_train_records_what_it_was_trained_on(history: History) -> None:
    book = load_models(history["checkpoint"])
    trained = book.trained
    assert trained is not None and book.fallback_role == "warm_start"
    digest = hashlib.sha256(history["events2"].read_bytes()).hexdigest()
    assert trained["events"]["sha256"] == digest
    assert trained["truth"]["rows"] == 300
    # the simulator's truth has no as_of: the examples are scorings labelled by delinquent_at
    assert trained["as_of_examples"] == 0 and trained["stream_outcomes"] == 0
    assert trained["scoring_examples"] == trained["examples"] and trained["held_back"] > 0
    assert 0 < trained["positives"] < trained["examples"]
    assert trained["from"] < trained["to"]
    assert book.version == f"warm-start@{trained['examples']}"


def _clients(path: Path, n: int, seed: int) -> None:
    """Synthetic clients of the Taiwan layout whose default follows their September status."""
    rng = random.Random(seed)
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        for cid in range(1, n + 1):
            behind = rng.choice([0, 0, 0, 0, 1, 2])
            row = {
                "ID": str(cid),
                "LIMIT_BAL": str(rng.choice([20000, 50000, 200000])),
                "SEX": "2",
                "EDUCATION": "2",
                "MARRIAGE": "1",
                "AGE": "35",
                "default_next_month": str(int(rng.random() < 0.1 + 0.35 * behind)),
            }
            for column in STATUS:
                row[column] = str(behind if column == "PAY_0" else 0)
            for i in range(1, 7):
                row[f"BILL_AMT{i}"] = "10000"
                row[f"PAY_AMT{i}"] = "1500"
            writer.writerow(row)


def test_train_fits_the_as_of_outcomes_and_holds_some_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clients = tmp_path / "clients.csv"
    _clients(clients, 400, seed=4)
    events, truth, checkpoint = tmp_path / "e.jsonl", tmp_path / "t.csv", tmp_path / "c.ckpt"
    argv = ["convert", "taiwan", str(clients), "--events", str(events), "--truth", str(truth)]
    assert main([*argv, "--id-mod", "2:1"]) == 0
    rows = list(csv.DictReader(truth.read_text().splitlines()))
    assert len(rows) == 200 and all(int(r["account_id"][3:]) % 2 == 1 for r in rows)
    argv = ["train", str(events), "--truth", str(truth), "--checkpoint", str(checkpoint)]
    assert main([*argv, "--hold-back", "0.25", "--passes", "2"]) == 0
    out = capsys.readouterr().out
    assert "held back" in out and "ROC AUC" in out
    trained = load_models(checkpoint).trained
    assert trained is not None
    assert trained["stream_outcomes"] == 0 and trained["passes"] == 2
    assert trained["as_of_examples"] + trained["held_back"] == 200
    assert 20 < trained["held_back"] < 80
    assert trained["positives"] == sum(
        int(r["label"])
        for r in rows
        if not _held(r["account_id"], trained["seed"], 0.25)  # the same seeded split
    )
    assert trained["held_back_roc_auc"] > 0.6  # the September status is learned


def _held(account: str, seed: int, share: float) -> bool:
    from monitor.offline.training import held_back

    return held_back(account, seed, share)


def test_train_mistakes_are_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text("")
    truth = tmp_path / "t.csv"
    truth.write_text("account_id,label,as_of,delinquent_at\n")
    argv = ["train", str(events), "--checkpoint", str(tmp_path / "c.ckpt"), "--truth"]
    assert main([*argv, str(truth)]) == 2
    assert "gives 0 examples to fit" in capsys.readouterr().err
    assert main([*argv, str(tmp_path / "absent.csv")]) == 2
    assert "no truth file at" in capsys.readouterr().err
    assert main([*argv, str(truth), "--passes", "0"]) == 2
    assert "--passes must be at least 1" in capsys.readouterr().err


def test_the_demo_starts_its_worker_from_a_copy_of_the_checkpoint(
    history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.devtools.demo import _checkpoint_source, _demo_settings

    monkeypatch.setenv("MONITOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MONITOR_MODEL_CHECKPOINT", str(history["checkpoint"]))
    source = _checkpoint_source(None)  # the variable is honoured
    assert source == history["checkpoint"]
    settings, env = _demo_settings("t1", "127.0.0.1:9092", source)
    copy = Path(env["MONITOR_MODEL_CHECKPOINT"])
    assert copy != source and copy.read_bytes() == source.read_bytes()
    assert settings.model_checkpoint == str(copy)
    assert load_models(copy).fallback_role == "warm_start"
    monkeypatch.delenv("MONITOR_MODEL_CHECKPOINT")
    _, env = _demo_settings("t2", "127.0.0.1:9092", _checkpoint_source(None))
    assert env["MONITOR_MODEL_CHECKPOINT"] == ""  # cold: the worker's own file in its data dir
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"junk")
    with pytest.raises(SettingsError, match="cannot be read"):
        _checkpoint_source(bad)
    assert main(["demo", "--checkpoint", str(tmp_path / "absent.ckpt")]) == 2


def test_a_worker_starts_from_the_warm_checkpoint_and_exports_both_roles(
    history: History, tmp_path: Path
) -> None:
    import shutil

    from monitor.settings import Settings
    from monitor.worker.app import MonitorWorker

    checkpoint = tmp_path / "models.ckpt"
    shutil.copyfile(history["checkpoint"], checkpoint)
    settings = Settings(
        data_dir=tmp_path, partitions=1, app_id="unit-warm", model_checkpoint=str(checkpoint)
    )
    registry = CollectorRegistry()
    monitor = MonitorWorker(settings, registry, sinks=[])
    keeper = monitor._make_keeper()  # the group's keeper, in the worker that keeps it
    book = keeper.learner.models
    assert book.fallback_role == "warm_start" and book.trained == load_models(checkpoint).trained
    monitor.metrics.record_models(book)
    assert registry.get_sample_value("monitor_model_active", {"role": "warm_start"}) == 1.0
    assert registry.get_sample_value("monitor_model_active", {"role": "champion"}) == 0.0
    other = ModelBook()
    other.feature_set = FEATURE_NAMES[:-1]
    save_models(other, checkpoint)
    with pytest.raises(SettingsError, match=f"not the features {FEATURE_NAMES[-1]}"):
        MonitorWorker(settings, CollectorRegistry(), sinks=[])


def test_alert_volume_finds_the_threshold_that_raises_as_many_alerts_as_the_cold_start(
    history: History, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitor.offline.backtest import read_truth, replay_file
    from monitor.offline.report import borrower_alerts
    from monitor.offline.training import ALERT_GRID, alerts_raised
    from monitor.settings import Settings

    checkpoint = tmp_path / "v.ckpt"
    assert _train(history, checkpoint, "--alert-volume") == 0
    assert "raises as many at MONITOR_ALERT_OPEN=" in capsys.readouterr().out
    trained = load_models(checkpoint).trained
    assert trained is not None
    volume = trained["alert_volume"]
    # the count over the score log is the engine's own: a cold backtest raises as many
    cold = replay_file(history["events2"], Settings(), record=True)
    assert volume["cold_alerts"] == len(borrower_alerts(cold)) > 0
    warm = replay_file(history["events2"], Settings(), models=load_models(checkpoint), record=True)
    assert volume["warm_alerts"] == len(borrower_alerts(warm))
    chosen = volume["alert_open_same_volume"]
    assert chosen in ALERT_GRID
    higher = [t for t in ALERT_GRID if t > chosen]
    warm_log = warm.score_log
    when = {row.account_id: row.delinquent_at for row in read_truth(history["truth2"])}
    assert alerts_raised(warm_log, when, chosen, 0.5) >= volume["cold_alerts"]
    if higher:
        assert alerts_raised(warm_log, when, min(higher), 0.5) < volume["cold_alerts"]


def test_a_challenger_fitted_offline_scores_by_the_champions_rule() -> None:
    from monitor.core.models import Frozen

    rng = random.Random(11)

    def truth(x: dict[str, float]) -> float:  # what the stream's outcomes follow
        return 0.02 + 0.9 * x["utilisation"] ** 4

    class Knows:
        """A fitted model that knows the stream's law (it does not learn)."""

        name = "knows"

        def predict(self, x: dict[str, float]) -> float:
            return truth(x)

        def contributions(self, x: dict[str, float]) -> dict[str, float]:
            return {"utilisation": x["utilisation"]}

        def learn(self, x: dict[str, float], y: bool) -> None:
            return None

    book = _warm_book(min_labels=50, min_positives=5, window=200)
    book = ModelBook.warm_started(
        book.fallback.model.model,  # type: ignore[attr-defined]
        {"examples": 600},
        challenger=Frozen(Knows(), "knows"),
        min_labels=50,
        min_positives=5,
        window=200,
    )
    assert book.promote_challenger and book.version == "warm-start@600"
    for _ in range(1500):
        x = {"dpd": 0.0, "utilisation": rng.random()}
        book.learn(x, rng.random() < truth(x))
        ready = book.labels >= book.min_labels and book.positives >= book.min_positives
        best = min((book.champion, book.challenger), key=lambda j: j.loss)
        expected = best if ready and best.loss < book.fallback.loss else book.fallback
        assert book.active is expected.model
    assert book.version.startswith("knows@")  # it knows the law, so it scores in the end


def test_boosted_trees_score_like_the_fitted_ensemble_and_explain_their_score() -> None:
    np = pytest.importorskip("numpy")
    ensemble = pytest.importorskip("sklearn.ensemble")
    from monitor.core.trees import Trees

    rng = np.random.default_rng(0)
    features = rng.normal(size=(1500, 3))
    features[::5, 1] = np.nan  # missing values go where training sent them
    labels = features[:, 0] + np.nan_to_num(features[:, 1]) + rng.normal(size=1500) > 0
    estimator = ensemble.HistGradientBoostingClassifier(max_iter=30, random_state=0)
    estimator.fit(features, labels.astype(int))
    trees = Trees.from_sklearn(estimator, ["a", "b", "c"])
    rows = [
        {k: float(v) for k, v in zip("abc", row, strict=True) if v == v} for row in features[:50]
    ]
    expected = estimator.predict_proba(features[:50])[:, 1]
    assert [round(trees.predict(r), 9) for r in rows] == [round(float(p), 9) for p in expected]
    root = trees.baseline + sum(values[0] for *_, values in trees.trees)
    for row in rows[:10]:
        assert abs(root + sum(trees.contributions(row).values()) - trees.logit(row)) < 1e-9
    assert abs(trees.contributions(rows[0])["a"]) > abs(trees.contributions(rows[0]).get("c", 0))


def test_train_trees_puts_a_boosted_challenger_in_the_checkpoint(
    history: History,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    checkpoint = tmp_path / "trees.ckpt"
    for name in ("sklearn", "sklearn.ensemble"):  # as if not installed
        monkeypatch.setitem(__import__("sys").modules, name, None)
    assert _train(history, checkpoint, "--trees") == 2
    assert "--trees needs scikit-learn" in capsys.readouterr().err
    monkeypatch.undo()
    pytest.importorskip("sklearn")
    assert _train(history, checkpoint, "--trees") == 0
    assert "boosted trees" in capsys.readouterr().out
    book = load_models(checkpoint)
    assert book.challenger.model.name == "boosted-trees" and book.promote_challenger
    assert "months_on_book" not in book.challenger.model.names  # type: ignore[attr-defined]
    assert book.trained is not None and book.trained["held_back_roc_auc_trees"] is not None


def test_scoringcost_times_both_roles(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.offline.scoringcost import main as cost

    assert cost([str(history["events3"]), str(history["checkpoint"])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 8 and all(float(line.split()[-2]) > 0 for line in lines)
    assert cost([]) == 2


def test_match_cold_precision_takes_the_lowest_threshold_whose_alerts_are_as_often_right() -> None:
    from types import SimpleNamespace

    from monitor.core.timeutil import DAY
    from monitor.offline.backtest import Truth
    from monitor.offline.training import same_precision_threshold
    from monitor.settings import Settings

    # ten accounts go 30+ days past due on day 100, thirty never; every account is scored once,
    # on day 50, so an alert on a bad account is true (within the 60-day horizon)
    bad = [f"b{i}" for i in range(10)]
    good = [f"g{i}" for i in range(30)]
    truth = [Truth(a, 1, None, 100 * DAY) for a in bad] + [Truth(a, 0, None, None) for a in good]

    def run(scores: list[float]) -> Any:
        scores = scores + [0.2] * (40 - len(scores))
        log = [(a, 50 * DAY, p) for a, p in zip(bad + good, scores, strict=True)]
        return SimpleNamespace(score_log=log, end=400 * DAY)

    # cold at 0.9: five bad and five good alerts, precision 0.5
    cold = run([0.95] * 5 + [0.6] * 5 + [0.95] * 5)
    # warm, by threshold: 0.5-0.6 ten bad and fourteen good alerts (0.42); 0.625 ten and ten
    # (0.5); 0.65-0.725 eight and ten (0.44); 0.75-0.825 eight and four (0.67)
    warm = run([0.93] * 4 + [0.83] * 4 + [0.63] * 2 + [0.93] + [0.83] * 3 + [0.73] * 6 + [0.6] * 4)
    found = same_precision_threshold(cold, warm, truth, Settings())
    assert (found["cold_alerts"], found["cold_precision"]) == (10, 0.5)
    assert found["cold_recall_with_7d_lead"] == 0.5
    # the lowest threshold with precision >= 0.5 (not the same volume, 0.825 with twelve alerts)
    assert found["alert_open_same_precision"] == 0.625
    assert (found["alerts_at_it"], found["precision_at_it"]) == (20, 0.5)
    assert found["recall_with_7d_lead_at_it"] == 1.0
    # a warm start whose alerts are never as often right gets no threshold
    never = run([0.93] * 10 + [0.95] * 30)
    none = same_precision_threshold(cold, never, truth, Settings())
    assert none["alert_open_same_precision"] is None and "alerts_at_it" not in none


def test_match_cold_precision_gives_the_warm_start_the_cold_precision_on_the_history(
    history: History, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitor.offline.backtest import read_truth, replay_file
    from monitor.offline.evaluation import firing_times, judge_alerts
    from monitor.offline.report import borrower_alerts
    from monitor.offline.training import ALERT_GRID
    from monitor.settings import Settings

    checkpoint = tmp_path / "p.ckpt"
    assert _train(history, checkpoint, "--match-cold", "precision") == 0
    assert "as often right is MONITOR_ALERT_OPEN=" in capsys.readouterr().out
    trained = load_models(checkpoint).trained
    assert trained is not None and "alert_volume" not in trained
    found = trained["alert_precision"]
    chosen = found["alert_open_same_precision"]
    assert chosen in ALERT_GRID
    when = {row.account_id: row.delinquent_at for row in read_truth(history["truth2"])}

    def precision(settings: Settings, models: ModelBook | None) -> float:
        run = replay_file(history["events2"], settings, models=models, record=True)
        raised = firing_times(borrower_alerts(run))
        outcome = judge_alerts(raised, when, settings.horizon_days, run.end or 0)
        assert outcome.precision is not None
        return outcome.precision

    # judged as a backtest of the history judges them, at the configured and the chosen threshold
    cold = precision(Settings(), None)
    assert found["cold_precision"] == round(cold, 4)
    warm = precision(Settings(alert_open=chosen), load_models(checkpoint))
    assert found["precision_at_it"] == round(warm, 4) and warm >= cold
    lower = [t for t in ALERT_GRID if 0.5 <= t < chosen]
    if lower:  # the next lower threshold's alerts are less often right
        assert precision(Settings(alert_open=max(lower)), load_models(checkpoint)) < cold
    assert _train(history, checkpoint, "--alert-volume", "--match-cold", "precision") == 2
    assert "--alert-volume is --match-cold volume" in capsys.readouterr().err
