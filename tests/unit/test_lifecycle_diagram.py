"""The workflow diagram in the docs is the one generated from the lifecycle table."""

import re

from click.testing import CliRunner

from feature_gateway.cli_commands import lifecycle_diagram_command
from feature_gateway.config import PROJECT_ROOT
from feature_gateway.domain.lifecycle_diagram import (
    DIAGRAM_END,
    DIAGRAM_START,
    fenced_diagram,
    mermaid_diagram,
)

_BLOCK = re.compile(re.escape(DIAGRAM_START) + r"\n(.*?)" + re.escape(DIAGRAM_END), re.DOTALL)


def _documented_diagrams() -> list[tuple[str, str]]:
    pages = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
    return [
        (page.name, block)
        for page in pages
        if page.is_file()
        for block in _BLOCK.findall(page.read_text(encoding="utf-8"))
    ]


def test_the_docs_show_the_diagram_once_and_it_is_the_generated_one():
    diagrams = _documented_diagrams()
    assert len(diagrams) == 1, f"want one marked diagram in README.md or docs/*.md: {diagrams}"
    page, block = diagrams[0]
    assert block == fenced_diagram(), (
        f"{page}: the diagram differs from the lifecycle table; paste the output of "
        "`feature-gateway lifecycle-diagram --fenced` between the markers"
    )


def test_the_cli_prints_the_generated_diagram_plain_or_fenced():
    plain = CliRunner().invoke(lifecycle_diagram_command, [])
    fenced = CliRunner().invoke(lifecycle_diagram_command, ["--fenced"])
    assert plain.exit_code == fenced.exit_code == 0
    assert plain.output == mermaid_diagram()
    assert fenced.output == fenced_diagram()
    assert plain.output.startswith("stateDiagram-v2\n    [*] --> DRAFT: create\n")
