"""The README's and the API guide's examples answer as the pages show, on a fresh `make run`.

The service is started by `make run` itself (fresh SQLite file, migrations, the sample data,
gunicorn with gunicorn.conf.py) on a free port; then every example request of README.md and
docs/api-guide.md, in that order, is run by bash with the real curl, `localhost:8000`
pointed at that port, and its response compared with the block shown under it (the
convention: tests/docs/markdown_examples.py, docs/development.md).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from feature_gateway.config import PROJECT_ROOT
from tests.deploy.support import find_binary
from tests.docs.make_run import make_run
from tests.docs.markdown_examples import (
    Example,
    examples_in,
    parse_curl_output,
    response_mismatches,
)

pytestmark = pytest.mark.slow

PAGES = ("README.md", "docs/api-guide.md")  # run in this order, on one service
DOCUMENTED_ORIGIN = "localhost:8000"


def _documented_examples() -> list[Example]:
    return [
        example for page in PAGES for example in examples_in(PROJECT_ROOT / page, PROJECT_ROOT)
    ]


@pytest.fixture(scope="module")
def make_run_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """`make run` on a free port with a fresh SQLite file; yields the port."""
    find_binary("curl", required_in_ci=True)  # before starting anything the test cannot use
    with make_run(tmp_path_factory.mktemp("make-run")) as served:
        yield served.port


def test_the_pages_hold_examples_and_every_request_shows_its_response() -> None:
    examples = _documented_examples()  # raises ConventionError naming the file and line
    pages = {example.where.split(":")[0] for example in examples}
    assert pages == set(PAGES)


def test_every_example_answers_as_the_readme_and_the_api_guide_show(
    make_run_port: int, tmp_path: Path
) -> None:
    bash = find_binary("bash")
    for example in _documented_examples():
        command = example.command.replace(DOCUMENTED_ORIGIN, f"localhost:{make_run_port}")
        ran = subprocess.run([bash, "-o", "pipefail", "-c", command], cwd=tmp_path,
                             capture_output=True, timeout=60)  # fmt: skip
        output = ran.stdout.decode("utf-8", "replace")
        assert ran.returncode == 0, f"{example.where}: exit {ran.returncode}: {ran.stderr!r}"
        found = response_mismatches(example.expected, parse_curl_output(output))
        assert not found, f"{example.where}:\n{example.command}\n" + "\n".join(
            [*found, "the service answered:", output[:4000]]
        )
