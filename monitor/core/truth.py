"""Ground truth of delinquency from a stream of events, by the core's own DPD definition."""

from __future__ import annotations

from typing import Any

from monitor.core import ledger as lg
from monitor.core.state import ProductLedger
from monitor.core.timeutil import DAY, parse_time


def first_30_plus(events: list[dict[str, Any]], end: float) -> float | None:
    """Epoch time an account's events first put it 30+ days past due (before ``end``), or None.

    ``events`` are one account's events in time order.
    """
    ledgers: dict[str, ProductLedger] = {}

    def reached(before_day: int) -> int | None:
        dues = [
            d
            for ledger in ledgers.values()
            for d in [lg.oldest_unpaid_due(ledger)]
            if d is not None and d + 30 <= before_day
        ]
        return min(dues) + 30 if dues else None

    for event in events:
        day = int(parse_time(event["event_time"]) // DAY)
        hit = reached(day)
        if hit is not None:
            return hit * DAY
        product = event.get("product", "")
        lg.apply_event(
            ledgers.setdefault(product, ProductLedger(product)), event["type"], event, day
        )
    hit = reached(int(end // DAY))
    return hit * DAY if hit is not None and hit * DAY < end else None
