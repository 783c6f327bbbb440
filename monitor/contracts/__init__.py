"""Versioned JSON Schemas of every topic the monitor reads or writes, shipped in the package."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

#: topic role -> schema file name (current version of each contract).
SCHEMAS = {
    "repayment-event": "repayment-event.v1.json",
    "alert": "alert.v1.json",
    "dead-letter": "dead-letter.v1.json",
    "account-risk": "account-risk.v1.json",
    "model-outcome": "model-outcome.v2.json",
}


@cache
def load(name: str) -> dict[str, Any]:
    """Return the JSON Schema of a contract by its name (``repayment-event``, ...)."""
    try:
        file_name = SCHEMAS[name]
    except KeyError:
        raise KeyError(f"no contract named {name!r}; known: {', '.join(sorted(SCHEMAS))}") from None
    text = resources.files(__package__).joinpath(file_name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
