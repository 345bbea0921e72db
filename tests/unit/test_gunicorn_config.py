"""gunicorn.conf.py: what the master imports before it forks, and gunicorn's access log."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from feature_gateway.config import PROJECT_ROOT

# Runs the file as gunicorn's master does, in a fresh interpreter (it sets environment
# variables and freezes the garbage collector, which must not leak into the tests).
_MASTER = """
import json, sys
exec(open("gunicorn.conf.py").read())
print(json.dumps({
    "modules": sorted(sys.modules),
    "access": logger_class.access(object(), None, None, None, None),
}))
"""


def _as_the_master() -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _MASTER], cwd=PROJECT_ROOT, capture_output=True, text=True,
        check=True,
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
