"""The production stack on loopback: nginx → gunicorn (several workers) → PostgreSQL.

Needs Debian's nginx (`apt-get install -y nginx`): skipped without it, except under
CI=true, where a missing nginx fails the run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from feature_gateway.config import Settings
from tests.conftest import SEED_FEATURE
from tests.databases import FreshDatabase, require_backend
from tests.deploy.support import (
    PROJECT_ROOT,
    Gunicorn,
    call,
    find_binary,
    gunicorn,
    nginx,
    run_migrations,
    wait_until,
)
from tests.metrics_text import sample_total

WORKERS = 3
DEV = {"user_role": "developer"}


@pytest.fixture(scope="module")
def work_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: nginx workers (nobody, when run as root) must reach it.
    path = Path(tempfile.mkdtemp(prefix="fmg-nginx-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def stack(work_dir: Path) -> Iterator[tuple[Gunicorn, int]]:
    nginx_binary = find_binary("nginx", required_in_ci=True)
    require_backend("postgresql")
    database = FreshDatabase("postgresql", work_dir)
    (work_dir / "nginx").mkdir()
    try:
        run_migrations(database.url, work_dir)
        with (
            gunicorn(database.url, work_dir, workers=WORKERS, TRUSTED_PROXY_COUNT="1") as server,
            nginx(nginx_binary, [f"127.0.0.1:{server.port}"], work_dir / "nginx") as port,
        ):
            yield server, port
    finally:
        database.drop()


def metric(port: int, name: str, **labels: str) -> float:
    return sample_total(call(port, "GET", "/metrics").body.decode(), name, **labels)


def expect(reply: Any, status: int) -> Any:
    assert reply.status == status, reply.body[:500]
    return reply.json()


@pytest.mark.slow
def test_a_feature_goes_through_its_whole_life_via_nginx(stack: tuple[Gunicorn, int]) -> None:
    server, port = stack
    name = "nginx_view:conv_rate:1"
    failing = "nginx_view:conv_rate:2"

    for feature in (name, failing):
        created = expect(
            call(
                port, "POST", "/create_feature_metadata", {**SEED_FEATURE, "feature_name": feature}
            ),
            201,
        )
        assert created["metadata"]["status"] == "DRAFT"
        submitted = {"feature_name": feature, "submitted_by": "dev", **DEV}
        expect(call(port, "POST", "/ready_test_feature_metadata", submitted), 200)
    tested = {"tested_by": "ci", "user_role": "external_testing_system"}
    expect(
        call(
            port,
            "POST",
            "/test_feature_metadata",
            {"feature_name": name, "test_result": "TEST_SUCCEEDED", **tested},
        ),
        200,
    )
    expect(
        call(
            port,
            "POST",
            "/test_feature_metadata",
            {"feature_name": failing, "test_result": "TEST_FAILED", **tested},
        ),
        200,
    )
    approved = expect(
        call(
            port,
            "POST",
            "/approve_feature_metadata",
            {"feature_name": name, "approved_by": "boss", "user_role": "approver"},
        ),
        200,
    )
    assert (approved["previous_status"], approved["new_status"]) == ("TEST_SUCCEEDED", "DEPLOYED")
    expect(
        call(
            port,
            "POST",
            "/fix_feature_metadata",
            {"feature_name": failing, "fixed_by": "dev", "fix_description": "typo", **DEV},
        ),
        200,
    )
    expect(
        call(
            port,
            "POST",
            "/delete_feature_metadata",
            {"feature_name": failing, "deleted_by": "dev", "deletion_reason": "dup", **DEV},
        ),
        200,
    )

    # Every worker reads what any worker committed.
    for _ in range(2 * WORKERS):
        deployed = expect(call(port, "GET", "/get_deployed_features?user_role=approver"), 200)
        assert [f["feature_name"] for f in deployed["features"]] == [name]
    history = expect(
        call(port, "GET", f"/features/{name}/history", headers={"X-User-Role": "developer"}), 200
    )
    assert [h["trigger"] for h in history["history"]] == [
        "create",
        "submit",
        "test",
        "approve",
        "deploy",
    ]
    assert expect(call(port, "GET", "/health"), 200)["database"] == "ok"
    # gunicorn's own lines and the app's share one JSON shape.
    shapes = {line["logger"]: set(line) for line in server.log_lines()}
    assert {"time", "level", "logger", "message"} <= shapes["gunicorn.error"]
    assert shapes["gunicorn.error"] <= shapes["feature_gateway.access"]

    changes = {
        t: metric(port, "feature_gateway_status_changes_total", trigger=t)
        for t in ("create", "submit", "test", "approve", "deploy", "fix", "delete")
    }
    assert changes == {
        "create": 2,
        "submit": 2,
        "test": 2,
        "approve": 1,
        "deploy": 1,
        "fix": 1,
        "delete": 1,
    }


@pytest.mark.slow
def test_request_ids_pass_through_nginx_both_ways(
    stack: tuple[Gunicorn, int], work_dir: Path
) -> None:
    server, port = stack

    given = call(port, "GET", "/livez", headers={"X-Request-ID": "client-chosen-7"})
    made = call(port, "GET", "/livez")

    assert given.headers["X-Request-ID"] == "client-chosen-7"
    generated = made.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)  # nginx's $request_id
    # Log lines are written after the response is sent: wait for them, briefly.
    wait_until(
        lambda: {"client-chosen-7", generated}
        <= {line.get("request_id") for line in server.log_lines()},
        timeout=5,
        what="the app's access lines",
    )
    nginx_log = work_dir / "nginx" / "access.log"
    for request_id in ("client-chosen-7", generated):
        wait_until(
            lambda: f'"request_id":"{request_id}"' in nginx_log.read_text(),  # noqa: B023
            timeout=5,
            what=f"nginx's access line for {request_id}",
        )


@pytest.mark.slow
def test_the_app_sees_the_client_address_not_a_forged_one(stack: tuple[Gunicorn, int]) -> None:
    server, port = stack
    client_ip = "127.0.0.2"  # any 127/8 address is loopback; nginx itself talks from 127.0.0.1

    call(
        port,
        "GET",
        "/livez",
        headers={"X-Forwarded-For": "6.6.6.6", "X-Request-ID": "xff-1"},
        source_ip=client_ip,
    )

    # nginx appends the address it saw; the app trusts that one hop and no more.
    def logged() -> list[dict[str, object]]:
        return [line for line in server.log_lines() if line.get("request_id") == "xff-1"]

    wait_until(lambda: bool(logged()), timeout=5, what="the app's access line")
    [line] = logged()
    assert line["remote_addr"] == client_ip


@pytest.mark.slow
def test_body_limits_of_nginx_and_app_agree(stack: tuple[Gunicorn, int]) -> None:
    _, port = stack
    limit = Settings().max_body_bytes
    padding = "x" * (limit - 1000)
    just_under = {**SEED_FEATURE, "feature_name": "nginx_view:big:1", "description": padding}

    reached_app = call(port, "POST", "/create_feature_metadata", just_under)
    too_large = call(port, "POST", "/create_feature_metadata", raw_body=b"{" + b" " * limit + b"}")

    # Under the limit the request reaches the app, which refuses the long description.
    assert reached_app.status == 422
    assert "description" in reached_app.json()["errors"]
    assert too_large.status == 413
    assert too_large.headers["Content-Type"] == "application/problem+json"
    assert too_large.json()["status"] == 413


@pytest.mark.slow
def test_metrics_add_up_over_workers_and_survive_a_worker_exit(
    stack: tuple[Gunicorn, int],
) -> None:
    server, port = stack
    before = metric(port, "feature_gateway_http_requests_total", endpoint="/livez", status="200")

    def writers() -> set[str]:
        return {p.name.rsplit("_", 1)[1] for p in server.metrics_dir.glob("counter_*.db")}

    # Which worker accepts a request is the kernel's choice: on a loaded machine 30 in a row
    # went to one. Sent until two workers have counted some (each request is answered before
    # the next is sent, so every one is counted by the worker that answered it).
    sent = 0
    while sent < 30 or (len(writers()) < 2 and sent < 3_000):
        assert call(port, "GET", "/livez").status == 200
        sent += 1

    counted = metric(port, "feature_gateway_http_requests_total", endpoint="/livez", status="200")
    assert counted - before == sent
    assert len(writers()) >= 2, f"{sent} requests should have been spread over several workers"

    def live_gauges() -> set[str]:
        return {p.name for p in server.metrics_dir.glob("gauge_livesum_*.db")}

    assert len(live_gauges()) == WORKERS
    os.kill(server.process.pid, signal.SIGTTOU)  # one worker fewer: gunicorn stops one
    wait_until(
        lambda: len(live_gauges()) == WORKERS - 1,
        timeout=15,
        what="child_exit to remove the stopped worker's live gauge",
    )

    # The stopped worker's requests still count.
    after = metric(port, "feature_gateway_http_requests_total", endpoint="/livez", status="200")
    assert after == counted
    assert metric(port, "feature_gateway_http_requests_in_progress") == 1  # this scrape


def test_nginx_body_limit_matches_the_apps_default() -> None:
    config = (PROJECT_ROOT / "deploy" / "nginx.conf").read_text()
    [size] = re.findall(r"client_max_body_size\s+(\d+)m;", config)

    assert int(size) * 1024 * 1024 == Settings().max_body_bytes
