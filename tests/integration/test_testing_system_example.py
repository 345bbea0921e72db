"""examples/testing_system.py against a real gunicorn in token mode: with its own token it
follows the event feed, fails a submitted ``SELECT *`` query, passes a good one, leaves
features that are not waiting alone, and keeps its place in a cursor file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from feature_gateway.config import PROJECT_ROOT
from feature_gateway.db.engine import make_engine
from feature_gateway.db.scopes import Database
from feature_gateway.services import tokens
from tests.conftest import SEED_FEATURE, TEST_SECRET_KEY
from tests.databases import migrated_sqlite, settings_for
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow
EXAMPLE = PROJECT_ROOT / "examples" / "testing_system.py"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[LiveServer, Database]]:
    url = migrated_sqlite(tmp_path / "example.db")
    engine = make_engine(settings_for(url))
    live = LiveServer(url, workers=1, log_path=tmp_path / "gunicorn.log",
                      extra_env={"AUTH_MODE": "token", "SECRET_KEY": TEST_SECRET_KEY})  # fmt: skip
    try:
        yield live, Database(engine)
    finally:
        live.stop()
        engine.dispose()


def _token(database: Database, principal: str, role: str) -> str:
    return tokens.create_token(
        database, principal=principal, roles=[role], created_by="test"
    ).token


def _run(server: LiveServer, token: str, cursor_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE), "--url", server.base_url, "--once",
         "--cursor-file", str(cursor_file)],
        env={**os.environ, "TESTING_SYSTEM_TOKEN": token}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def test_the_reference_testing_system_records_results_from_the_feed(
    server: tuple[LiveServer, Database], tmp_path: Path
) -> None:
    live, database = server
    dev = {"Authorization": f"Bearer {_token(database, 'dev', 'developer')}"}
    queries = {"good": "SELECT conv_rate FROM stats WHERE id = ?", "star": "SELECT * FROM stats",
               "draft": "SELECT a FROM t"}  # fmt: skip
    for key, query in queries.items():
        name = f"example_view:{key}:1"
        body = {**SEED_FEATURE, "feature_name": name, "query": query}
        del body["created_by"], body["user_role"]
        assert live.request("POST", "/create_feature_metadata", body, dev)[0] == 201
        if key != "draft":
            submit = {"feature_name": name}
            assert live.request("POST", "/ready_test_feature_metadata", submit, dev)[0] == 200
    tester = _token(database, "ci-tester", "external_testing_system")
    cursor_file = tmp_path / "cursor"
    ran = _run(live, tester, cursor_file)
    assert ran.returncode == 0, ran.stderr
    assert "recorded 2 test results" in ran.stderr

    def metadata(key: str) -> dict[str, str]:
        return live.request("GET", f"/get_feature_metadata/example_view:{key}:1", None, dev)[1][
            "metadata"
        ]

    good, star, draft = metadata("good"), metadata("star"), metadata("draft")
    assert (good["status"], good["tested_by"]) == ("TEST_SUCCEEDED", "ci-tester")
    assert (star["status"], star["tested_by"]) == ("TEST_FAILED", "ci-tester")
    assert "SELECT *" in star["test_notes"] and "names its columns" in good["test_notes"]
    assert draft["status"] == "DRAFT"
    # Its place is kept: a second run records nothing more.
    assert cursor_file.read_text().strip()
    again = _run(live, tester, cursor_file)
    assert again.returncode == 0 and "recorded 0 test results" in again.stderr


def test_without_a_token_it_refuses_to_start(tmp_path: Path) -> None:
    ran = subprocess.run(
        [sys.executable, str(EXAMPLE), "--once"],
        env={k: v for k, v in os.environ.items() if k != "TESTING_SYSTEM_TOKEN"},
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert ran.returncode == 2 and "TESTING_SYSTEM_TOKEN" in ran.stderr
