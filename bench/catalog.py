"""Catalog figures (issue 10): tag- and owner-filtered pages, change-log reads, write cost.

Run: ``.venv/bin/python -m bench.catalog`` (needs wrk: ``apt-get install wrk``; the write
comparison needs git). Every figure comes from ``gunicorn -w 2`` on SQLite under
``wrk -t1 -c16`` on loopback, beside a bare Flask endpoint measured in the same run:

- a list page of 100 filtered by a tag, and one filtered by owner, with 10,000 and 100,000
  features stored. The filtered tag and owner match 1,000 features at either size, so the
  two sizes differ only in what the index must skip: flat means within 20 %. A tag matching
  a third of the table is measured too; its page also counts every match (``total_count``),
  so it grows with the matches, not with the table;
- the change log of one feature with 100 changes;
- create and update with the change log written, against the same requests served by the
  code before this issue (``git archive`` of ``--baseline``, default the first parent of
  the merge that brought the catalog into main, or before that the merge base with
  ``main``), each on a fresh database of 10,000 features, in alternating rounds
  (``--rounds``, default 3; medians printed), as the machine's load drifts.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

from bench.common import ROOT, Gunicorn, seed_features, wrk
from bench.datasets import store_feature_json_at

MATCHES = 1_000  # features with the filtered tag and owner, whatever the table size
FILTERED_TAG = ("team", "search")
FILTERED_OWNER = "team_search"
UPDATED_FEATURES = 1_000

CREATE_LUA = """
counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"feature_name": "wrk_%s:f_%%d:1", "feature_type": "batch",'
    .. ' "feature_data_type": "float", "query": "SELECT x FROM t WHERE id = ?",'
    .. ' "description": "load test", "created_by": "wrk", "user_role": "developer"}', counter)
  return wrk.format("POST", "/create_feature_metadata",
                    {["Content-Type"] = "application/json"}, body)
end
"""
# Each request changes the description (a real change) of one of UPDATED_FEATURES features,
# none of them deployed (seed_features deploys every tenth, from the first).
UPDATE_LUA = """
counter = 0
request = function()
  counter = counter + 1
  local i = (counter %% %d) * 10 + 1
  local body = string.format('{"feature_name": "bench_view_%%d:feature_%%d:1",'
    .. ' "description": "edited %%d", "last_updated_by": "wrk", "user_role": "developer"}',
    math.floor(i / 100), i, counter)
  return wrk.format("POST", "/update_feature_metadata",
                    {["Content-Type"] = "application/json"}, body)
