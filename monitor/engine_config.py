"""The engine's configuration from the settings, the same for a worker and a backtest."""

from __future__ import annotations

from monitor.core.alerts import AlertPolicy
from monitor.core.engine import EngineConfig
from monitor.core.portfolio_watch import WatchConfig
from monitor.settings import Settings


def engine_config(settings: Settings, partitions: int) -> EngineConfig:
    """The engine settings when the whole stream comes in on ``partitions`` input partitions
    (1 for a file replay; the input topic's for a worker): the portfolio desk compares the
    reserve with the part of the book it has merged."""
    policy = AlertPolicy(open_at=settings.alert_open, clear_at=settings.alert_clear)
    watch = WatchConfig(
        reserve=settings.reserve_amount,
        coverage_min=settings.coverage_min,
        partitions=partitions,
    )
    return EngineConfig(
        horizon_days=settings.horizon_days,
        policy=policy,
        watch=watch,
        model_lag_days=settings.model_lag_days,
        idle_partition_days=settings.idle_partition_days,
    )
