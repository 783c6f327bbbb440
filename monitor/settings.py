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
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class SettingsError(ValueError):
    """A setting has a value the monitor cannot use."""


SECRETS = frozenset({"webhook_secret", "pseudonymise_key", "kafka_sasl_password"})
"""Settings that are never shown: repr, str and :meth:`Settings.redacted` mask them."""

#: the schedule's topics, named ``<app id>-<suffix>`` unless set
GROUP_TOPICS = (
    ("outcomes_topic", "outcomes"),
    ("partials_topic", "portfolio-partials"),
    ("models_topic", "models"),
)

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True, repr=False)
class Settings:
    """All configuration of the monitor. Field ``x`` is read from ``MONITOR_X``."""

    bootstrap: str = "127.0.0.1:9092"
    app_id: str = "delinquency-monitor"
    input_topic: str = "repayment-events"
    alerts_topic: str = "delinquency-alerts"
    dead_letter_topic: str = "repayment-events-dlq"
    risk_topic: str = "account-risk"
    #: the schedule's topics, one partition each ("": the app id and a suffix)
    outcomes_topic: str = ""  # outcome records and input clocks, for the learner
    partials_topic: str = ""  # each input partition's closed days, for the portfolio desk
    models_topic: str = ""  # compacted: model versions, the schedule, the keeper's snapshot
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
    webhook_max_backoff_s: float = 30.0  # longest wait between two attempts at one alert
    webhook_queue: int = 10000
    delivery_journal_keep: int = 100000  # delivered ids remembered per sink; 0: no journal
    alertmanager_url: str = ""
    alertmanager_resend_s: float = 60.0
    alert_open: float = 0.9
    alert_clear: float = 0.5
    horizon_days: int = 60
    model_lag_days: int = 1  # a closed day's learning scores from this many days later
    idle_partition_days: int = 7  # a partition this far behind the newest holds no day open
    version_wait_s: float = 120.0  # longest a scorer waits for its day's model version
    reserve_amount: float = 0.0
    coverage_min: float = 1.2
    max_event_bytes: int = 65536
    pseudonymise_key: str = ""
    model_checkpoint: str = ""  # file to warm-start from and to save to (default: in data_dir)
    checkpoint_every_s: float = 30.0
    log_level: str = "info"
    batch_size: int = 100  # events the agent takes at once (state written once per batch)
    batch_wait_s: float = 0.02  # longest wait for a batch to fill before it is processed
    kafka_security_protocol: str = "PLAINTEXT"  # PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
    kafka_ssl_cafile: str = ""  # CA bundle that signed the brokers' certificates
    kafka_ssl_certfile: str = ""  # client certificate (mutual TLS), with kafka_ssl_keyfile
    kafka_ssl_keyfile: str = ""
    kafka_sasl_mechanism: str = "PLAIN"  # PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = ""

    def __post_init__(self) -> None:
        for name, suffix in GROUP_TOPICS:
            if not getattr(self, name):
                object.__setattr__(self, name, f"{self.app_id}-{suffix}")

    def for_app(self, app_id: str, **changes: Any) -> Settings:
        """These settings for another app id (and ``changes``): the schedule's topics named
        after the old app id are named after the new one (``dataclasses.replace`` would keep
        them, and two groups would share one keeper's topics).

        >>> s = Settings(app_id="a").for_app("b")
        >>> s.outcomes_topic, s.models_topic
        ('b-outcomes', 'b-models')
        >>> Settings(app_id="a", models_topic="mine").for_app("b").models_topic
        'mine'
        """
        derived: dict[str, Any] = {
            name: ""
            for name, suffix in GROUP_TOPICS
            if getattr(self, name) == f"{self.app_id}-{suffix}" and name not in changes
        }
        return replace(self, app_id=app_id, **derived, **changes)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.redacted().items())
        return f"Settings({shown})"

    __str__ = __repr__

    def redacted(self) -> dict[str, Any]:
        """Every setting by field name, with each secret that is set shown as ``'***'``.

        >>> Settings(webhook_secret="s3cret").redacted()["webhook_secret"]
        '***'
        >>> "s3cret" in repr(Settings(kafka_sasl_password="s3cret"))
        False
        """
        shown: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRETS and value:
                value = "***"
            elif f.name == "webhook_urls":
                value = tuple(masked_url(url) for url in value)
            elif f.name == "alertmanager_url" and value:
                value = masked_url(value)
            shown[f.name] = value
        return shown

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
        if self.idle_partition_days < 1:
            raise SettingsError("MONITOR_IDLE_PARTITION_DAYS must be at least 1.")
        if self.version_wait_s <= 0:
            raise SettingsError("MONITOR_VERSION_WAIT_S must be above 0 (seconds).")
        if self.model_lag_days < 1:
            raise SettingsError(
                "MONITOR_MODEL_LAG_DAYS must be at least 1 (a day is learnt once it has closed)."
            )
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
        if self.webhook_max_backoff_s <= 0:
            raise SettingsError("MONITOR_WEBHOOK_MAX_BACKOFF_S must be above 0 (seconds).")
        for url in (
            *self.webhook_urls,
            *([self.alertmanager_url] if self.alertmanager_url else []),
        ):
            if not url.startswith(("http://", "https://")):
                raise SettingsError(
                    f"MONITOR_WEBHOOK_URLS has {masked_url(url)!r}, which is not an http(s) URL."
                )
        self._check_kafka_security()

    def _check_kafka_security(self) -> None:
        protocol = self.kafka_security_protocol
        if protocol not in SECURITY_PROTOCOLS:
            raise SettingsError(
                f"MONITOR_KAFKA_SECURITY_PROTOCOL must be one of {', '.join(SECURITY_PROTOCOLS)}, "
                f"not {protocol!r}."
            )
        for name in ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise SettingsError(f"MONITOR_{name.upper()} names {path}, which is not a file.")
        if bool(self.kafka_ssl_certfile) != bool(self.kafka_ssl_keyfile):
            raise SettingsError(
                "MONITOR_KAFKA_SSL_CERTFILE and MONITOR_KAFKA_SSL_KEYFILE go together: "
                "set both for a client certificate, or neither."
            )
        if protocol.startswith("SASL"):
            if self.kafka_sasl_mechanism not in SASL_MECHANISMS:
                raise SettingsError(
                    f"MONITOR_KAFKA_SASL_MECHANISM must be one of {', '.join(SASL_MECHANISMS)}, "
                    f"not {self.kafka_sasl_mechanism!r}."
                )
            if not (self.kafka_sasl_username and self.kafka_sasl_password):
                raise SettingsError(
                    f"MONITOR_KAFKA_SECURITY_PROTOCOL={protocol} needs "
                    "MONITOR_KAFKA_SASL_USERNAME and MONITOR_KAFKA_SASL_PASSWORD."
                )

    @property
    def broker_url(self) -> str:
        """The bootstrap servers in Faust's ``kafka://`` form."""
        return ";".join(f"kafka://{server.strip()}" for server in self.bootstrap.split(","))


def masked_url(url: str) -> str:
    """A URL as it may be shown: scheme, host and port only, since user info, path and query
    often carry a token.

    >>> masked_url("https://user:pw@hooks.example.com:8443/services/T0/B1/xyz?token=abc")
    'https://hooks.example.com:8443/***'
    >>> masked_url("http://127.0.0.1:9000/"), masked_url("ftp://x")
    ('http://127.0.0.1:9000/', 'ftp://x')
    """
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    rest = "/***" if parts.path.strip("/") or parts.query or parts.fragment else parts.path
    return f"{parts.scheme}://{host}{rest}" if parts.scheme else "***"


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
