"""The README and `docs/` name only files and folders that exist, and their links lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: `path` in backquotes under one of the repository's top folders (globs allowed)
PATH = re.compile(r"`((?:monitor|tests|deploy|dashboards|scripts|kafka|docs|\.ci)/[^`\s]*)`")
#: a Markdown link to a file of the repository, with or without an anchor
LINK = re.compile(r"\]\((?!https?://)([^)#\s]*)(?:#([^)\s]+))?\)")
#: what a user document must not hold: paths outside the repository, commit hashes, issue numbers
OUTSIDE = re.compile(
    r"\.\./shared|/tmp/|/work/|\bcommit [0-9a-f]{7,}\b|\([0-9a-f]{7,}\)|(?<![\w`])#\d+|\bissue \d+"
)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    return {anchor(h) for h in re.findall(r"(?m)^#+ (.+)$", doc.read_text())}


def test_the_documents_are_there() -> None:
    names = {d.name for d in DOCS}
    assert {"architecture.md", "operations.md", "model.md", "benchmarks.md"} <= names


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_every_repository_path_named_exists(doc: Path) -> None:
    named = set(PATH.findall(doc.read_text()))
    missing = sorted(p for p in named if not any(ROOT.glob(p.rstrip("/"))))
    assert missing == [], f"{doc.name} names paths that do not exist: {missing}"


def test_the_pattern_still_finds_paths() -> None:
    assert len(PATH.findall((ROOT / "docs" / "architecture.md").read_text())) > 10
    assert len(PATH.findall((ROOT / "README.md").read_text())) >= 4


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_every_link_leads_to_a_file_and_heading(doc: Path) -> None:
    broken = []
    for target, fragment in LINK.findall(doc.read_text()):
        path = (doc.parent / target).resolve() if target else doc
        if not path.exists():
            broken.append(target)
        elif fragment and path.suffix == ".md" and fragment not in anchors(path):
            broken.append(f"{target}#{fragment}")
    assert broken == [], f"{doc.name} links to what is not there: {broken}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_no_outside_paths_commit_hashes_or_issue_numbers(doc: Path) -> None:
    found = OUTSIDE.findall(doc.read_text())
    assert found == [], f"{doc.name} holds what belongs in no user document: {found}"


def test_anchor_follows_github() -> None:
    assert anchor("Warm start from the lender's labelled history") == (
        "warm-start-from-the-lenders-labelled-history"
    )
    assert anchor("Delivery guarantees (for receivers)") == "delivery-guarantees-for-receivers"
