"""The test tiers: ``-m unit`` keeps every doctest, and each folder's tests carry its tier."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _collected(*args: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode in (0, 5), out.stdout + out.stderr
    return [line for line in out.stdout.splitlines() if "::" in line]


def test_unit_selection_keeps_the_doctests_and_leaves_out_integration() -> None:
    unit = _collected(
        "-m",
        "unit",
        "monitor/core/ledger.py",
        "tests/unit/test_signing.py",
        "tests/integration/test_end_to_end.py",
    )
    assert any(line.startswith("monitor/core/ledger.py::") for line in unit)
    assert any(line.startswith("tests/unit/test_signing.py::") for line in unit)
    assert not any(line.startswith("tests/integration/") for line in unit)


def test_integration_selection_is_the_integration_folder() -> None:
    chosen = _collected(
        "-m",
        "integration",
        "monitor/core/ledger.py",
        "tests/unit/test_signing.py",
        "tests/integration/test_end_to_end.py",
    )
    assert chosen
    assert all(line.startswith("tests/integration/") for line in chosen)
