"""The event feed never skips (SPEC §9): many writers on a real ``gunicorn -w 4``, one
follower polling ``next_cursor`` meanwhile; at the end the follower has seen every entry of
every feature's change log exactly once, in commit (id) order. Comments (SPEC §10) are
events too: writers comment on their features between status changes, and commenters
comment on features others are moving meanwhile; every comment is seen once, and the audit
trail is whole (each comment entry at the revision and status of the entry before it).
On PostgreSQL ids are handed out before commit, so without the change-log lock
(``lock_for_append``) a late-committing entry would fall behind the follower's cursor: the
deterministic test below shows the hazard itself, on two transactions committing out of order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from feature_gateway.db.catalog_repositories import ChangeLogRepository
from feature_gateway.db.engine import make_engine
from feature_gateway.db.scopes import Database
from feature_gateway.services.audit import verify_audit_trails
from tests.conftest import SEED_FEATURE
from tests.databases import BACKENDS, FreshDatabase, require_backend, settings_for
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow
WRITERS = 8
FEATURES_PER_WRITER = 3
COMMENTERS = 2
READ = "user_role=external_testing_system"
STEPS = [
    ("/ready_test_feature_metadata", {"submitted_by": "dev", "user_role": "developer"}),
    ("/update_feature_metadata", {"description": "d2", "last_updated_by": "dev",
                                  "user_role": "developer"}),
    ("/test_feature_metadata", {"test_result": "TEST_SUCCEEDED", "tested_by": "qa",
                                "user_role": "external_testing_system"}),
    ("/approve_feature_metadata", {"approved_by": "boss", "user_role": "approver"}),
]  # fmt: skip


@pytest.fixture(params=BACKENDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FreshDatabase]:
    require_backend(request.param)
    database = FreshDatabase(request.param, tmp_path, migrated=True)
    yield database
    database.drop()


def _comment(server: Server, name: str, body: str) -> None:
    comment = {"body": body, "author": "rev", "user_role": "approver"}
    status, answer = server.request("POST", f"/features/{name}/comments", comment)
    assert status == 201, answer


def _write_features(server: Server, writer: int, created: list[str]) -> list[str]:
    names = []
    for n in range(FEATURES_PER_WRITER):
        name = f"feed_w{writer}:f{n}:1"
        status, body = server.request(
            "POST", "/create_feature_metadata", {**SEED_FEATURE, "feature_name": name}
        )
        assert status == 201, body
        created.append(name)
        for step, (path, payload) in enumerate(STEPS):
            status, body = server.request("POST", path, {"feature_name": name, **payload})
            assert status == 200, body
            _comment(server, name, f"{name} by its writer after step {step}")
        names.append(name)
    return names


def _comment_meanwhile(
    server: Server, commenter: int, created: list[str], done: threading.Event
) -> None:
    """Comment on the features the writers are moving, newest first, until they are done."""
    n = 0
    while not done.is_set():
        if created:
            n += 1
            _comment(server, created[-1 - (n + commenter) % len(created)], f"c{commenter}-{n}")


def _follow(server: LiveServer, done: threading.Event, seen: list[dict[str, Any]]) -> None:
    """Poll the feed with next_cursor until the writers are done and nothing is new."""
    cursor = None
    while True:
        finished = done.is_set()
        after = f"&after={cursor}" if cursor else ""
        status, page = server.request("GET", f"/events?{READ}&limit=7{after}")
        assert status == 200, page
        seen += page["events"]
        cursor = page["next_cursor"]
        if finished and not page["events"]:
            return


class Server(Protocol):
    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any: ...


# An event as it is known afterwards: a change by its feature and revision, a comment by
# its feature and comment id (a comment keeps the revision of the change before it).
Logged = tuple[str, str, int]


def _logged(event: dict[str, Any]) -> Logged:
    if event["type"] == "feature.comment":
        return (event["feature_name"], "comment", event["comment"]["comment_id"])
    return (event["feature_name"], "change", event["revision"])


def follow_while_writing(server: Server) -> tuple[list[dict[str, Any]], list[Logged]]:
    """WRITERS threads take features through the workflow (commenting between steps) and
    COMMENTERS comment on them meanwhile, while one follows the feed; returns the events
    followed and, read afterwards, every feature's change log and comments."""
    done, writers_done, seen = threading.Event(), threading.Event(), []  # type: ignore[var-annotated]
    created: list[str] = []
    follower = threading.Thread(target=_follow, args=(server, done, seen))
    follower.start()
    commenters = [
        threading.Thread(target=_comment_meanwhile, args=(server, c, created, writers_done))
        for c in range(COMMENTERS)
    ]
    for commenter in commenters:
        commenter.start()
    try:
        with ThreadPoolExecutor(WRITERS) as pool:
            writes = pool.map(lambda w: _write_features(server, w, created), range(WRITERS))
            names = [n for ns in writes for n in ns]
    finally:
        writers_done.set()
        for commenter in commenters:
            commenter.join(timeout=60)
        done.set()
        follower.join(timeout=60)
    assert not follower.is_alive()
    logged: list[Logged] = []
    for name in names:
        status, body = server.request("GET", f"/features/{name}/changes?{READ}")
        assert status == 200
        changes = [e for e in body["changes"] if e["action"] != "comment"]
        logged += [(name, "change", entry["revision"]) for entry in changes]
        status, body = server.request("GET", f"/features/{name}/comments?{READ}&limit=1000")
        assert status == 200
        logged += [(name, "comment", comment["comment_id"]) for comment in body["comments"]]
    return seen, logged


