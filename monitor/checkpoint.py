"""Model checkpoints on disk: read with one-sentence refusals, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

from monitor.core.models import ModelBook
from monitor.settings import SettingsError


def load_models(path: Path) -> ModelBook:
    """The checkpointed models, or fresh ones when there is no checkpoint yet.

    A checkpoint of another model format or feature set, or one that is not a checkpoint at
    all, is refused with a :class:`SettingsError` of one sentence naming what differs.
    """
    if not path.is_file():
        return ModelBook()
    try:
        return ModelBook.from_bytes(path.read_bytes())
    except ValueError as exc:  # a checkpoint of another model format or feature set
        raise SettingsError(
            f"the model checkpoint {path} cannot be used: {exc} (or delete it, or set "
            "MONITOR_MODEL_CHECKPOINT to a good one)."
        ) from None
    except Exception:
        raise SettingsError(
            f"the model checkpoint {path} cannot be read: delete it to start afresh or set "
            "MONITOR_MODEL_CHECKPOINT to a good one."
        ) from None


def save_models(models: ModelBook, path: Path) -> None:
    """Write a checkpoint atomically (a crash leaves the previous one whole)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(models.to_bytes())
    os.replace(partial, path)
