"""A full disk under SQLite: writes answer 503 with a clear detail and write nothing, reads
keep working, and writes work again by themselves once space is freed (no restart).

The database lives on a small tmpfs mounted for the test, filled up with a filler file, so
this needs root (CI runs as root, where the test is mandatory); elsewhere it is skipped.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from feature_gateway import create_app
from tests.conftest import SEED_FEATURE
from tests.databases import close_app, migrated_sqlite
from tests.live_server import LiveServer

DISK_SIZE = "4m"
IN_CI = os.environ.get("CI", "").lower() == "true"
GET = "?user_role=developer"


def _cannot_run(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; CI runs as root and requires this test")
    pytest.skip(reason)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        _cannot_run("mounting a tmpfs needs root")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        _cannot_run(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path) -> Path:
    """A file taking every byte left on ``disk``."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        for chunk in (64 * 1024, 1024, 1):
            try:
                while True:
                    out.write(b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    return filler


def create(server: LiveServer, name: str) -> tuple[int, dict]:
    return server.request(
        "POST", "/create_feature_metadata", {**SEED_FEATURE, "feature_name": name}
    )


def submit(server: LiveServer, name: str) -> tuple[int, dict]:
    return server.request(
        "POST",
        "/ready_test_feature_metadata",
        {"feature_name": name, "submitted_by": "dev", "user_role": "developer"},
    )


def audit_verify(url: str) -> tuple[int, str]:
    app = create_app({"database_url": url, "log_level": "ERROR"})
    try:
        result = app.test_cli_runner().invoke(args=["audit", "verify"])
    finally:
        close_app(app)
    return result.exit_code, result.output


@pytest.mark.slow
def test_a_full_disk_refuses_writes_with_503_keeps_reads_and_recovers_by_itself(
    small_disk, tmp_path
):
    url = migrated_sqlite(small_disk / "gateway.db")
    server = LiveServer(url, workers=2, log_path=tmp_path / "gunicorn.log")
    try:
        stored = [f"disk_view:stored_{i}:1" for i in range(3)]
        for name in stored:
            assert create(server, name)[0] == 201
        assert submit(server, stored[0])[0] == 200
        filler = fill(small_disk)

        refused = [f"disk_view:refused_{i}:1" for i in range(3)]
        for write in [lambda n=n: create(server, n) for n in refused] + [
            lambda: submit(server, stored[1])
        ]:
            status, body = write()
            assert status == 503, body
            assert body["detail"].startswith("The database storage is full")
            assert "sqlite" not in str(body).lower()
            assert "error" not in body["detail"].lower()
        raw = server.raw_request("POST", "/create_feature_metadata", {**SEED_FEATURE})
        assert raw[0] == 503

        # Reads still work, and nothing of the refused writes is there.
        for name in stored:
            status, body = server.request("GET", f"/get_feature_metadata/{name}{GET}")
            assert status == 200
        assert (
            server.request("GET", f"/get_feature_metadata/{stored[1]}{GET}")[1]["metadata"][
                "status"
            ]
            == "DRAFT"
        )
        for name in refused:
            assert server.request("GET", f"/get_feature_metadata/{name}{GET}")[0] == 404
        history = server.request("GET", f"/features/{stored[1]}/history{GET}")[1]
        assert [entry["trigger"] for entry in history["history"]] == ["create"]
        assert audit_verify(url)[0] == 0

        filler.unlink()
        for name in refused:
            assert create(server, name)[0] == 201
        assert submit(server, stored[1])[0] == 200
    finally:
        server.stop()
    code, output = audit_verify(url)
    assert code == 0, output
    assert output.startswith("audit trail whole: 6 features, 8 history entries")


def test_the_storage_full_answer_carries_retry_after(small_disk, tmp_path):
    url = migrated_sqlite(small_disk / "gateway.db")
    app = create_app({"database_url": url, "log_level": "ERROR", "TESTING": True})
    try:
        client = app.test_client()
        assert client.post("/create_feature_metadata", json=SEED_FEATURE).status_code == 201
        with contextlib.ExitStack() as cleanup:
            cleanup.callback(fill(small_disk).unlink)
            response = client.post(
                "/create_feature_metadata",
                json={**SEED_FEATURE, "feature_name": "disk_view:late:1"},
            )
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "30"
        assert response.content_type == "application/problem+json"
        assert response.get_json()["title"] == "Service Unavailable"
    finally:
        close_app(app)
