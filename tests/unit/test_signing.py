import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.signing import sign, verify

pytestmark = pytest.mark.unit
NOW = 1_800_000_000


def test_round_trip() -> None:
    header = sign("secret", b"{}", NOW)
    assert verify("secret", b"{}", header, now=NOW + 1)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("other", b"{}", NOW),
        ("secret", b"{ }", NOW),
        ("secret", b"{}", NOW + 301),
        ("secret", b"{}", NOW - 301),
    ],
)
def test_wrong_secret_tampered_body_and_stale_or_future_time_fail(secret, body, now) -> None:
    assert not verify(secret, body, sign("secret", b"{}", NOW), now=now)


@pytest.mark.parametrize("header", ["", "t=abc,v1=00", "v1=00", "t=1800000000", "garbage"])
def test_malformed_headers_fail(header: str) -> None:
    assert not verify("secret", b"{}", header, now=NOW)


@given(st.binary(max_size=2000), st.text(min_size=1, max_size=40))
def test_any_body_verifies_with_its_own_signature(body: bytes, secret: str) -> None:
    assert verify(secret, body, sign(secret, body, NOW), now=NOW)
