"""Pseudonymous account ids for everything that leaves the process.

A keyed hash (HMAC-SHA256) keeps ids stable, so receivers can join and deduplicate, without
revealing them to anyone who lacks the key.

>>> pseudonymise("k", "acct-42") == pseudonymise("k", "acct-42") != pseudonymise("k2", "acct-42")
True
>>> pseudonymise("", "acct-42")
'acct-42'
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any


def pseudonymise(key: str, account_id: str) -> str:
    """``acct`` unchanged when ``key`` is empty, else ``p-`` and 32 hex digits of its HMAC."""
    if not key:
        return account_id
    digest = hmac.new(key.encode(), account_id.encode(), hashlib.sha256).hexdigest()
    return f"p-{digest[:32]}"


def private_record(record: dict[str, Any], key: str) -> dict[str, Any]:
    """A borrower record as it may leave the process: with ``key`` set, the account id is
    replaced by its keyed hash, in the record and inside the event ids it names (timer ids and
    many producers' event ids contain it).

    >>> out = private_record({"account_id": "a7", "trigger_event_ids": ["timer:a7:20469"]}, "k")
    >>> out["account_id"] != "a7" and "a7" not in out["trigger_event_ids"][0]
    True
    """
    if not key or "account_id" not in record:
        return record
    account = record["account_id"]
    hidden = pseudonymise(key, account)
    triggers = [t.replace(account, hidden) for t in record.get("trigger_event_ids", [])]
    return dict(record, account_id=hidden, trigger_event_ids=triggers)
