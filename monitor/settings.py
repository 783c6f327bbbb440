"""One settings object, read from ``MONITOR_*`` environment variables.

Every setting has a default that runs the monitor against the local broker. A bad value raises
:class:`SettingsError` with one sentence naming the variable and what it accepts.

>>> s = Settings.from_env({"MONITOR_PARTITIONS": "2", "MONITOR_WEBHOOK_URLS": "http://a, http://b"})
>>> s.partitions, s.webhook_urls
(2, ('http://a', 'http://b'))
>>> Settings.from_env({"MONITOR_PARTITIONS": "two"})
Traceback (most recent call last):
...
monitor.settings.SettingsError: MONITOR_PARTITIONS must be a whole number, not 'two'.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A setting has a value the monitor cannot use."""


@dataclass(frozen=True)
class Settings:
    """All configuration of the monitor. Field ``x`` is read from ``MONITOR_X``."""

    bootstrap: str = "127.0.0.1:9092"
    app_id: str = "delinquency-monitor"
    input_topic: str = "repayment-events"
    alerts_topic: str = "delinquency-alerts"
    dead_letter_topic: str = "repayment-events-dlq"
    risk_topic: str = "account-risk"
    partitions: int = 4
    replication: int = 1
    input_retention_hours: int = 168
    alerts_retention_hours: int = 720
    dead_letter_retention_hours: int = 720
    store: str = "memory://"
    data_dir: Path = Path("./.monitor-data")
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    webhook_urls: tuple[str, ...] = ()
    webhook_secret: str = ""
    webhook_timeout_s: float = 5.0
    webhook_retries: int = 5
    webhook_retry_for_s: float = 900.0
    webhook_queue: int = 10000
    delivery_journal_keep: int = 100000  # delivered ids remembered per sink; 0: no journal
    alertmanager_url: str = ""
    alertmanager_resend_s: float = 60.0
    alert_open: float = 0.9
    alert_clear: float = 0.5
    horizon_days: int = 60
    reserve_amount: float = 0.0
    coverage_min: float = 1.2
    max_event_bytes: int = 65536
    pseudonymise_key: str = ""
    model_checkpoint: str = ""  # file to warm-start from and to save to (default: in data_dir)
    checkpoint_every_s: float = 30.0
    log_level: str = "info"
    batch_size: int = 500  # events the agent takes at once (state written once per batch)
    batch_wait_s: float = 0.02  # longest wait for a batch to fill before it is processed

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default: the process environment)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f"MONITOR_{f.name.upper()}"
            if name in env:
                values[f.name] = _convert(name, env[name], f.default)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Raise :class:`SettingsError` for values that are well-typed but unusable."""
        if self.partitions < 1:
            raise SettingsError("MONITOR_PARTITIONS must be at least 1.")
        if not 0 < self.alert_clear <= self.alert_open < 1:
            raise SettingsError(
                "MONITOR_ALERT_CLEAR must be above 0 and at most MONITOR_ALERT_OPEN, "
                "which must be below 1."
            )
        if self.batch_size < 1 or not 0 < self.batch_wait_s <= 5:
            raise SettingsError(
                "MONITOR_BATCH_SIZE must be at least 1 and MONITOR_BATCH_WAIT_S between 0 and 5."
            )
        if self.store.split("://")[0] not in ("memory", "rocksdb"):
            raise SettingsError("MONITOR_STORE must be memory:// or rocksdb://.")
        for url in (
            *self.webhook_urls,
            *([self.alertmanager_url] if self.alertmanager_url else []),
        ):
            if not url.startswith(("http://", "https://")):
                raise SettingsError(
                    f"MONITOR_WEBHOOK_URLS has {url!r}, which is not an http(s) URL."
                )

    @property
    def broker_url(self) -> str:
        """The bootstrap servers in Faust's ``kafka://`` form."""
        return ";".join(f"kafka://{server.strip()}" for server in self.bootstrap.split(","))


def _convert(name: str, raw: str, default: Any) -> Any:
    text = raw.strip()
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(f"{name} must be true or false, not {raw!r}.")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, not {raw!r}.") from None
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise SettingsError(f"{name} must be a number, not {raw!r}.") from None
    if isinstance(default, tuple):
        return tuple(part.strip() for part in text.split(",") if part.strip())
    if isinstance(default, Path):
        return Path(text)
    return text
