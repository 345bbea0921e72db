"""A reference external testing system for the Feature Metadata Gateway.

It follows the event feed (``GET /events?type=feature.submit``) with its own API token,
checks the query of each feature submitted for testing, and records the result through
the API (``POST /test_feature_metadata``) with notes saying why:

- the query must parse as SQL (sqlglot) and be exactly one SELECT statement;
- ``SELECT *`` is refused anywhere in it: a feature names the columns it reads.

Run it beside the service (token mode), with a token carrying the role
``external_testing_system``::

    feature-gateway tokens create --principal ci-tester --role external_testing_system
    TESTING_SYSTEM_TOKEN=fmg_... python examples/testing_system.py --url http://127.0.0.1:8000

``--once`` handles what is in the feed now and exits; ``--cursor-file`` keeps its place
across runs (without it, it starts at the beginning and skips features no longer waiting).
It is a stand-alone script: it uses only the public API, httpx and sqlglot.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import sqlglot
from sqlglot import exp

log = logging.getLogger("testing_system")
WAITING = "READY_FOR_TESTING"


def check_query(query: str) -> tuple[bool, str]:
    """(passed, notes) for a feature's query."""
    try:
        statements = [s for s in sqlglot.parse(query) if s is not None]
    except sqlglot.errors.ParseError as exc:
        return False, f"The query does not parse as SQL: {str(exc).splitlines()[0]}"
    if len(statements) != 1:
        return False, f"The query must be one statement, not {len(statements)}."
    (statement,) = statements
    if not isinstance(statement, exp.Query):
        return False, f"The query must be a SELECT, not {statement.key.upper()}."
    for select in statement.find_all(exp.Select):
        if any(_is_star(column) for column in select.expressions):
            return False, "SELECT * is not allowed: name the columns the feature reads."
    return True, "Query parses as one SELECT and names its columns."


def _is_star(column: exp.Expression) -> bool:
    """``*`` or ``t.*`` as a selected column (``count(*)`` is fine: it names no column)."""
    column = column.unalias()
    return isinstance(column, exp.Star) or (
        isinstance(column, exp.Column) and isinstance(column.this, exp.Star)
    )


class TestingSystem:
    def __init__(self, client: httpx.Client, cursor_file: Path | None = None) -> None:
        self.client, self.cursor_file = client, cursor_file
        self.cursor: str | None = None
        if cursor_file is not None and cursor_file.exists():
            self.cursor = cursor_file.read_text().strip() or None

    def run(self, *, once: bool, poll_interval_s: float) -> int:
        """Follow the feed; returns how many results were recorded."""
        recorded = 0
        while True:
            page = self._page()
            for event in page["events"]:
                recorded += self.handle(event)
            self._save(page["next_cursor"])
            if not page["events"]:
                if once:
                    return recorded
                time.sleep(poll_interval_s)

    def _page(self) -> dict[str, Any]:
        params = {"type": "feature.submit", "limit": "100"}
        if self.cursor:
            params["after"] = self.cursor
        response = self.client.get("/events", params=params)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def _save(self, cursor: str) -> None:
        self.cursor = cursor
        if self.cursor_file is not None:
            self.cursor_file.write_text(cursor + "\n")

    def handle(self, event: dict[str, Any]) -> int:
        name = event["feature_name"]
        feature = self.client.get(f"/get_feature_metadata/{name}").json()["metadata"]
        if feature["status"] != WAITING or feature["revision"] != event["revision"]:
            log.info("skipping %s: no longer waiting for this test round", name)
            return 0
        passed, notes = check_query(feature["query"])
        result = "TEST_SUCCEEDED" if passed else "TEST_FAILED"
        response = self.client.post(
            "/test_feature_metadata",
            json={"feature_name": name, "test_result": result, "test_notes": notes},
            headers={"If-Match": f'"{feature["revision"]}"'},  # what we checked, or 409
        )
        if response.status_code in (403, 409):  # separation of duties, or changed meanwhile
            log.warning("not recorded for %s: %s", name, response.json()["detail"])
            return 0
        response.raise_for_status()
        log.info("%s: %s (%s)", name, result, notes)
        return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the gateway's base URL")
    parser.add_argument("--once", action="store_true", help="handle the feed once, then exit")
    parser.add_argument("--cursor-file", type=Path, help="where to keep the feed position")
    parser.add_argument("--poll-interval", type=float, default=2.0, help="seconds between polls")
    args = parser.parse_args(argv)
    token = os.environ.get("TESTING_SYSTEM_TOKEN")
    if not token:
        parser.error("set TESTING_SYSTEM_TOKEN to an API token with role external_testing_system")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=args.url, headers=headers, timeout=10) as client:
        recorded = TestingSystem(client, args.cursor_file).run(
            once=args.once, poll_interval_s=args.poll_interval
        )
    log.info("recorded %d test results", recorded)
    return 0


if __name__ == "__main__":
    sys.exit(main())
