"""What scoring with a checkpoint's challenger costs against its champion, in one run.

``python -m monitor.offline.scoringcost EVENTS CHECKPOINT`` replays the events once with the
champion making every score and once with the challenger (the
boosted trees of ``monitor train --trees``), twice each, and times one prediction of each on the
features of the stream's resolved outcomes. Ratios within one run are what to read: the machine
is shared.
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from monitor.checkpoint import load_models
from monitor.core.models import ModelBook
from monitor.offline.backtest import replay_file
from monitor.settings import Settings


def _scoring_with(book: ModelBook, role: str) -> ModelBook:
    """A copy of ``book`` whose ``role`` model makes every score (it stands in as the fallback,
    and no model can be promoted over it); the models learn as usual."""
    out = copy.deepcopy(book)
    out.fallback.model = getattr(out, role).model
    out.min_labels = 2**62
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m monitor.offline.scoringcost EVENTS CHECKPOINT", file=sys.stderr)
        return 2
    events, book = Path(args[0]), load_models(Path(args[1]))
    run = replay_file(events, Settings(), models=copy.deepcopy(book), record=True)
    xs = [x for x, _, _ in run.outcomes][:20000]
    for role in ("champion", "challenger", "champion", "challenger"):
        model = getattr(book, role).model
        fresh = [dict(x) for x in xs]  # new dicts: no model reuses inputs worked out before
        start = time.perf_counter()
        for x in fresh:
            model.predict(x)
        took = (time.perf_counter() - start) / max(len(fresh), 1)
        print(f"predict, {role:10} {model.name:22} {1e6 * took:8.1f} us")
    for role in ("champion", "challenger", "champion", "challenger"):
        start = time.perf_counter()
        replay = replay_file(events, Settings(), models=_scoring_with(book, role))
        rate = replay.events / (time.perf_counter() - start)
        print(f"replay, {role:10} scoring      {rate:8.0f} events/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
