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
across runs, after every event (without it, it starts at the beginning and skips features
no longer waiting). It uses the Python client (``pip install ./clients/python``), which
retries safely, follows the feed and sends If-Match, and sqlglot.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import sqlglot
from sqlglot import exp

from feature_gateway_client import Client, Conflict, Forbidden
from feature_gateway_client.models import Event
from feature_gateway_client.models import FeatureMetadataTestResult as TestResult

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
    bare = column.unalias()
    return isinstance(bare, exp.Star) or (
        isinstance(bare, exp.Column) and isinstance(bare.this, exp.Star)
    )


class TestingSystem:
    def __init__(self, client: Client, cursor_file: Path | None = None) -> None:
        self.client, self.cursor_file = client, cursor_file
        self.cursor: str | None = None
        if cursor_file is not None and cursor_file.exists():
            self.cursor = cursor_file.read_text().strip() or None

    def run(self, *, once: bool, poll_interval_s: float) -> int:
        """Follow the feed; returns how many results were recorded."""
        recorded = 0
        stream = self.client.events(
            after=self.cursor, types=["feature.submit"], follow=not once,
            poll_interval_s=poll_interval_s,
        )  # fmt: skip
        for event in stream:
            recorded += self.handle(event)
            self._save(stream.cursor)
        self._save(stream.cursor)
        return recorded

    def _save(self, cursor: str | None) -> None:
        if cursor and self.cursor_file is not None:
            self.cursor_file.write_text(cursor + "\n")

    def handle(self, event: Event) -> int:
        name = event.feature_name
        feature = self.client.get_feature_metadata_by_path(feature_name=name).metadata
        if feature.status != WAITING or feature.revision != event.revision:
            log.info("skipping %s: no longer waiting for this test round", name)
            return 0
        passed, notes = check_query(feature.query)
        result: TestResult = "TEST_SUCCEEDED" if passed else "TEST_FAILED"
        try:  # If-Match: the revision checked here, or 409 if it changed meanwhile
            self.client.test_feature_metadata(
                feature_name=name, test_result=result, test_notes=notes, if_match=feature
            )
        except (Forbidden, Conflict) as refused:  # separation of duties, or changed meanwhile
            log.warning("not recorded for %s: %s", name, refused.detail)
            return 0
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
    with Client(args.url, token=token) as client:
        recorded = TestingSystem(client, args.cursor_file).run(
            once=args.once, poll_interval_s=args.poll_interval
        )
    log.info("recorded %d test results", recorded)
    return 0


if __name__ == "__main__":
    sys.exit(main())
