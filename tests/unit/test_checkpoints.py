"""Models survive a restart: checkpoints round-trip, `monitor train` warm-starts a worker."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from monitor.checkpoint import load_models, save_models
from monitor.cli import main
from monitor.core.models import ModelBook
from monitor.simulator import SimConfig, simulate, write_events


def test_checkpoint_round_trip_predicts_the_same(tmp_path: Path) -> None:
    book = ModelBook(min_labels=20, min_positives=2)
    for i in range(200):
        book.learn({"dpd": float(i % 40), "utilisation": 0.5}, i % 40 >= 30)
    path = tmp_path / "models.ckpt"
    save_models(book, path)
    restored = load_models(path)
    x = {"dpd": 12.0, "utilisation": 0.9}
    assert restored.labels == book.labels and restored.version == book.version
    assert restored.score(x).probability == book.score(x).probability


def test_no_checkpoint_means_fresh_models(tmp_path: Path) -> None:
    assert load_models(tmp_path / "absent.ckpt").labels == 0


def test_unreadable_checkpoint_is_one_sentence(tmp_path: Path) -> None:
    from monitor.settings import SettingsError

    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(SettingsError, match="cannot be read: delete it"):
        load_models(bad)


def test_train_writes_a_checkpoint_a_worker_can_start_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "history.jsonl"
    write_events(simulate(SimConfig(accounts=300, days=150, seed=2)).events, events)
    checkpoint = tmp_path / "warm.ckpt"
    assert main(["train", str(events), "--checkpoint", str(checkpoint)]) == 0
    assert "outcomes learned" in capsys.readouterr().out
    warm = load_models(checkpoint)
    assert warm.labels > 100
    assert orjson.dumps(warm.version)


def test_checkpoint_of_another_model_format_says_so(tmp_path: Path) -> None:
    from monitor.core.models import ModelBook
    from monitor.settings import SettingsError

    old = ModelBook()
    old.format = 1
    path = tmp_path / "old.ckpt"
    path.write_bytes(old.to_bytes())
    with pytest.raises(SettingsError, match="model format 1, this version reads format 3"):
        load_models(path)