def assert_each_seen_once_in_order(seen: list[dict[str, Any]], logged: list[Logged]) -> None:
    changes = [entry for entry in logged if entry[1] == "change"]
    assert len(changes) == WRITERS * FEATURES_PER_WRITER * (1 + len(STEPS))
    assert len(logged) - len(changes) > WRITERS * FEATURES_PER_WRITER * len(STEPS)  # comments
    followed = [_logged(event) for event in seen]
    assert len(followed) == len(set(followed)), "an event was seen twice"
    assert sorted(followed) == sorted(logged), "an event was missed"
    positions = [int(event["id"].removeprefix("evt_")) for event in seen]
    assert positions == sorted(positions)


def test_a_follower_sees_every_change_once_in_order_while_many_write(
    fresh: FreshDatabase, tmp_path: Path
) -> None:
    server = LiveServer(fresh.url, workers=4, log_path=tmp_path / "gunicorn.log")
    try:
        seen, logged = follow_while_writing(server)
    finally:
        server.stop()
    assert_each_seen_once_in_order(seen, logged)
    engine = make_engine(settings_for(fresh.url))
    try:
        report = verify_audit_trails(Database(engine))
    finally:
        engine.dispose()
    assert report.whole, [b.as_dict() for b in report.breaks]
    assert report.comments == len([entry for entry in logged if entry[1] == "comment"])


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Any]:
    require_backend("postgresql")
    database = FreshDatabase("postgresql", tmp_path, migrated=True)
    engine = make_engine(settings_for(database.url))
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO features (feature_name, canonical_name, feature_type,"
                " feature_data_type, query, description, status, created_time, updated_time,"
                " created_by, last_updated_by, revision, tags)"
                " VALUES ('v:f:1', 'v:f:1', 'batch', 'float', 'SELECT 1', 'd', 'DRAFT', 1, 1,"
                " 'dev', 'dev', 1, '{}')"
            )
        )
    yield engine
    engine.dispose()
    database.drop()


_INSERT = text(
    "INSERT INTO feature_changes (feature_id, feature_name, revision, action, actor,"
    " authenticated, timestamp, new_status, fields)"
    " SELECT id, feature_name, 1, 'update', 'dev', false, 1, 'DRAFT', '{}' FROM features"
    " RETURNING id"
)
_AFTER = text("SELECT id FROM feature_changes WHERE id > :after ORDER BY id")


def test_without_the_log_lock_a_late_commit_falls_behind_a_naive_cursor(postgres: Any) -> None:
    with postgres.connect() as early, postgres.connect() as late, postgres.connect() as reader:
        early_id = early.execute(_INSERT).scalar_one()  # gets its id first...
        late_id = late.execute(_INSERT).scalar_one()
        late.commit()  # ...but commits last
        seen = [row.id for row in reader.execute(_AFTER, {"after": 0})]
        reader.commit()
        assert seen == [late_id]
        early.commit()
        after_cursor = [row.id for row in reader.execute(_AFTER, {"after": late_id})]
        assert early_id < late_id and after_cursor == []  # skipped for good


def test_with_the_log_lock_a_second_writer_waits_so_ids_follow_commit_order(
    postgres: Any,
) -> None:
    early = Session(postgres)
    ChangeLogRepository(early).lock_for_append()
    early_id = early.execute(_INSERT).scalar_one()
    got: dict[str, Any] = {}

    def late_writer() -> None:
        with Session(postgres) as late:
            ChangeLogRepository(late).lock_for_append()  # blocks until early commits
            got["locked_at"] = time.monotonic()
            got["id"] = late.execute(_INSERT).scalar_one()
            late.commit()

    thread = threading.Thread(target=late_writer)
    thread.start()
    time.sleep(0.5)
    assert "locked_at" not in got, "the second writer got the lock while the first held it"
    with postgres.connect() as reader:
        assert [row.id for row in reader.execute(_AFTER, {"after": 0})] == []
    committed_at = time.monotonic()
    early.commit()
    early.close()
    thread.join(timeout=10)
    assert got["locked_at"] >= committed_at
    assert got["id"] > early_id
    with postgres.connect() as reader:
        assert [row.id for row in reader.execute(_AFTER, {"after": 0})] == [early_id, got["id"]]
