"""Test tiers by folder: one place marks every test, so no test file repeats its tier.

- ``tests/unit/`` (and the rest of ``tests/``) and the doctests in ``monitor/`` are ``unit``:
  no broker or other service.
- ``tests/integration/`` is ``integration``: the real local Kafka broker (and Prometheus,
  Alertmanager or Chromium where a test says so).

Files add the cross-cutting markers themselves (``reliability``, ``slow``), so
``./scripts/test -m unit`` runs every unit test and doctest without a broker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: the tier of each folder (relative to the repository), first match wins
TIERS = (
    ("tests/integration", "integration"),
    ("tests", "unit"),
    ("monitor", "unit"),
)


def tier_of(path: Path) -> str | None:
    """The tier marker of a test collected from ``path`` (``None`` outside the tiers).

    >>> tier_of(ROOT / "monitor" / "core" / "ledger.py")
    'unit'
    >>> tier_of(ROOT / "tests" / "integration" / "test_bench.py")
    'integration'
    """
    try:
        relative = path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return None
    for folder, tier in TIERS:
        if relative == folder or relative.startswith(folder + "/"):
            return tier
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = tier_of(Path(str(item.path)))
        if tier is not None:
            item.add_marker(getattr(pytest.mark, tier))
