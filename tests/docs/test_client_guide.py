"""docs/client.md runs as it is: its Python blocks, in order and as one program, against a
real gunicorn on a fresh database holding the sample data (what `make run` serves), with
`http://localhost:8000` pointed at it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from feature_gateway.config import PROJECT_ROOT
from tests.databases import migrated_sqlite
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow

GUIDE = PROJECT_ROOT / "docs" / "client.md"
SAMPLE = PROJECT_ROOT / "data" / "feature_metadata.json"
DOCUMENTED_URL = "http://localhost:8000"


def python_blocks(path: Path) -> list[str]:
    tokens = MarkdownIt("commonmark").parse(path.read_text("utf-8"))
    return [t.content for t in tokens if t.type == "fence" and t.info.strip() == "python"]


def test_the_client_guide_shows_the_install_line_and_python_to_run() -> None:
    assert "pip install ./clients/python" in GUIDE.read_text("utf-8")
    assert len(python_blocks(GUIDE)) >= 6


def test_the_client_guides_python_blocks_run_against_a_fresh_service(tmp_path: Path) -> None:
    url = migrated_sqlite(tmp_path / "guide.db")
    cli = Path(sys.executable).parent / "feature-gateway"
    imported = subprocess.run(
        [str(cli), "import-features", str(SAMPLE)], capture_output=True, text=True, timeout=60,
        env={**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(PROJECT_ROOT / "src")},
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    live = LiveServer(url, workers=1, log_path=tmp_path / "gunicorn.log")
    try:
        program = "\n\n".join(python_blocks(GUIDE)).replace(DOCUMENTED_URL, live.base_url)
        (tmp_path / "guide.py").write_text(program)
        ran = subprocess.run([sys.executable, str(tmp_path / "guide.py")], capture_output=True,
                             text=True, timeout=120)  # fmt: skip
    finally:
        live.stop()
    assert ran.returncode == 0, ran.stderr[-3000:]
