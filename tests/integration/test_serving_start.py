"""What a server says when it starts, once (gunicorn's master), and what the CLI does not say.

Only serving needs SECRET_KEY in token mode; migrations and CLI commands run without it and
say nothing about how a server would answer (feature_gateway.serving).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from feature_gateway.config import PROJECT_ROOT
from feature_gateway.domain.tokens import TOKEN_PATTERN
from tests.conftest import TEST_SECRET_KEY
from tests.databases import BACKENDS, FreshDatabase, migrated_sqlite, require_backend
from tests.deploy.support import Gunicorn, app_environment, gunicorn, wait_until

CLI = str(Path(sys.executable).with_name("feature-gateway"))
TRUST_WARNING = "AUTH_MODE=trust: roles and actor names are taken as each request claims"
UNAUTHENTICATED = "UNAUTHENTICATED IN PRODUCTION SHAPE"
KEY_WARNING = "SECRET_KEY is not set"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = migrated_sqlite(tmp_path / "served.db")
    return url


@pytest.fixture(params=BACKENDS)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    require_backend(request.param)
    fresh = FreshDatabase(request.param, tmp_path)
    yield fresh.url
    fresh.drop()


def _log_of_every_worker(server: Gunicorn, workers: int = 2) -> list[dict[str, str]]:
    """The log once every worker has booted and had the time to load the app (about 0.3 s),
    which is when a worker would say anything of its own."""
    wait_until(lambda: len(server.worker_pids_booted()) == workers, timeout=30,
               what="every worker to boot")  # fmt: skip
    time.sleep(1.5)
    return server.log_lines()


def _messages(server_log: list[dict[str, str]], text: str) -> list[dict[str, str]]:
    return [line for line in server_log if text in line["message"]]


def test_gunicorn_in_trust_mode_behind_a_proxy_says_once_that_it_serves_unauthenticated(
    sqlite_url: str, tmp_path: Path
) -> None:
    with gunicorn(sqlite_url, tmp_path, workers=2, AUTH_MODE="trust",
                  TRUSTED_PROXY_COUNT="1") as server:  # fmt: skip
        log = _log_of_every_worker(server)
    [loud] = _messages(log, UNAUTHENTICATED)
    assert (loud["level"], loud["logger"]) == ("CRITICAL", "gunicorn.error")
    assert "TRUSTED_PROXY_COUNT=1" in loud["message"] and "AUTH_MODE=token" in loud["message"]
    # Said once by the master, not once per worker.
    assert len(_messages(log, TRUST_WARNING)) == 1
    assert _messages(log, KEY_WARNING) == []  # the master picked one key for all workers


def test_gunicorn_in_trust_mode_without_a_proxy_warns_of_trust_mode_alone(
    sqlite_url: str, tmp_path: Path
) -> None:
    with gunicorn(sqlite_url, tmp_path, workers=2, AUTH_MODE="trust") as server:
        log = _log_of_every_worker(server)
    assert len(_messages(log, TRUST_WARNING)) == 1
    assert _messages(log, UNAUTHENTICATED) == []


def test_gunicorn_in_token_mode_with_a_key_warns_of_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    with gunicorn(sqlite_url, tmp_path, workers=2, AUTH_MODE="token", TRUSTED_PROXY_COUNT="1",
                  SECRET_KEY=TEST_SECRET_KEY) as server:  # fmt: skip
        log = _log_of_every_worker(server)
    assert [line for line in log if line["level"] in ("WARNING", "CRITICAL")] == []


def test_gunicorn_in_token_mode_without_a_key_stops_with_one_line_and_no_traceback(
    sqlite_url: str,
) -> None:
    env = app_environment(DATABASE_URL=sqlite_url, AUTH_MODE="token", WEB_CONCURRENCY="2",
                          GUNICORN_BIND="127.0.0.1:0")  # fmt: skip
    env.pop("SECRET_KEY", None)
    ran = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ran.returncode == 1
    assert ran.stderr.count("Error: SECRET_KEY is required to serve with AUTH_MODE=token") == 1
    assert "Traceback" not in ran.stderr
    assert "Booting worker" not in ran.stderr


def _cli(*args: str, database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = app_environment(DATABASE_URL=database_url, **env)
    environment.pop("SECRET_KEY", None)
    return subprocess.run([CLI, *args], cwd=PROJECT_ROOT, env=environment, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


@pytest.mark.parametrize("mode", ["trust", "token"])
def test_migrations_and_commands_need_no_secret_key_and_say_no_server_warning(
    fresh_url: str, mode: str
) -> None:
    migrated = _cli("migrate", database_url=fresh_url, AUTH_MODE=mode, TRUSTED_PROXY_COUNT="1")
    assert migrated.returncode == 0, migrated.stderr
    helped = _cli("--help", database_url=fresh_url, AUTH_MODE=mode, TRUSTED_PROXY_COUNT="1")
    assert helped.returncode == 0 and helped.stderr == ""
    minted = _cli("tokens", "create", "--principal", "admin", "--role", "admin",
                  database_url=fresh_url, AUTH_MODE=mode, TRUSTED_PROXY_COUNT="1")  # fmt: skip
    assert minted.returncode == 0, minted.stderr
    assert TOKEN_PATTERN.fullmatch(minted.stdout.splitlines()[-1])
    # One line: the token's id and "store it now"; nothing about trust mode or the key.
    assert len(minted.stderr.splitlines()) == 1 and "store it now" in minted.stderr


def test_alembic_itself_migrates_in_token_mode_without_a_secret_key(fresh_url: str) -> None:
    env = app_environment(DATABASE_URL=fresh_url, AUTH_MODE="token")
    env.pop("SECRET_KEY", None)
    ran = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=PROJECT_ROOT,
                         env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "Traceback" not in ran.stderr
