"""Review console render times (issue 12): the list page and the feature page at 10,000
features, beside the bare-app figure of the same run.

Run: ``.venv/bin/python -m bench.console [--features 10000] [--requests 200]
[--waiting 150]``. In-process (Flask's test client, no network, no gunicorn): what is
measured is the app's own work per page — session and CSRF, the service reads, Jinja
rendering — on SQLite with the catalog's owners and tags (``bench.catalog.seeded_database``),
``--waiting`` of them TEST_SUCCEEDED (the approver's queue shows 100). Each page is
requested ``--requests`` times after a warm-up; median and p95 in milliseconds are printed.
The bare app is a Flask endpoint returning a constant JSON body (``bench.bare_app``), the
floor of any request; ``/health`` is this app's cheapest endpoint.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from flask.testing import FlaskClient

from bench.bare_app import app as bare_app
from bench.catalog import FILTERED_OWNER, seeded_database
from bench.common import ROOT, load_average, percentile
from bench.datasets import store_feature_json_at
from feature_gateway import create_app

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_STEPS = (
    ("/ready_test_feature_metadata", {"submitted_by": "dev", "user_role": "developer"}),
    ("/test_feature_metadata", {"test_result": "TEST_SUCCEEDED", "tested_by": "qa",
                                "user_role": "external_testing_system",
                                "test_notes": "row counts match"}),
)  # fmt: skip


def timed(client: FlaskClient, path: str, requests: int) -> tuple[float, float]:
    for _ in range(10):
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code}")
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        response.get_data()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), percentile(samples, 0.95)


def timed_sequence(client: FlaskClient, paths: list[str], requests: int) -> tuple[float, float]:
    """The time of requesting every one of ``paths`` in turn."""
    samples = []
    for i in range(requests + 10):
        started = time.perf_counter()
        for path in paths:
            response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"{path}: {response.status_code}")
        if i >= 10:
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), percentile(samples, 0.95)


def reviewed_feature(client: FlaskClient, source: str) -> str:
    """A second version of a deployed feature, tested: diff, timeline and change log."""

    def post(path: str, body: dict[str, object], status: int = 200) -> dict[str, object]:
        response = client.post(path, json=body)
        if response.status_code != status:
            raise SystemExit(f"{path}: {response.get_json()}")
        return response.get_json()["metadata"]  # type: ignore[no-any-return]

    created = post("/create_feature_version", {
        "feature_name": source, "created_by": "dev", "user_role": "developer",
        "query": "SELECT f0 FROM t\nWHERE id = ? AND active", "description": "a second version"},
        201)  # fmt: skip
    name = str(created["feature_name"])
    for path, body in _STEPS:
        post(path, {"feature_name": name, **body})
    return name


def waiting_for_approval(path: Path, count: int) -> None:
    """``count`` of the seeded DRAFT features submitted and tested (TEST_SUCCEEDED, as the
    workflow would leave them): a full approver queue (issue 22: each row says who did
    what, how long it waited and whether the approver may act)."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE features SET status = 'TEST_SUCCEEDED', submitted_by = created_by,"
            " submitted_time = updated_time, tested_by = 'qa', tested_time = updated_time,"
            " test_result = 'TEST_SUCCEEDED' WHERE id IN (SELECT id FROM features"
            " WHERE status = 'DRAFT' ORDER BY id DESC LIMIT ?)",
            (count,),
        )
    store_feature_json_at(f"sqlite:///{path}")  # the rows changed above


def sign_in(client: FlaskClient) -> None:
    page = client.get("/console/sign-in").get_data(as_text=True)
    token = _CSRF.search(page)
    if token is None:
        raise SystemExit("no CSRF token on the sign-in page")
    response = client.post("/console/sign-in", data={
        "csrf_token": token.group(1), "role": "approver", "name": "carol"})  # fmt: skip
    if response.status_code != 302:
        raise SystemExit(f"sign-in: {response.status_code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--waiting", type=int, default=150, help="features TEST_SUCCEEDED")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "console.db"
        names = seeded_database(ROOT, path, args.features, catalog=True)
        waiting_for_approval(path, args.waiting)
        app = create_app({"database_url": f"sqlite:///{path}", "log_level": "WARNING"})
        client = app.test_client()
        feature = reviewed_feature(client, names[0])  # names[0] is DEPLOYED
        sign_in(client)
        bare = bare_app.test_client()
        owner = f"/console/features?owner={FILTERED_OWNER}&sort=-updated_time"
        search = "/console/features?search=number+99&status=DRAFT"
        pages: list[tuple[str, FlaskClient, str]] = [
            ("bare app GET /bare (floor)", bare, "/bare"),
            ("GET /health", client, "/health"),
            ("list page, first 50 by name", client, "/console/features"),
            ("list page, owner filter, 50", client, owner),
            ("list page, search + status, 50", client, search),
            ("  the same list from the JSON API", client,
             "/get_all_feature_metadata?user_role=approver&limit=50&search=number+99&status=DRAFT"),
            (f"approver queue (100 of {args.waiting + 1} waiting)", client, "/console/queue"),
            ("feature page (v2: diff, timeline, changes)", client, f"/console/features/{feature}"),
            ("  its five reads from the JSON API, in turn", client, ""),
        ]  # fmt: skip
        print(f"review console, {args.features:,} features, SQLite, in-process test client, "
              f"{args.requests} requests each; load average {load_average()}")  # fmt: skip
        print(f"{'page':<46} {'median ms':>10} {'p95 ms':>8}")
        reads = [f"/{kind}/{feature}?user_role=approver" for kind in ("get_feature_metadata",)]
        reads += [f"/features/{feature}/{kind}?user_role=approver"
                  for kind in ("history", "changes", "versions", "diff")]  # fmt: skip
        for label, on, path in pages:
            if path:
                median, p95 = timed(on, path, args.requests)
            else:  # the API calls a client would make to show the same page
                median, p95 = timed_sequence(on, reads, args.requests)
            print(f"{label:<46} {median:>10.2f} {p95:>8.2f}")
        app.extensions["feature_gateway"].database.bind.dispose()


if __name__ == "__main__":
    main()