end
"""


def alembic_upgrade(code: Path, url: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(code / "src")}
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=code, env=env,
                   check=True, capture_output=True)  # fmt: skip


def seeded_database(code: Path, path: Path, count: int, *, catalog: bool) -> list[str]:
    """``count`` features (10 % deployed) migrated by ``code``; with ``catalog``, owners and
    tags: MATCHES features carry FILTERED_TAG and FILTERED_OWNER, every one a tier tag."""
    alembic_upgrade(code, f"sqlite:///{path}")
    names = seed_features(path, count)
    if not catalog:
        return names
    every = count // MATCHES
    tiers = ("gold", "silver", "bronze")
    with sqlite3.connect(path) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM features ORDER BY id")]
        owners, tag_rows = [], []
        for i, feature_id in enumerate(ids):
            tags = {"tier": tiers[i % 3]}
            if i % every == 0:
                tags[FILTERED_TAG[0]] = FILTERED_TAG[1]
            owner = FILTERED_OWNER if i % every == 0 else f"team_{i % 50}"
            owners.append((owner, json.dumps(tags), feature_id))
            tag_rows += [(feature_id, key, value) for key, value in tags.items()]
        conn.executemany("UPDATE features SET owner = ?, tags = ? WHERE id = ?", owners)
        conn.executemany(
            "INSERT INTO feature_tags (feature_id, key, value) VALUES (?, ?, ?)", tag_rows
        )
        conn.execute("ANALYZE")
    store_feature_json_at(f"sqlite:///{path}")  # the owners and tags set above
    return names


def post(base_url: str, path: str, body: dict[str, object]) -> None:
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    conn.close()
    if response.status not in (200, 201):
        raise RuntimeError(f"{path}: {response.status}")


def feature_with_changes(base_url: str, changes: int) -> str:
    name = f"changed_{uuid.uuid4().hex[:8]}:f:1"
    post(base_url, "/create_feature_metadata", {
        "feature_name": name, "feature_type": "batch", "feature_data_type": "float",
        "query": "SELECT 1", "description": "edit 0", "created_by": "dev",
        "user_role": "developer",
    })  # fmt: skip
    for i in range(1, changes):
        post(base_url, "/update_feature_metadata", {
            "feature_name": name, "description": f"edit {i}", "last_updated_by": "dev",
            "user_role": "developer",
        })  # fmt: skip
    return name


def ready(url: str, timeout_s: float = 120) -> None:
    """Wait until the server answers: gunicorn listens before its workers have imported
    the app, and on a busy machine that takes seconds."""
    base = "/".join(url.split("/", 3)[:3])
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{base}/livez", timeout=30):
                return
        except urllib.error.HTTPError:
            return  # a worker answered (the bare app has no /livez)
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()  # fmt: skip


def default_baseline() -> str:
    """The code before this issue: main just before the catalog was merged into it, or,
    while it is not merged yet, where this branch left main."""
    for ref in ("HEAD", "main"):
        merge = _git("log", "--first-parent", "--format=%H", "-1", "--grep",
                     "^Merge branch 'catalog'", ref)  # fmt: skip
        if merge:
            return _git("rev-parse", f"{merge}^1")
    return _git("merge-base", "HEAD", "main")


def baseline_checkout(ref: str, into: Path) -> Path:
    """The code at ``ref`` (files only, no worktree), to serve the pre-issue figures."""
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True,
                             capture_output=True).stdout  # fmt: skip
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    env = {**os.environ, "PYTHONPATH": str(into / "src")}
    imported = subprocess.run(
        [sys.executable, "-c", "import feature_gateway; print(feature_gateway.__file__)"],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    if not imported.startswith(str(into)):
        raise RuntimeError(f"the baseline run would import {imported}, not the baseline")
    return into


class Run:
    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self.rows: list[tuple[str, dict[str, float], str]] = []
        self.bare_rps = 0.0

    def measure(
        self, label: str, url: str, note: str = "", lua: Callable[[], Path] | None = None
    ) -> float:
        """One wrk run after a warm-up; ``lua`` writes a fresh script for each of them.

        A response slower than 10 s counts as an error: on a loaded machine wrk's default
        of 2 s would drop every slow response and report 0 requests/s."""
        ready(url)
        wrk(url, 1, script=lua() if lua else None, timeout_s=10)  # warm-up: caches, pools
        figures = wrk(url, self.seconds, script=lua() if lua else None, timeout_s=10)
        ratio = f"{figures['rps'] / self.bare_rps:.0%} of bare" if self.bare_rps else ""
        self.rows.append((label, figures, "; ".join(filter(None, [ratio, note]))))
        print(f"{label}: {figures}", flush=True)  # progress; the table comes at the end
        return figures["rps"]

    def print(self) -> None:
        print(f"{'scenario':46} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}  note")
        for label, f, note in self.rows:
            print(f"{label:46} {f['rps']:8.0f} {f['p50_ms']:8.2f} {f['p99_ms']:8.2f} "
                  f"{f['non_2xx']:8.0f}  {note}")  # fmt: skip


def list_pages(run: Run, tmp: Path) -> None:
    tag = ":".join(FILTERED_TAG)
    paths = {
        "tag": f"/get_all_feature_metadata?user_role=developer&tag={tag}&limit=100",
        "owner": f"/get_all_feature_metadata?user_role=developer&owner={FILTERED_OWNER}"
        "&limit=100",
        "tier": "/get_all_feature_metadata?user_role=developer&tag=tier:gold&limit=100",
    }
    by_size: dict[str, list[float]] = {key: [] for key in paths}
    for count in (10_000, 100_000):
        db = tmp / f"catalog_{count}.db"
        seeded_database(ROOT, db, count, catalog=True)
        app = Gunicorn("wsgi:app", {"DATABASE_URL": f"sqlite:///{db}"})
        try:
            for key, path in paths.items():
                label = {"tag": f"tag={tag}", "owner": f"owner={FILTERED_OWNER}",
                         "tier": "tag=tier:gold (a third)"}[key]  # fmt: skip
                by_size[key].append(run.measure(f"{label}, {count:,} stored", app.url + path))
            if count == 10_000:
                name = feature_with_changes(app.url, 100)
                run.measure("change log of a feature with 100 changes",
                            f"{app.url}/features/{name}/changes?user_role=developer")  # fmt: skip
        finally:
            app.stop()
    for key, (small, big) in by_size.items():
        ratio = f"{big / small:.0%}" if small else "n/a (no requests served)"
        print(f"{key} page, 100,000 vs 10,000 stored: {ratio} of the req/s")


def write_costs(run: Run, tmp: Path, baseline_ref: str, rounds: int) -> None:
    baseline = baseline_checkout(baseline_ref, tmp / "baseline")

    def create_script() -> Path:  # new names on every run: a repeated name would be a 409
        (tmp / "create.lua").write_text(CREATE_LUA % uuid.uuid4().hex[:8])
        return tmp / "create.lua"

    def update_script() -> Path:
        (tmp / "update.lua").write_text(UPDATE_LUA % (UPDATED_FEATURES,))
        return tmp / "update.lua"

    servers = {}
    for label, code, catalog in (("before this issue", baseline, False),
                                 ("with the change log", ROOT, True)):  # fmt: skip
        db = tmp / f"writes_{catalog}.db"
        seeded_database(code, db, 10_000, catalog=catalog)
        env = {"DATABASE_URL": f"sqlite:///{db}", "PYTHONPATH": str(code / "src")}
        servers[label] = Gunicorn("wsgi:app", env)
    figures: dict[str, list[float]] = {}
    try:
        # Alternating runs, so that a change in the machine's load hits both alike.
        for _ in range(rounds):
            for label, app in servers.items():
                for kind, script in (("create", create_script), ("update", update_script)):
                    rps = run.measure(f"{kind}, {label}", app.url, lua=script)
                    figures.setdefault(f"{kind}, {label}", []).append(rps)
    finally:
        for app in servers.values():
            app.stop()
    for kind in ("create", "update"):
        before = statistics.median(figures[f"{kind}, before this issue"])
        after = statistics.median(figures[f"{kind}, with the change log"])
        print(f"{kind}: median {after:.0f} req/s with the change log, {before:.0f} before "
              f"this issue ({after / before:.0%}) over {rounds} alternating rounds")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    parser.add_argument("--baseline", default=None, help="git ref of the code before the issue")
    parser.add_argument("--rounds", type=int, default=3, help="alternating write-cost rounds")
    parser.add_argument("--only", choices=["lists", "writes"], help="run one part only")
    args = parser.parse_args()
    baseline_ref = args.baseline or default_baseline()
    run = Run(args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        bare = Gunicorn("bench.bare_app:app", {})
        try:
            run.bare_rps = run.measure("bare Flask endpoint (ceiling)", f"{bare.url}/bare")
        finally:
            bare.stop()
        if args.only != "writes":
            list_pages(run, Path(tmp))
        if args.only != "lists":
            write_costs(run, Path(tmp), baseline_ref, args.rounds)
    run.print()
    print(f"baseline for the write costs: {baseline_ref}")


if __name__ == "__main__":
    main()
