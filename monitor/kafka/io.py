"""The blocking side of Kafka (kafka-python): reachability, topics, producing files and streams.

Used by the CLI tools only, never inside a Faust agent.
"""

from __future__ import annotations

import logging
import socket
import time
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from monitor.kafka.security import client_options
from monitor.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
    from kafka.consumer import KafkaConsumer
    from kafka.errors import KafkaTimeoutError, TopicAlreadyExistsError
    from kafka.producer import KafkaProducer
    from kafka.structs import TopicPartition


class BrokerUnreachable(RuntimeError):
    """No Kafka broker answers at the configured bootstrap address."""


def check_reachable(bootstrap: str, timeout: float = 3.0) -> None:
    """Raise :class:`BrokerUnreachable` unless some bootstrap server accepts a connection."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
                return
        except (OSError, ValueError):
            continue
    raise BrokerUnreachable(
        f"No Kafka broker answers at {bootstrap}: start one with `monitor kafka start` "
        "or point MONITOR_BOOTSTRAP at your cluster."
    )


class BrokerRefused(BrokerUnreachable):
    """A broker answers but the clients cannot get in: wrong protocol, credentials or TLS."""


class _RefusalReason(logging.Handler):
    """Keeps the first authentication or TLS failure kafka-python logs (it retries after it)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reason = ""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not self.reason and ("Authentication" in message or "SSL" in message):
            self.reason = message.rsplit("Error: ", 1)[-1].rstrip(")")


@contextmanager
def _explained(settings: Settings) -> Iterator[None]:
    """Turn kafka-python's bootstrap timeout into :class:`BrokerRefused`, one sentence long.

    kafka-python retries a refused login (or a TLS failure) until its bootstrap timeout and then
    reports only the timeout; when it logged why (the broker does not always say), the reason
    goes into the sentence.
    """
    seen = _RefusalReason()
    logger = logging.getLogger("kafka")
    logger.addHandler(seen)
    try:
        yield
    except KafkaTimeoutError:
        reason = seen.reason or "the connection closed or timed out while logging in"
        raise BrokerRefused(
            f"Kafka at {settings.bootstrap} answers but did not let the monitor in ({reason}): "
            "check MONITOR_KAFKA_SECURITY_PROTOCOL "
            f"({settings.kafka_security_protocol}) and the MONITOR_KAFKA_SASL_* and "
            "MONITOR_KAFKA_SSL_* settings."
        ) from None
    finally:
        logger.removeHandler(seen)


def _hours(hours: int) -> dict[str, str]:
    return {"cleanup.policy": "delete", "retention.ms": str(hours * 3600 * 1000)}


def topic_specs(settings: Settings) -> list[tuple[str, int, dict[str, str]]]:
    """Name, partitions and configs of every topic the monitor reads or writes."""
    return [
        (settings.input_topic, settings.partitions, _hours(settings.input_retention_hours)),
        (settings.alerts_topic, settings.partitions, _hours(settings.alerts_retention_hours)),
        (
            settings.dead_letter_topic,
            settings.partitions,
            _hours(settings.dead_letter_retention_hours),
        ),
        (
            settings.risk_topic,
            settings.partitions,
            {
                "cleanup.policy": "compact",
                "min.cleanable.dirty.ratio": "0.1",
                "segment.ms": str(3600 * 1000),
            },
        ),
        # the schedule's topics have one partition each, so one worker of the group keeps them
        (settings.outcomes_topic, 1, _hours(settings.input_retention_hours)),
        (settings.partials_topic, 1, _hours(settings.input_retention_hours)),
        (
            settings.models_topic,
            1,
            {
                "cleanup.policy": "compact",
                "min.cleanable.dirty.ratio": "0.1",
                "segment.ms": str(3600 * 1000),
                "max.message.bytes": str(MODELS_MAX_MESSAGE_BYTES),
            },
        ),
    ]


#: Largest record of the models topic (a model version or the keeper's snapshot), bytes.
MODELS_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


@contextmanager
def admin(settings: Settings) -> Iterator[Any]:
    """A connected admin client, closed on exit."""
    check_reachable(settings.bootstrap)
    with _explained(settings):
        client = KafkaAdminClient(
            bootstrap_servers=settings.bootstrap,
            client_id="monitor-admin",
            **client_options(settings),
        )
    try:
        yield client
    finally:
        client.close()


def delete_topics(settings: Settings, prefix: str) -> list[str]:
    """Delete every topic whose name starts with ``prefix`` (a run's own topics, Faust's
    changelogs among them); return the names deleted."""
    with admin(settings) as client:
        names = sorted(t for t in client.list_topics() if t.startswith(prefix))
        if names:
            client.delete_topics(names)
    return names


def create_topics(settings: Settings) -> list[str]:
    """Create the monitor's topics that do not exist yet; return the names created."""
    created = []
    with admin(settings) as client:
        existing = set(client.list_topics())
        for name, partitions, config in topic_specs(settings):
            if name in existing:
                continue
            try:
                client.create_topics(
                    [NewTopic(name, partitions, settings.replication, None, config)]
                )
                created.append(name)
            except TopicAlreadyExistsError:
                pass
    return created


