"""DATABASE_URL as platforms hand it out: ``postgres://`` and ``postgresql://`` mean
PostgreSQL through psycopg 3, for the app, the CLI and ``alembic`` alike (SPEC §5)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from feature_gateway import create_app
from feature_gateway.config import PROJECT_ROOT
from feature_gateway.web.context import EXTENSION
from tests.conftest import SEED_FEATURE, migrate
from tests.databases import (
    PG_HOST,
    PG_PORT,
    PG_USER,
    close_app,
    create_postgres_database,
    drop_postgres_database,
    postgres_url,
    require_backend,
)
from tests.deploy.support import app_environment

SPELLINGS = ("postgres", "postgresql")
CLI = str(Path(sys.executable).with_name("feature-gateway"))
SAMPLE = PROJECT_ROOT / "data" / "feature_metadata.json"


class PlatformDatabase:
    """A fresh PostgreSQL database, named by a URL spelled as a platform spells it."""

    def __init__(self, scheme: str) -> None:
        self.name = create_postgres_database()
        self.url = f"{scheme}://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.name}"
        self.driver_url = postgres_url(self.name)

    def scalar(self, sql: str) -> object:
        engine = create_engine(self.driver_url)
        try:
            with engine.connect() as connection:
                return connection.execute(text(sql)).scalar()
        finally:
            engine.dispose()


@pytest.fixture(params=SPELLINGS)
def platform_database(request: pytest.FixtureRequest) -> Iterator[PlatformDatabase]:
    require_backend("postgresql")
    database = PlatformDatabase(request.param)
    yield database
    drop_postgres_database(database.name)


def run(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=PROJECT_ROOT,
        env=app_environment(DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_alembic_upgrade_head_migrates_postgresql_named_by_a_platform_url(platform_database):
    done = run(
        sys.executable, "-m", "alembic", "upgrade", "head", database_url=platform_database.url
    )
    assert done.returncode == 0, done.stderr
    assert platform_database.scalar("SELECT count(*) FROM features") == 0
    assert platform_database.scalar("SELECT version_num FROM alembic_version")


def test_cli_migrates_and_imports_into_postgresql_named_by_a_platform_url(platform_database):
    migrated = run(CLI, "migrate", database_url=platform_database.url)
    assert migrated.returncode == 0, migrated.stderr
    assert "database at revision head" in migrated.stdout
    imported = run(CLI, "import-features", str(SAMPLE), database_url=platform_database.url)
    assert imported.returncode == 0, imported.stderr
    stored = platform_database.scalar("SELECT count(*) FROM features")
    assert stored and stored > 0
    assert imported.stdout.startswith(f"imported {stored} features")


def test_the_app_serves_postgresql_named_by_a_platform_url(platform_database, monkeypatch):
    migrate(platform_database.url)
    monkeypatch.setenv("DATABASE_URL", platform_database.url)
    app = create_app({"TESTING": True})
    try:
        assert app.extensions[EXTENSION].settings.database_url == platform_database.driver_url
        client = app.test_client()
        assert client.get("/health").status_code == 200
        assert client.post("/create_feature_metadata", json=SEED_FEATURE).status_code == 201
    finally:
        close_app(app)
    assert platform_database.scalar("SELECT count(*) FROM feature_audit") == 1


def test_sqlite_urls_reach_the_cli_unchanged(tmp_path):
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    migrated = run(CLI, "migrate", database_url=url)
    assert migrated.returncode == 0, migrated.stderr
    assert (tmp_path / "gateway.db").exists()


@pytest.mark.parametrize("url", ["http://example.com/db", "not a url", "mysql://root@localhost/x"])
def test_a_url_that_is_not_a_database_fails_the_cli_at_start_with_one_clear_line(url):
    done = run(CLI, "migrate", database_url=url)
    assert done.returncode != 0
    assert "DATABASE_URL must be" in done.stderr
    assert "Traceback" not in done.stderr
