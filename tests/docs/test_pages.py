"""The documentation's shape: a short README, every page reachable, no broken link."""

from __future__ import annotations

import re
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from feature_gateway.config import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
PAGES = sorted((PROJECT_ROOT / "docs").glob("*.md"))
DOCUMENTS = [README, PROJECT_ROOT / "CHANGELOG.md", *PAGES]


def _tokens(path: Path) -> list[Token]:
    return MarkdownIt("commonmark").parse(path.read_text("utf-8"))


def _links(path: Path) -> list[str]:
    inline = [child for token in _tokens(path) for child in token.children or []]
    return [str(t.attrs["href"]) for t in inline if t.type == "link_open"]


def _anchors(path: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens, -1, -2… on
    repeats."""
    seen: Counter[str] = Counter()
    anchors = set()
    for opening, inline in pairwise(_tokens(path)):
        if opening.type == "heading_open":
            text = "".join(child.content for child in inline.children or [])
            slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
            anchors.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
            seen[slug] += 1
    return anchors


def test_the_readme_stays_under_ten_kilobytes() -> None:
    assert len(README.read_bytes()) < 10 * 1024


def test_every_page_in_docs_is_linked_from_the_readme() -> None:
    linked = {(README.parent / link.split("#")[0]).resolve() for link in _links(README)}
    assert [page.name for page in PAGES if page.resolve() not in linked] == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(document: Path) -> None:
    broken = []
    for link in _links(document):
        if re.match(r"[a-z]+:", link):
            continue  # http(s) and mailto: not checked here
        target, _, anchor = link.partition("#")
        path = (document.parent / target).resolve() if target else document
        if not path.exists() or (anchor and path.suffix == ".md" and anchor not in _anchors(path)):
            broken.append(link)
    assert broken == []
