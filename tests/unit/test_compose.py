"""docker-compose.yml stays valid and in step with the settings the code reads."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from monitor.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = (ROOT / "docker-compose.yml").read_text()


def test_every_monitor_variable_is_a_setting() -> None:
    names = {f"MONITOR_{f.name.upper()}" for f in dataclasses.fields(Settings)}
    used = set(re.findall(r"\b(MONITOR_[A-Z_]+)\b", COMPOSE))
    assert used, "compose file sets MONITOR_* variables"
    assert used <= names, f"unknown settings in docker-compose.yml: {used - names}"


def test_topics_and_port_match_the_defaults() -> None:
    defaults = Settings()
    for var, value in [
        ("MONITOR_INPUT_TOPIC", defaults.input_topic),
        ("MONITOR_ALERTS_TOPIC", defaults.alerts_topic),
        ("MONITOR_DEAD_LETTER_TOPIC", defaults.dead_letter_topic),
        ("MONITOR_WEB_PORT", f'"{defaults.web_port}"'),
    ]:
        assert re.search(rf"{var}: {re.escape(value)}\s", COMPOSE), var
    assert f"127.0.0.1:{defaults.web_port}:{defaults.web_port}" in COMPOSE


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_compose_file_is_valid() -> None:
    done = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
