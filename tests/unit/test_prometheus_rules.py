"""The Prometheus rules load and behave as their promtool unit tests say."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
PROM = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120)


def test_rules_are_valid() -> None:
    done = _promtool("check", "rules", *map(str, sorted((PROM / "rules").glob("*.yml"))))
    assert done.returncode == 0, done.stdout + done.stderr


def test_rules_pass_their_unit_tests() -> None:
    done = _promtool("test", "rules", *map(str, sorted((PROM / "tests").glob("*.yml"))))
    assert done.returncode == 0, done.stdout + done.stderr
