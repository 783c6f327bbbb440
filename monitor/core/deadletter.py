"""Dead-letter records: the reason a message was refused, with its original bytes.

>>> record = dead_letter_record(b"not json", "not JSON: unexpected character", "not_json",
...                             {"topic": "repayment-events", "partition": 0, "offset": 7})
>>> record["reason"], base64.b64decode(record["value_b64"])
('not JSON: unexpected character', b'not json')
"""

from __future__ import annotations

import base64
from typing import Any

DEAD_LETTER_SCHEMA_VERSION = 1


def dead_letter_record(
    raw: bytes | None, reason: str, kind: str, source: dict[str, Any], key: bytes | None = None
) -> dict[str, Any]:
    """The JSON record for the dead-letter topic (contract ``dead-letter`` v1)."""
    return {
        "schema_version": DEAD_LETTER_SCHEMA_VERSION,
        "reason": reason,
        "reason_kind": kind,
        "source": source,
        "key_b64": base64.b64encode(key).decode() if key is not None else None,
        "value_b64": base64.b64encode(raw).decode() if raw is not None else None,
    }
