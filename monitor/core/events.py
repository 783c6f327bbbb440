"""The repayment-event model and its validation.

Raw bytes from the input topic become :class:`Event` objects, or an :class:`InvalidEvent`
exception whose ``reason`` says in one line what is wrong (it goes to the dead-letter topic with
the original bytes). Structure is checked against the versioned JSON Schema
(``monitor/contracts/repayment-event.v1.json``); the checks a schema cannot express (minimum due
above the amount due, due dates far from the bill, times outside a sane range) follow it.

>>> raw = (b'{"schema_version": 1, "event_id": "e1", "event_time": "2026-01-05T08:00:00Z",'
...        b' "type": "payment", "account_id": "a1", "product": "credit_pay", "amount": 50}')
>>> event = parse_event(raw)
>>> event.type, event.account_id, event.get("amount")
('payment', 'a1', 50)
>>> try:
...     parse_event(raw.replace(b'50', b'-5'))
... except InvalidEvent as exc:
...     print(exc.reason)
schema: data.amount must be bigger than 0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import fastjsonschema
import orjson

from monitor import contracts
from monitor.core.timeutil import day_of, parse_date, parse_time

MAX_EVENT_BYTES = 64 * 1024
_MIN_TIME = parse_time("2000-01-01T00:00:00Z")
_MAX_TIME = parse_time("2100-01-01T00:00:00Z")


class InvalidEvent(ValueError):
    """A message that is not a valid repayment event.

    ``reason`` is one readable line; ``kind`` is a short category for metrics, one of
    :data:`~monitor.core.vocabulary.INVALID_EVENT_REASONS`.
    """

    def __init__(self, reason: str, kind: str = "semantic") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Event:
    """A validated repayment event.

    ``time`` is epoch seconds; ``data`` is the decoded JSON object (read fields with ``get``).
    Macro indicators have ``account_id == ""`` and carry ``region``.
    """

    event_id: str
    time: float
    type: str
    account_id: str
    product: str
    data: dict[str, Any]

    def get(self, name: str, default: Any = None) -> Any:
        """A field of the event, or ``default``."""
        return self.data.get(name, default)

    @property
    def day(self) -> int:
        """Day number of the event time."""
        return day_of(self.time)


Validator = Callable[[Any], Any]


def _type_test(condition: Any) -> Any:
    """The ``type`` constant an ``if`` tests, when that is all it tests (else None)."""
    if not isinstance(condition, dict) or set(condition) - {"required", "properties"}:
        return None
    properties = condition.get("properties", {})
    if set(properties) != {"type"} or set(properties["type"]) != {"const"}:
        return None
    return properties["type"]["const"]


def specialise(schema: dict[str, Any], event_type: str) -> dict[str, Any]:
    """The schema as it applies to events of ``event_type``: each ``if type == X`` branch of its
    ``allOf`` is resolved (its ``then`` kept for X, its ``else`` otherwise); other parts stay.

    fastjsonschema evaluates an ``if`` by raising and catching an exception, so validating
    against the specialised schema is several times faster and accepts exactly the same events.

    >>> branch = {"if": {"properties": {"type": {"const": "a"}}}, "then": {"required": ["x"]}}
    >>> s = {"allOf": [branch]}
    >>> specialise(s, "a"), specialise(s, "b")
    ({'allOf': [{'required': ['x']}]}, {'allOf': []})
    """
    branches = []
    for branch in schema.get("allOf", []):
        tested = _type_test(branch.get("if")) if isinstance(branch, dict) else None
        if tested is None:
            branches.append(branch)
        elif tested == event_type and "then" in branch:
            branches.append(branch["then"])
        elif tested != event_type and "else" in branch:
            branches.append(branch["else"])
    return {**schema, "allOf": branches}


def _compile() -> tuple[Validator, dict[str, Validator]]:
    schema = contracts.load("repayment-event")
    whole: Validator = fastjsonschema.compile(schema)
    types = schema["properties"]["type"]["enum"]
    return whole, {t: fastjsonschema.compile(specialise(schema, t)) for t in types}


_validate_any, _validate_type = _compile()


def _validate(data: dict[str, Any]) -> None:
    kind = data.get("type")
    validator = _validate_type.get(kind) if isinstance(kind, str) else None
    (validator or _validate_any)(data)


def parse_event(raw: bytes | str | None, max_bytes: int = MAX_EVENT_BYTES) -> Event:
    """Decode and validate one message; raise :class:`InvalidEvent` with the reason."""
    if raw is None:
        raise InvalidEvent("empty message (no value)", "empty")
    if len(raw) > max_bytes:
        raise InvalidEvent(
            f"message of {len(raw)} bytes exceeds the limit of {max_bytes} bytes", "oversized"
        )
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not JSON: {exc}", "not_json") from None
    if not isinstance(data, dict):
        raise InvalidEvent(f"not a JSON object but {type(data).__name__}", "not_object")
    return event_from_dict(data)


def event_from_dict(data: dict[str, Any]) -> Event:
    """Validate a decoded JSON object (schema, then semantic checks) into an :class:`Event`."""
    try:
        _validate(data)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise InvalidEvent(f"schema: {exc.message}", "schema") from None
    try:
        time = parse_time(data["event_time"])
    except ValueError as exc:
        raise InvalidEvent(f"bad event_time: {exc}") from None
    if not _MIN_TIME <= time < _MAX_TIME:
        raise InvalidEvent(f"event_time {data['event_time']} is outside 2000..2099")
    event = Event(
        event_id=data["event_id"],
        time=time,
        type=data["type"],
        account_id=data.get("account_id", ""),
        product=data.get("product", ""),
        data=data,
    )
    _check_semantics(event)
    return event


def _date(event: Event, field: str) -> int:
    try:
        return parse_date(event.data[field])
    except ValueError:
        raise InvalidEvent(f"{field} {event.data[field]!r} is not a calendar date") from None


def _check_semantics(event: Event) -> None:
    kind = event.type
    if kind == "bill_issued":
        if event.data["minimum_due"] > event.data["amount_due"]:
            raise InvalidEvent("minimum_due is larger than amount_due")
        due = _date(event, "due_date")
        if not event.day - 31 <= due <= event.day + 400:
            raise InvalidEvent("due_date is more than a month before or 400 days after the bill")
    elif kind == "repayment_plan_changed":
        plan = event.data["plan"]
        if plan == "extension":
            if "new_due_date" not in event.data:
                raise InvalidEvent("an extension needs new_due_date")
            new_due = _date(event, "new_due_date")
            if not event.day - 31 <= new_due <= event.day + 400:
                raise InvalidEvent("new_due_date is more than a month before or 400 days ahead")
        elif "instalments" not in event.data:
            raise InvalidEvent("an instalment plan needs instalments")
    elif kind in ("macro_indicator", "reserve_updated"):
        if "account_id" in event.data:
            raise InvalidEvent(f"a {kind} is about the portfolio, not an account: no account_id")
    elif not event.account_id:
        raise InvalidEvent(f"{kind} needs account_id")
    if "\x00" in event.account_id:  # the worker's store keys an account's records by it
        raise InvalidEvent("account_id holds a NUL character")
