"""Kafka TLS and SASL settings, as each client library wants them.

The worker's Faust app takes ``broker_credentials`` (:func:`faust_credentials`); the blocking
kafka-python clients of :mod:`monitor.kafka.io` take keyword options (:func:`client_options`).
Both come from the same ``MONITOR_KAFKA_*`` settings, so the worker and the CLI tools always
connect the same way.

>>> from monitor.settings import Settings
>>> client_options(Settings())
{'security_protocol': 'PLAINTEXT'}
>>> faust_credentials(Settings()) is None
True
"""

from __future__ import annotations

import ssl
from typing import Any

from monitor.settings import Settings


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """A client TLS context: verifies brokers against the CA file (or the system's CAs) and
    presents the client certificate when one is set."""
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=settings.kafka_ssl_cafile or None
    )
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
    return context


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword options of every kafka-python client (producer, consumer, admin).

    >>> opts = client_options(Settings(kafka_security_protocol="SASL_PLAINTEXT",
    ...     kafka_sasl_username="u", kafka_sasl_password="p"))
    >>> sorted(opts)
    ['sasl_mechanism', 'sasl_plain_password', 'sasl_plain_username', 'security_protocol']
    """
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        options.update(
            {
                "ssl_check_hostname": True,
                **({"ssl_cafile": settings.kafka_ssl_cafile} if settings.kafka_ssl_cafile else {}),
                **(
                    {
                        "ssl_certfile": settings.kafka_ssl_certfile,
                        "ssl_keyfile": settings.kafka_ssl_keyfile,
                    }
                    if settings.kafka_ssl_certfile
                    else {}
                ),
            }
        )
    if protocol.startswith("SASL"):
        options.update(
            {
                "sasl_mechanism": settings.kafka_sasl_mechanism,
                "sasl_plain_username": settings.kafka_sasl_username,
                "sasl_plain_password": settings.kafka_sasl_password,
            }
        )
    return options


def faust_credentials(settings: Settings) -> Any:
    """The Faust app's ``broker_credentials``, or None for plaintext without authentication."""
    import faust

    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return faust.SSLCredentials(ssl_context(settings))
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password,
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=ssl_context(settings) if protocol == "SASL_SSL" else None,
    )


def aiokafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword options of an aiokafka client (the worker's own consumers and producer beside
    Faust's) for the settings' security.

    >>> aiokafka_options(Settings())
    {'security_protocol': 'PLAINTEXT'}
    """
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl_context(settings)
    if protocol.startswith("SASL"):
        options.update(
            {
                "sasl_mechanism": settings.kafka_sasl_mechanism,
                "sasl_plain_username": settings.kafka_sasl_username,
                "sasl_plain_password": settings.kafka_sasl_password,
            }
        )
    return options
