"""Kafka TLS and SASL settings: validation, masking, their mapping onto both client libraries."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import faust
import pytest

from monitor.kafka.security import client_options, faust_credentials
from monitor.settings import Settings, SettingsError

SASL = {
    "MONITOR_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "MONITOR_KAFKA_SASL_USERNAME": "monitor",
    "MONITOR_KAFKA_SASL_PASSWORD": "pa55-word",
}


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and its key, made by the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    folder = tmp_path_factory.mktemp("pem")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_plaintext_is_the_default_and_needs_no_credentials() -> None:
    settings = Settings.from_env({})
    assert client_options(settings) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"MONITOR_KAFKA_SECURITY_PROTOCOL": "TLS"},
            "must be one of PLAINTEXT, SSL, SASL_PLAINTEXT",
        ),
        (
            {"MONITOR_KAFKA_SECURITY_PROTOCOL": "SSL", "MONITOR_KAFKA_SSL_CAFILE": "/no/ca.pem"},
            "MONITOR_KAFKA_SSL_CAFILE names /no/ca.pem, which is not a file.",
        ),
        (
            {**SASL, "MONITOR_KAFKA_SASL_MECHANISM": "GSSAPI"},
            "MONITOR_KAFKA_SASL_MECHANISM must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512",
        ),
        (
            {**SASL, "MONITOR_KAFKA_SASL_PASSWORD": ""},
            "needs MONITOR_KAFKA_SASL_USERNAME and MONITOR_KAFKA_SASL_PASSWORD",
        ),
    ],
)
def test_bad_security_settings_are_one_sentence(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    text = str(caught.value)
    assert message in text
    assert text.endswith(".") and "\n" not in text
    assert "pa55-word" not in text


def test_certificate_without_key_is_refused(pem: tuple[Path, Path]) -> None:
    cert, _ = pem
    with pytest.raises(SettingsError, match="go together"):
        Settings.from_env(
            {"MONITOR_KAFKA_SECURITY_PROTOCOL": "SSL", "MONITOR_KAFKA_SSL_CERTFILE": str(cert)}
        )


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_plaintext_maps_onto_both_clients(mechanism: str) -> None:
    settings = Settings.from_env({**SASL, "MONITOR_KAFKA_SASL_MECHANISM": mechanism})
    assert client_options(settings) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "monitor",
        "sasl_plain_password": "pa55-word",
    }
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_PLAINTEXT"
    assert credentials.mechanism.value == mechanism
    assert (credentials.username, credentials.password) == ("monitor", "pa55-word")
    assert credentials.ssl_context is None


def test_mutual_tls_maps_onto_both_clients(pem: tuple[Path, Path]) -> None:
    cert, key = pem
    settings = Settings.from_env(
        {
            "MONITOR_KAFKA_SECURITY_PROTOCOL": "SSL",
            "MONITOR_KAFKA_SSL_CAFILE": str(cert),
            "MONITOR_KAFKA_SSL_CERTFILE": str(cert),
            "MONITOR_KAFKA_SSL_KEYFILE": str(key),
        }
    )
    assert client_options(settings) == {
        "security_protocol": "SSL",
        "ssl_check_hostname": True,
        "ssl_cafile": str(cert),
        "ssl_certfile": str(cert),
        "ssl_keyfile": str(key),
    }
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials.protocol.value == "SSL"
    # the context trusts exactly the given CA and verifies the broker's name
    assert credentials.context.check_hostname
    assert [c["subject"] for c in credentials.context.get_ca_certs()] == [
        ((("commonName", "localhost"),),)
    ]


def test_sasl_ssl_carries_a_tls_context(pem: tuple[Path, Path]) -> None:
    cert, _ = pem
    settings = Settings.from_env(
        {
            **SASL,
            "MONITOR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "MONITOR_KAFKA_SSL_CAFILE": str(cert),
        }
    )
    options = client_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["ssl_cafile"] == str(cert) and options["sasl_plain_password"] == "pa55-word"
    credentials = faust_credentials(settings)
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.ssl_context is not None


def test_the_worker_app_gets_the_credentials() -> None:
    from monitor.worker.app import MonitorWorker

    monitor = MonitorWorker(Settings.from_env(SASL), sinks=[])
    credentials = monitor.app.conf.broker_credentials
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.username == "monitor"


def test_secrets_never_show_in_repr_or_str() -> None:
    settings = Settings.from_env(
        {
            **SASL,
            "MONITOR_WEBHOOK_SECRET": "hook-s3cret",
            "MONITOR_PSEUDONYMISE_KEY": "pseudo-k3y",
        }
    )
    for text in (repr(settings), str(settings), f"{settings}", str(settings.redacted())):
        for secret in ("pa55-word", "hook-s3cret", "pseudo-k3y"):
            assert secret not in text
        assert "'monitor'" in text and "'***'" in text
    assert settings.redacted()["kafka_sasl_password"] == "***"
    assert Settings().redacted()["webhook_secret"] == ""  # unset is shown as unset
    assert settings.kafka_sasl_password == "pa55-word"  # the value itself is intact


def test_urls_are_shown_without_their_tokens() -> None:
    settings = Settings.from_env(
        {
            "MONITOR_WEBHOOK_URLS": "https://hooks.example.com/services/T0/B1/tok3n,http://h:1/",
            "MONITOR_ALERTMANAGER_URL": "http://am:pa55@am.example.com:9093",
        }
    )
    assert settings.redacted()["webhook_urls"] == ("https://hooks.example.com/***", "http://h:1/")
    assert settings.redacted()["alertmanager_url"] == "http://am.example.com:9093"
    assert "tok3n" not in repr(settings) and "pa55" not in repr(settings)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"MONITOR_WEBHOOK_URLS": "ftp://u:tok3n@files.example.com/x"})
    assert "tok3n" not in str(caught.value) and "ftp://files.example.com/***" in str(caught.value)
