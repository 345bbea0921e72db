"""gunicorn.conf.py: what the master imports before it forks, and gunicorn's access log."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from feature_gateway.config import PROJECT_ROOT

# Runs the file as gunicorn's master does, in a fresh interpreter (it sets environment
# variables and freezes the garbage collector, which must not leak into the tests).
_MASTER = """
import json, os, sys
exec(open("gunicorn.conf.py").read())
print(json.dumps({
    "modules": sorted(sys.modules),
    "access": logger_class.access(object(), None, None, None, None),
    "secret_key_set": bool(os.environ.get("SECRET_KEY")),
}))
"""


def _as_the_master(env: dict[str, str] | None = None) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _MASTER], cwd=PROJECT_ROOT, capture_output=True, text=True,
        check=True, env=env,
    ).stdout  # fmt: skip
    return dict(json.loads(out))


def test_the_master_imports_the_heavy_libraries_but_not_the_service() -> None:
    modules = _as_the_master()["modules"]

    assert {"numpy", "sqlglot", "sqlalchemy.orm", "flask_smorest"} <= set(modules)
    # A HUP must start workers with a newly deployed release of the service's own code.
    assert [m for m in modules if m.split(".")[0] in ("feature_gateway", "wsgi")] == []


def test_gunicorns_own_access_log_is_left_to_the_app() -> None:
    # Called with no request or response at all: it does not look at them.
    assert _as_the_master()["access"] is None


def test_an_empty_auth_mode_is_trust_mode_and_gets_one_console_key_for_all_workers() -> None:
    # As Settings reads it: an empty AUTH_MODE is the default, trust. Without a key the
    # master picks one its workers inherit, or each worker would sign sessions its own way.
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    assert _as_the_master({**env, "AUTH_MODE": ""})["secret_key_set"] is True
    assert _as_the_master({**env, "AUTH_MODE": "token"})["secret_key_set"] is False


# The master's start hook with a stand-in for gunicorn's arbiter (only its log is used).
_STARTING = """
import json, os, sys
exec(open("gunicorn.conf.py").read())
class Log:
    said = []
    def log(self, level, message):
        self.said.append([level, message])
class Server:
    log = Log()
on_starting(Server())
on_exit(Server())
print(json.dumps({"modules": sorted(sys.modules), "said": Server.log.said,
                  "marked": os.environ.get("FEATURE_GATEWAY_STARTUP_SAID")}))
"""


def test_the_master_says_the_warnings_at_start_and_forgets_the_service_again() -> None:
    env = {**os.environ, "AUTH_MODE": "trust", "TRUSTED_PROXY_COUNT": "1"}
    out = subprocess.run([sys.executable, "-c", _STARTING], cwd=PROJECT_ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    started = json.loads(out)
    levels = [level for level, _ in started["said"]]
    assert levels == [30, 50]  # the trust-mode WARNING, the CRITICAL one behind a proxy
    assert started["marked"] == "1"  # the workers inherit it and say nothing again
    # A HUP must still start workers with a newly deployed release of the service.
    assert [m for m in started["modules"] if m.split(".")[0] == "feature_gateway"] == []


def test_a_metrics_folder_the_operator_names_is_made_before_the_settings_are_checked(
    tmp_path,
) -> None:
    folder = tmp_path / "not-yet" / "metrics"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder), "AUTH_MODE": "trust"}
    subprocess.run([sys.executable, "-c", _STARTING], cwd=PROJECT_ROOT, env=env,
                   capture_output=True, text=True, check=True)  # fmt: skip
    assert folder.is_dir()


def _started_modules(database_url: str) -> set[str]:
    env = {**os.environ, "AUTH_MODE": "trust", "DATABASE_URL": database_url}
    out = subprocess.run([sys.executable, "-c", _STARTING], cwd=PROJECT_ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return set(json.loads(out)["modules"])


def test_the_master_imports_the_driver_of_the_database_it_serves_and_not_the_other(
    tmp_path,
) -> None:
    # Every library the master imports is counted in each worker's memory (SPEC §6).
    on_sqlite = _started_modules(f"sqlite:///{tmp_path / 'gateway.db'}")
    assert {"sqlite3", "sqlalchemy.dialects.sqlite", "disarm"} <= on_sqlite
    assert not {"psycopg", "sqlalchemy.dialects.postgresql"} & on_sqlite

    on_postgresql = _started_modules("postgres://gateway@127.0.0.1:5432/gateway")
    assert {"psycopg", "sqlalchemy.dialects.postgresql.psycopg"} <= on_postgresql
    assert "sqlite3" not in on_postgresql


# After a large block is freed, glibc's malloc would serve the next large ones from its heap
# and keep them (its limits follow the largest block freed); the master's settings, which
# its forked workers inherit, keep serving them by mmap.
_MALLOC = """
import ctypes, json
exec(open("gunicorn.conf.py").read())
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = Info
libc.free(libc.malloc(8 << 20))
before = libc.mallinfo2().hblks
block = libc.malloc(3 << 19)
print(json.dumps({"mapped": libc.mallinfo2().hblks - before}))
libc.free(block)
"""


def test_the_masters_malloc_serves_large_blocks_by_mmap_even_after_a_larger_one() -> None:
    if not hasattr(ctypes.CDLL(None), "mallinfo2"):  # not glibc 2.33 or later
        pytest.skip("glibc's mallinfo2 is needed to see where a block came from")
    out = subprocess.run([sys.executable, "-c", _MALLOC], cwd=PROJECT_ROOT,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert json.loads(out)["mapped"] == 1
