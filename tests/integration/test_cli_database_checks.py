"""A CLI command on a database that is missing or not migrated: one line naming
`feature-gateway migrate`, exit 2, no traceback, and no empty SQLite file left behind."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import create_engine, text

from feature_gateway import create_app
from feature_gateway.config import PROJECT_ROOT
from feature_gateway.db.migrations import alembic_config
from tests.conftest import migrate
from tests.databases import BACKENDS, FreshDatabase, close_app, require_backend
from tests.deploy.support import app_environment

SAMPLE = str(PROJECT_ROOT / "data" / "feature_metadata.json")
# Every command that uses the database, with arguments it would otherwise run with.
COMMANDS = {
    "tokens create": ["tokens", "create", "--principal", "root", "--role", "admin"],
    "tokens list": ["tokens", "list"],
    "tokens revoke": ["tokens", "revoke", "0123456789abcdef"],
    "import-features": ["import-features", SAMPLE],
    "export-features": ["export-features"],
    "webhooks create": ["webhooks", "create", "--url", "https://x.example/", "--event-type", "*"],
    "webhooks list": ["webhooks", "list"],
    "webhooks delete": ["webhooks", "delete", "0123456789abcdef"],
    "webhooks deliver": ["webhooks", "deliver", "--once"],
    "idempotency purge": ["idempotency", "purge"],
    "audit verify": ["audit", "verify"],
}
CLI = str(Path(sys.executable).with_name("feature-gateway"))
# The newest migration, and the one before it: what the messages name.
_HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision("head")
NEWEST, BEFORE_NEWEST = _HEAD.revision, _HEAD.down_revision


@pytest.fixture(params=BACKENDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FreshDatabase]:
    require_backend(request.param)
    database = FreshDatabase(request.param, tmp_path)
    yield database
    database.drop()


def _app(url: str) -> Flask:
    return create_app({"database_url": url, "log_level": "WARNING"})


def _run_each(app: Flask, *only: str) -> dict[str, tuple[int, str]]:
    runner = app.test_cli_runner()
    names = only or tuple(COMMANDS)
    try:
        ran = {name: runner.invoke(args=COMMANDS[name]) for name in names}
    finally:
        close_app(app)
    return {name: (result.exit_code, result.output) for name, result in ran.items()}


def _execute(url: str, sql: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()


def test_every_command_on_a_missing_sqlite_file_says_to_migrate_and_creates_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "not-yet.db"
    expected = (2, f"Error: there is no SQLite database at {path}; run feature-gateway "
                   "migrate to create it\n")  # fmt: skip
    assert _run_each(_app(f"sqlite:///{path}")) == dict.fromkeys(COMMANDS, expected)
    assert not path.exists()


def test_every_command_on_an_empty_database_says_to_migrate(fresh: FreshDatabase) -> None:
    _execute(fresh.url, "CREATE TABLE unrelated (a INTEGER)")  # the SQLite file exists
    for name, (code, output) in _run_each(_app(fresh.url)).items():
        assert code == 2, (name, output)
        [line] = output.splitlines()
        assert line.startswith("Error: the database "), (name, line)
        expected = f"needs {NEWEST}; run feature-gateway migrate"
        assert line.endswith("is not migrated: it is at no revision (empty), this version "
                             + expected), (name, line)  # fmt: skip


def test_a_command_on_a_database_one_migration_behind_says_to_migrate(
    fresh: FreshDatabase,
) -> None:
    migrate(fresh.url, str(BEFORE_NEWEST))
    code, output = _run_each(_app(fresh.url), "tokens list")["tokens list"]
    assert code == 2
    expected = (
        f"it is at {BEFORE_NEWEST}, this version needs {NEWEST}; run feature-gateway migrate"
    )
    assert f"is not migrated: {expected}" in output


def test_a_command_on_a_database_a_newer_release_migrated_runs(fresh: FreshDatabase) -> None:
    # A rollout: the new release migrated first; the old one's commands keep working.
    migrate(fresh.url)
    _execute(fresh.url, "UPDATE alembic_version SET version_num = '9999'")
    assert _run_each(_app(fresh.url), "export-features") == {"export-features": (0, "[]\n")}


def test_the_real_cli_on_an_empty_database_prints_one_line_and_no_traceback(
    fresh: FreshDatabase,
) -> None:
    _execute(fresh.url, "CREATE TABLE unrelated (a INTEGER)")
    done = subprocess.run([CLI, "tokens", "list"], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=60,
                          env=app_environment(DATABASE_URL=fresh.url))  # fmt: skip
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("Error: the database ") and "run feature-gateway migrate" in line


def test_every_command_is_checked_above_or_uses_no_migrated_database(tmp_path: Path) -> None:
    import click

    def leaves(group: click.Group, prefix: str = "") -> list[str]:
        found = []
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                found += leaves(command, f"{prefix}{name} ")
            else:
                found.append(prefix + name)
        return found

    app = _app(f"sqlite:///{tmp_path / 'unused.db'}")
    no_database = {"migrate", "openapi", "lifecycle-diagram"}  # migrate makes one
    assert sorted(leaves(app.cli)) == sorted([*COMMANDS, *no_database])
    close_app(app)
