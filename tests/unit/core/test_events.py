import orjson
import pytest

from monitor.core.events import InvalidEvent, parse_event
from tests.unit.core.helpers import raw, raw_bill, raw_macro


def _bytes(**override: object) -> bytes:
    event = raw_bill("a1", "2026-01-05", "b1", 100.0, "2026-01-20")
    event.update(override)
    return orjson.dumps({k: v for k, v in event.items() if v is not None})


def test_valid_bill_parses_with_event_time() -> None:
    event = parse_event(_bytes())
    assert event.type == "bill_issued"
    assert event.account_id == "a1"
    assert event.get("amount_due") == 100.0


@pytest.mark.parametrize(
    ("payload", "kind", "fragment"),
    [
        (b"\xff\xfe not json", "not_json", "not JSON"),
        (b"[1, 2]", "not_object", "not a JSON object"),
        (b"", "not_json", "not JSON"),
        (_bytes(type="refund"), "schema", "data.type must be one of"),
        (_bytes(amount_due="100"), "schema", "amount_due must be number"),
        (_bytes(amount_due=-1.0), "schema", "amount_due must be bigger than or equal to 0"),
        (_bytes(amount_due=5e12), "schema", "amount_due must be smaller"),
        (_bytes(due_date=None), "schema", "must contain"),
        (_bytes(minimum_due=500.0), "semantic", "minimum_due is larger than amount_due"),
        (_bytes(due_date="2031-01-01"), "semantic", "due_date is more than"),
        (_bytes(due_date="2026-02-30"), "schema", "due_date must be date"),
        (_bytes(event_time="2026-01-05T08:00:00"), "schema", "event_time must match pattern"),
        (_bytes(event_time="1970-01-05T08:00:00Z"), "semantic", "outside 2000..2099"),
        (_bytes(schema_version=2), "schema", "schema_version must be same as const"),
        (_bytes(account_id="a1\x0020460"), "semantic", "account_id holds a NUL character"),
    ],
)
def test_invalid_messages_say_why(payload: bytes, kind: str, fragment: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_event(payload)
    assert info.value.kind == kind
    assert fragment in info.value.reason


def test_oversized_message_is_refused_before_decoding() -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_event(b"{" + b" " * 70_000 + b"}", max_bytes=65_536)
    assert info.value.kind == "oversized"


def test_macro_indicator_needs_no_account() -> None:
    event = parse_event(orjson.dumps(raw_macro("2026-01-05", value=5.5)))
    assert event.account_id == ""
    assert event.get("region") == "north"


def test_extension_requires_new_due_date() -> None:
    payload = orjson.dumps(
        raw(
            "repayment_plan_changed",
            "2026-01-05",
            account_id="a",
            product="credit_pay",
            bill_id="b1",
            plan="extension",
        )
    )
    with pytest.raises(InvalidEvent, match="new_due_date"):
        parse_event(payload)
