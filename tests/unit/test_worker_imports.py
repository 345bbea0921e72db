"""What a web worker imports when it builds the app: the libraries only some settings or
some requests need stay out of it until then (SPEC §6 memory budget; the figures are in
docs/performance.md, "A worker's memory")."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from feature_gateway.config import PROJECT_ROOT
from tests.databases import PG_ADMIN_DB, postgres_url, require_backend

# A fresh interpreter builds the app as wsgi.py does, then serves one request.
_WORKER = """
import json, sys
from feature_gateway import create_app
app = create_app()
app.test_client().get("/health")
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def _top_level_modules_of_a_worker(tmp_path: object, **settings: str) -> set[str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/worker.db",
        "SECRET_KEY": "s" * 32,
        "PYTHONPATH": str(PROJECT_ROOT / "src"),
        **settings,
    }
    env.pop("OIDC_ISSUER", None)
    out = subprocess.run(
        [sys.executable, "-c", _WORKER], cwd=PROJECT_ROOT, capture_output=True, text=True,
        check=True, env=env,
    ).stdout  # fmt: skip
    return set(json.loads(out.splitlines()[-1]))


def test_a_worker_without_single_sign_on_loads_no_jwt_library_and_no_http_client(
    tmp_path: object,
) -> None:
    modules = _top_level_modules_of_a_worker(tmp_path)

    assert "flask" in modules  # the app was built
    assert {"joserfc", "cryptography", "httpx"} & modules == set()
    assert "ijson" not in modules  # the streaming parser waits for a large body


def test_a_postgresql_worker_loads_no_sqlite_driver(tmp_path: object) -> None:
    require_backend("postgresql")

    modules = _top_level_modules_of_a_worker(tmp_path, DATABASE_URL=postgres_url(PG_ADMIN_DB))

    assert {"flask", "psycopg"} <= modules  # the app was built, on PostgreSQL
    assert {"sqlite3", "_sqlite3"} & modules == set()