class TopicMismatch(RuntimeError):
    """An existing topic has another partition count than the settings say."""


def ensure_topics(settings: Settings) -> None:
    """Create missing topics; refuse to run on topics whose partition count differs."""
    create_topics(settings)
    wanted = {name: partitions for name, partitions, _ in topic_specs(settings)}
    with admin(settings) as client:
        described = client.describe_topics(list(wanted))
    for topic in described:
        name, partitions = topic["name"], len(topic["partitions"])
        if partitions == wanted[name]:
            continue
        if wanted[name] == settings.partitions:
            raise TopicMismatch(
                f"topic {name} has {partitions} partitions but MONITOR_PARTITIONS is "
                f"{settings.partitions}: set MONITOR_PARTITIONS={partitions} or recreate the topic."
            )
        raise TopicMismatch(
            f"topic {name} has {partitions} partitions but the monitor needs {wanted[name]}: "
            "delete it and run `monitor topics create`."
        )


def producer(settings: Settings) -> Any:
    """A producer that waits for all in-sync replicas."""
    check_reachable(settings.bootstrap)
    with _explained(settings):
        return KafkaProducer(
            bootstrap_servers=settings.bootstrap,
            acks="all",
            linger_ms=20,
            batch_size=256 * 1024,
            client_id="monitor-producer",
            **client_options(settings),
        )


def key_of(line: bytes) -> tuple[bytes | None, bool]:
    """Message key of a raw event line and whether it is a macro indicator (broadcast)."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None, False
    if not isinstance(data, dict):
        return None, False
    if data.get("type") == "macro_indicator":
        return f"macro/{data.get('region', '')}".encode(), True
    if data.get("type") == "reserve_updated":
        return b"reserve", True
    account = data.get("account_id")
    return (account.encode() if isinstance(account, str) else None), False


def produce_lines(
    settings: Settings, lines: Iterable[bytes], rate: float | None = None, topic: str | None = None
) -> int:
    """Send raw event lines (JSON) to the input topic, keyed by account.

    Macro indicators go to every partition, so that each partition's clock and macro book see
    them in stream order. ``rate`` limits the messages per second. Returns messages sent.
    """
    topic = topic or settings.input_topic
    prod = producer(settings)
    partitions = sorted(prod.partitions_for(topic) or {0})
    sent = 0
    started = time.monotonic()
    try:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            key, broadcast = key_of(line)
            for partition in partitions if broadcast else [None]:
                prod.send(topic, key=key, value=line, partition=partition)
                sent += 1
            if rate:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        prod.flush()
    finally:
        prod.close()
    return sent


#: Broker defaults of topic configs the admin API leaves out when a topic does not override them.
_BROKER_DEFAULTS = {"cleanup.policy": "delete"}


def check_topics(settings: Settings) -> list[str]:
    """Differences between the settings and the cluster's topics, one sentence each."""
    specs = topic_specs(settings)
    drift = []
    with admin(settings) as client:
        existing = set(client.list_topics())
        present = [name for name, _, _ in specs if name in existing]
        described = {t["name"]: len(t["partitions"]) for t in client.describe_topics(present)}
        resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in present]
        configs = client.describe_configs(resources)["topic"] if resources else {}
    for name, partitions, config in specs:
        if name not in existing:
            drift.append(f"{name}: missing (run `monitor topics create`)")
            continue
        if described[name] != partitions:
            drift.append(f"{name}: {described[name]} partitions, settings say {partitions}")
        actual = configs.get(name, {})
        for key, wanted in config.items():
            value = actual.get(key, {}).get("value", _BROKER_DEFAULTS.get(key))
            if value != wanted:
                drift.append(f"{name}: {key} is {value}, settings say {wanted}")
    return drift


def consumer(settings: Settings, *topics: str, **options: Any) -> Any:
    """A kafka-python consumer of ``topics`` with the settings' security; ``options`` go to it.

    A broker that refuses the login raises :class:`BrokerRefused`, one sentence long.
    """
    check_reachable(settings.bootstrap)
    with _explained(settings):
        return KafkaConsumer(
            *topics, bootstrap_servers=settings.bootstrap, **options, **client_options(settings)
        )


def consumer_lag(settings: Settings) -> list[tuple[str, int, int, int]]:
    """(topic, partition, committed offset, end offset) of the worker group on the input topic."""
    check_reachable(settings.bootstrap)
    with admin(settings) as client:
        committed = client.list_group_offsets({settings.app_id: None}).get(settings.app_id, {})
    reader = consumer(settings, client_id="monitor-lag")
    try:
        partitions = sorted(reader.partitions_for_topic(settings.input_topic) or [])
        tps = [TopicPartition(settings.input_topic, p) for p in partitions]
        ends = reader.end_offsets(tps) if tps else {}
    finally:
        reader.close()
    rows = []
    for tp in tps:
        meta = committed.get(tp)
        rows.append((tp.topic, tp.partition, meta.offset if meta else 0, ends.get(tp, 0)))
    return rows
