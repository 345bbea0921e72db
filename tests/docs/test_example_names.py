"""The features the documentation's examples create do not collide: a newcomer who tries
the README, the API guide, identity.md and Swagger's "Try it out" on one `make run` never
gets a 409 because another page created the same name first."""

from __future__ import annotations

import json
import re
from pathlib import Path

from markdown_it import MarkdownIt

from feature_gateway.config import PROJECT_ROOT
from feature_gateway.shapes import examples

PAGES = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
SAMPLE = PROJECT_ROOT / "data" / "feature_metadata.json"
_NAME = re.compile(r'"feature_name":\s*"([^"]+)"')


def _created_on(page: Path) -> set[str]:
    """The names a page's curl commands send to create_feature_metadata."""
    tokens = MarkdownIt("commonmark").parse(page.read_text("utf-8"))
    commands = [c for t in tokens if t.type == "fence" for c in t.content.split("curl ")[1:]]
    return {
        found.group(1)
        for command in commands
        if "/create_feature_metadata" in command and (found := _NAME.search(command))
    }


def _created_by_swagger() -> set[str]:
    """Swagger's create example, and the version its create_feature_version example makes."""
    name = examples.CREATE["feature_name"]
    view, feature, version = name.split(":")
    return {name, f"{view}:{feature}:{int(version) + 1}"}


def test_no_two_places_in_the_docs_create_the_same_feature_nor_one_of_the_sample():
    sources = {page.name: _created_on(page) for page in PAGES}
    sources = {name: created for name, created in sources.items() if created}
    sources["Swagger UI (shapes/examples.py)"] = _created_by_swagger()
    sources["the sample data"] = {r["feature_name"] for r in json.loads(SAMPLE.read_text())}
    assert {"README.md", "api-guide.md", "identity.md"} <= set(sources)
    collisions = {
        (first, second, name)
        for first, mine in sources.items()
        for second, theirs in sources.items()
        if first < second
        for name in mine & theirs
    }
    assert collisions == set()
