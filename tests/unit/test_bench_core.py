"""The core-alone bench: a replay of the bench's events through the core, measured."""

from __future__ import annotations

import orjson

from monitor.bench.core import replay
from monitor.bench.data import make_data
from monitor.core.state import AccountState
from monitor.worker.tablestore import encode_account


def test_the_core_bench_measures_the_late_events_and_their_changelog_bytes() -> None:
    lines = make_data(3000, 300, 300).preload
    figures = replay(lines, batch=50)
    assert figures.events == 3000 and figures.late_events == 750
    assert figures.cpu_us_per_event > 0
    # an account's record per account written in a batch (at least one per batch), with the
    # records of the snapshots made and resolved since: at most one of each per event and look
    assert 1 / 50 <= figures.changelog_records_per_event <= 3 * (1 + figures.looks_per_event)
    # no record is smaller than a deletion (its key alone), and most are accounts' records
    deletion = len(orjson.dumps("a-0000001"))
    assert figures.changelog_bytes_per_event > 2 * deletion * figures.changelog_records_per_event
    assert figures.changelog_bytes_per_event > len(encode_account(AccountState("a-0000001")))


def test_the_core_bench_spreads_events_as_the_producer_does_and_splits_the_other_state() -> None:
    from monitor.bench.core import messages

    lines = make_data(3000, 300, 300).preload
    spread = messages(lines, 3)
    macro = sum(1 for line in lines if b'"macro_indicator"' in line or b'"reserve_updated"' in line)
    assert len(spread) == len(lines) + 2 * macro  # broadcasts go to every partition
    for partition in range(3):  # offsets count up from 0 in each partition
        offsets = [o for p, o, _ in spread if p == partition]
        assert offsets == list(range(len(offsets))) and offsets
    figures = replay(lines, batch=50, partitions=3)
    assert figures.events == len(spread)
    assert abs(sum(figures.extra_by_kind.values()) - figures.extra_bytes_per_event) < 1e-6
    assert {"outcomes", "learner"} <= set(figures.extra_by_kind)
