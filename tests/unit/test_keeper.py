"""The worker's side of the group's schedule, without a broker."""

from __future__ import annotations

import asyncio

import pytest

from monitor.core.group import GroupSchedule
from monitor.settings import Settings
from monitor.worker.keeper import ModelsReader

pytestmark = pytest.mark.unit


def test_a_scorer_waiting_for_a_version_stops_when_cancelled_as_the_models_topic_moves() -> None:
    """Faust cancels the actor of a partition taken away while its batch waits for a version.
    The cancellation comes as the models topic wakes the waiters: Python 3.11's ``wait_for``
    dropped it, and the actor waited on (a day at a time) while the rebalance waited for it."""
    reader = ModelsReader(Settings(), GroupSchedule())

    async def cancelled_while_woken() -> float:
        waiting = asyncio.create_task(reader.wait(lambda: False, timeout=3.0))
        await asyncio.sleep(0.05)
        started = asyncio.get_running_loop().time()
        reader.changed.set()  # a record of the models topic read
        waiting.cancel()  # the partition revoked
        with pytest.raises(asyncio.CancelledError):
            await waiting
        return asyncio.get_running_loop().time() - started

    assert asyncio.run(cancelled_while_woken()) < 1.0
