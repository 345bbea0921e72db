"""How long ``feature-gateway audit verify`` takes on a large catalog (SPEC §11).

Builds a scratch database of ``--features`` features (default 100,000) in bulk, each with
the history and change log the service writes for its path through the workflow (a tenth
deployed, others tested, failed, reset by an update, submitted or left as drafts), checks
that verify finds it whole, then times it: in process (the check itself) and as the CLI
command an operator runs (with the interpreter's start). Goal: well under a minute.

    .venv/bin/python -m bench.audit_verify [--features 100000] [--backend postgresql]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text

from bench.datasets import (
    PG_ADMIN_URL,
    T0,
    _row,
    feature_name,
    scratch_database,
    store_feature_json,
)
from feature_gateway.config import Settings
from feature_gateway.db.catalog_models import FeatureChange
from feature_gateway.db.engine import make_engine
from feature_gateway.db.models import AuditEntry, Feature
from feature_gateway.db.scopes import Database
from feature_gateway.services.audit import verify_audit_trails

ROOT = Path(__file__).resolve().parents[1]
BATCH = 5_000
# Each write: (change-log action, status after it, history entries as (trigger, to)).
CREATE = ("create", "DRAFT", [("create", "DRAFT")])
SUBMIT = ("submit", "READY_FOR_TESTING", [("submit", "READY_FOR_TESTING")])
PASS = ("test", "TEST_SUCCEEDED", [("test", "TEST_SUCCEEDED")])
FAIL = ("test", "TEST_FAILED", [("test", "TEST_FAILED")])
APPROVE = ("approve", "DEPLOYED", [("approve", "APPROVED"), ("deploy", "DEPLOYED")])
EDIT = ("update", None, [])
RESET = ("update", "DRAFT", [("reset", "DRAFT")])
PATHS = [
    [CREATE, SUBMIT, PASS, APPROVE],  # a tenth deployed, as the other benchmarks
    [CREATE, SUBMIT, FAIL],
    [CREATE, SUBMIT, PASS],
    [CREATE, SUBMIT, PASS, RESET, EDIT],
    [CREATE, SUBMIT],
    [CREATE, EDIT],
    [CREATE],
    [CREATE, SUBMIT, FAIL, RESET],
    [CREATE, EDIT, SUBMIT],
    [CREATE],
]


def rows_of(i: int) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    name = feature_name(i)
    feature = _row(i, name) | {"id": i + 1}
    history: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    status: str | None = None
    for step, (action, after, fired) in enumerate(PATHS[i % len(PATHS)]):
        now = T0 + i + step
        new = after or status
        for trigger, to in fired:
            history.append({"feature_id": i + 1, "from_status": status if trigger != "create"
                            else None, "to_status": to, "trigger": trigger, "actor": "dev",
                            "timestamp": now, "authenticated": False})  # fmt: skip
            status = to
        changes.append({"feature_id": i + 1, "feature_name": name, "revision": step + 1,
                        "action": action, "actor": "dev", "actor_role": "developer",
                        "authenticated": False, "timestamp": now,
                        "previous_status": None if step == 0 else changes[-1]["new_status"],
                        "new_status": new, "fields": {}})  # fmt: skip
        status = new
    feature.update(status=status, revision=len(changes), updated_time=T0 + i + len(changes) - 1)
    return feature, history, changes


def batches(count: int) -> Iterator[tuple[list[Any], list[Any], list[Any]]]:
    for start in range(0, count, BATCH):
        features, history, changes = [], [], []
        for i in range(start, min(count, start + BATCH)):
            f, h, c = rows_of(i)
            features.append(f)
            history.extend(h)
            changes.extend(c)
        yield features, history, changes


def fill(url: str, count: int) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for features, history, changes in batches(count):
                conn.execute(insert(Feature.__table__), features)
                conn.execute(insert(AuditEntry.__table__), history)
                conn.execute(insert(FeatureChange.__table__), changes)
            store_feature_json(conn)
            if engine.dialect.name == "postgresql":  # explicit ids: move the sequence on
                conn.execute(
                    text("SELECT setval('features_id_seq', (SELECT max(id) FROM features))")
                )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as folder,
        scratch_database(args.backend, Path(folder), args.pg_admin_url) as url,
    ):
        started = time.monotonic()
        fill(url, args.features)
        print(f"built {args.features:,} features in {time.monotonic() - started:.1f} s")
        engine = make_engine(Settings(database_url=url))
        try:
            report = verify_audit_trails(Database(engine))
        finally:
            engine.dispose()
        if not report.whole:
            sys.exit(f"the generated trails are not whole: {report.breaks[:5]}")
        started = time.monotonic()
        cli = subprocess.run(
            [str(Path(sys.executable).with_name("feature-gateway")), "audit", "verify"],
            cwd=ROOT, env={"DATABASE_URL": url, "LOG_LEVEL": "ERROR", "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        cli_s = time.monotonic() - started
        if cli.returncode != 0:
            sys.exit(f"feature-gateway audit verify exited {cli.returncode}: {cli.stderr}")
        print(
            f"audit verify ({args.backend}): {report.features:,} features, "
            f"{report.history_entries:,} history and {report.change_entries:,} change-log "
            f"entries: check {report.seconds:.1f} s in process; the CLI command "
            f"{cli_s:.1f} s end to end ({cli.stdout.strip()})"
        )


if __name__ == "__main__":
    main()
