import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.sinks.signing import SIGNATURE_HEADER, sign, verify

NOW = 1_800_000_000


def test_round_trip() -> None:
    header = sign("secret", b"{}", NOW)
    assert header.startswith(f"t={NOW},v1=")
    assert verify("secret", b"{}", header, now=NOW + 1)
    assert SIGNATURE_HEADER == "X-Monitor-Signature"


def test_default_timestamp_is_the_wall_clock() -> None:
    assert verify("secret", b"{}", sign("secret", b"{}"), now=time.time(), tolerance_s=5)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("other", b"{}", NOW),
        ("secret", b"{ }", NOW),
        ("secret", b"{}", NOW + 301),
        ("secret", b"{}", NOW - 301),
        ("secret", b"{}", float("nan")),
    ],
    ids=["wrong-secret", "tampered-body", "stale", "future", "nan-clock"],
)
def test_wrong_secret_tampered_body_and_stale_or_future_time_fail(
    secret: str, body: bytes, now: float
) -> None:
    assert not verify(secret, body, sign("secret", b"{}", NOW), now=now)


def test_tolerance_bound_is_inclusive_and_configurable() -> None:
    header = sign("secret", b"{}", NOW)
    assert verify("secret", b"{}", header, now=NOW + 300)
    assert not verify("secret", b"{}", header, now=NOW + 11, tolerance_s=10)


def _valid() -> str:
    return sign("secret", b"{}", NOW)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        "v1=00",
        "t=1800000000",
        "t=abc,v1=00",
        "t=1_800_000_000," + _valid().split(",")[1],  # int() would accept it
        "t=-5," + _valid().split(",")[1],
        _valid() + "é",  # non-ASCII: hmac.compare_digest on str would raise TypeError
        _valid()[:-1] + "é",
        _valid().upper(),
        _valid()[:-2],  # truncated digest
    ],
)
def test_malformed_headers_fail_without_raising(header: str) -> None:
    assert not verify("secret", b"{}", header, now=NOW)


def test_the_signed_timestamp_is_bound_to_the_digest() -> None:
    """Moving t into the tolerance window without re-signing must not verify."""
    digest = sign("secret", b"{}", NOW - 10_000).split(",")[1]
    assert not verify("secret", b"{}", f"t={NOW},{digest}", now=NOW)


@given(st.binary(max_size=2000), st.text(min_size=1, max_size=40))
def test_any_body_verifies_with_its_own_signature(body: bytes, secret: str) -> None:
    header = sign(secret, body, NOW)
    assert verify(secret, body, header, now=NOW)
    assert not verify(secret, body + b"x", header, now=NOW)


@given(st.text(max_size=200))
def test_arbitrary_headers_never_raise(header: str) -> None:
    assert verify("secret", b"{}", header, now=NOW) in (True, False)
