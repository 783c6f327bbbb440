"""The engine's configuration from the settings, the same for a worker and a backtest."""

from __future__ import annotations

from monitor.core.alerts import AlertPolicy
from monitor.core.engine import EngineConfig
from monitor.core.portfolio_watch import WatchConfig
from monitor.settings import Settings


def engine_config(settings: Settings, partitions: int) -> EngineConfig:
    """The engine settings of a worker holding ``partitions`` shares of the portfolio (the
    reserve is split evenly over the input partitions, as accounts are)."""
    policy = AlertPolicy(open_at=settings.alert_open, clear_at=settings.alert_clear)
    watch = WatchConfig(
        reserve=settings.reserve_amount * partitions / settings.partitions,
        coverage_min=settings.coverage_min,
        partitions=settings.partitions // partitions,
    )
    return EngineConfig(horizon_days=settings.horizon_days, policy=policy, watch=watch)
