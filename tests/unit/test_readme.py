"""The README names only files and folders that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
#: `path` in backquotes under one of the repository's top folders (globs allowed)
PATH = re.compile(r"`((?:monitor|tests|deploy|dashboards|scripts|kafka|\.ci)/[^`\s]*)`")


def test_every_repository_path_in_the_readme_exists() -> None:
    named = set(PATH.findall((ROOT / "README.md").read_text()))
    assert len(named) > 10  # the pattern still finds what it should
    missing = sorted(p for p in named if not any(ROOT.glob(p.rstrip("/"))))
    assert missing == [], f"the README names paths that do not exist: {missing}"
