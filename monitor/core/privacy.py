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


def pseudonymise(key: str, account_id: str) -> str:
    """``acct`` unchanged when ``key`` is empty, else ``p-`` and 32 hex digits of its HMAC."""
    if not key:
        return account_id
    digest = hmac.new(key.encode(), account_id.encode(), hashlib.sha256).hexdigest()
    return f"p-{digest[:32]}"
