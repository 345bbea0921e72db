"""Feast's own client reads values from a running gunicorn (SPEC §13), on both databases,
in trust and token mode.

Feast runs in a subprocess with the interpreter of ``.feast-venv`` (``make feast-venv``,
run here when it is missing; never a dependency of the service). The ``feature_store.yaml``
and the Python snippet are docs/feature-values.md's own blocks, so the page shows what runs;
a second script reads through ``RemoteOnlineStore.online_read`` too, the path that parses the
RFC 3339 timestamps. Every value must equal ``POST /features``' for the same inputs.
"""

from __future__ import annotations

import ast
import fcntl
import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from feature_gateway.api.features.schemas import FeatureRecordSchema
from feature_gateway.config import PROJECT_ROOT, Settings
from feature_gateway.db.engine import make_engine
from feature_gateway.db.scopes import Database
from feature_gateway.services import tokens
from feature_gateway.services.transfer import import_features
from tests.conftest import TEST_SECRET_KEY
from tests.databases import FreshDatabase, require_backend
from tests.deploy.support import find_binary
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow
PAGE = PROJECT_ROOT / "docs" / "feature-values.md"
FEAST_PYTHON = PROJECT_ROOT / ".feast-venv" / "bin" / "python"
SERVED = {  # what the documented snippet reads, by the names it asks for
    "driver_hourly_stats:conv_rate:1": ("batch", "float", "DEPLOYED"),
    "driver_hourly_stats:acc_rate:1": ("batch", "double", "DEPLOYED"),
    "driver_hourly_stats:acc_rate:2": ("batch", "double", "DEPRECATED"),
    "driver_hourly_stats:acc_rate:3": ("batch", "double", "DRAFT"),
}
ROWS = ["D001", "D002"]
SEPARATOR = "--- online_read ---"

ONLINE_READ = """
import json, sys
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.infra.online_stores.remote import RemoteOnlineStore
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from feast.types import Float64

store = FeatureStore(repo_path=".")
driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.STRING)
view = FeatureView(
    name="driver_hourly_stats", entities=[driver],
    schema=[Field(name="conv_rate", dtype=Float64), Field(name="acc_rate", dtype=Float64)],
    source=FileSource(path="unused.parquet", timestamp_field="event_timestamp"),
)
keys = [EntityKey(join_keys=["driver_id"], entity_values=[Value(string_val=d)])
        for d in sys.argv[1:]]
rows = RemoteOnlineStore().online_read(store.config, view, keys, ["conv_rate", "acc_rate"])
print(json.dumps([[ts.isoformat(), {name: value.double_val for name, value in values.items()}]
                  for ts, values in rows]))
"""


def _blocks(language: str) -> list[str]:
    tokens = MarkdownIt("commonmark").parse(PAGE.read_text("utf-8"))
    return [t.content for t in tokens if t.type == "fence" and t.info.strip() == language]


def documented_repository(folder: Path, url: str, *, token_mode: bool) -> str:
    """The page's feature_store.yaml (plus its auth block in token mode) pointed at ``url``,
    written to ``folder``; returns the page's Python snippet."""
    [store, auth] = [b for b in _blocks("yaml") if "online_store" in b or "auth:" in b]
    text = store.replace("http://localhost:8000", url) + (auth if token_mode else "")
    (folder / "feature_store.yaml").write_text(text)
    [snippet] = [b for b in _blocks("python") if "from feast import FeatureStore" in b]
    return snippet


@pytest.fixture(scope="session")
def feast_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``.feast-venv``'s interpreter, built by ``make feast-venv`` once (one builder at a
    time across test processes)."""
    make = find_binary("make", required_in_ci=True)
    with (PROJECT_ROOT / ".feast-venv.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = subprocess.run([make, "--no-print-directory", "feast-venv"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=900)  # fmt: skip
    if built.returncode != 0:
        message = f"make feast-venv failed: {built.stderr[-2000:]}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return FEAST_PYTHON


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    require_backend(request.param)
    database = FreshDatabase(
        request.param, tmp_path_factory.mktemp(f"feast-{request.param}"), migrated=True
    )
    records = [
        {"feature_name": name, "feature_type": kind, "feature_data_type": data_type,
         "status": status, "query": "SELECT 1", "description": "read by Feast",
         "created_by": "dev"}
        for name, (kind, data_type, status) in SERVED.items()
    ]  # fmt: skip
    engine = make_engine(Settings(database_url=database.url))
    try:
        import_features(
            Database(engine), FeatureRecordSchema(many=True).load(records), source="test"
        )
    finally:
        engine.dispose()
    yield database.url
    database.drop()


def _token(url: str) -> str:
    engine = make_engine(Settings(database_url=url))
    try:
        created = tokens.create_token(Database(engine), principal="ranker",
                                      roles=["developer"], created_by="test")  # fmt: skip
        return created.token
    finally:
        engine.dispose()


def _run_feast(python: Path, folder: Path, script: str, *args: str, env: dict[str, str]) -> str:
    ran = subprocess.run([str(python), "-c", script, *args], cwd=folder, capture_output=True,
                         text=True, timeout=180, env={**os.environ, **env})  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    return ran.stdout


def _post_features(server: LiveServer, names: list[str], at: int, headers: dict[str, str]) -> Any:
    body = {"features": names, "entities": {"driver_id": ROWS}, "event_timestamp": at}
    status, answer = server.request("POST", "/features", body, headers)
    assert status == 200, answer
    return [column["values"] for column in answer["results"][1:]]


def _today_ms() -> int:
    now = time.time_ns() // 1_000_000
    return now - now % 86_400_000


@pytest.mark.parametrize("mode", ["trust", "token"])
def test_feasts_remote_online_store_reads_the_values_of_post_features(
    feast_python: Path, served: str, mode: str, tmp_path: Path
) -> None:
    env = {"AUTH_MODE": mode, "SECRET_KEY": TEST_SECRET_KEY}
    server = LiveServer(served, workers=2, log_path=tmp_path / "gunicorn.log", extra_env=env)
    try:
        token = _token(served) if mode == "token" else ""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        snippet = documented_repository(tmp_path, server.base_url, token_mode=mode == "token")
        feast_env = {"FEATURE_GATEWAY_TOKEN": token} if token else {}
        day = _today_ms()

        # One interpreter for both (importing feast takes seconds): the page's snippet, then
        # online_read.
        script = f"{snippet}\nprint({SEPARATOR!r})\n{ONLINE_READ}"
        printed, read = _run_feast(feast_python, tmp_path, script, *ROWS, env=feast_env).split(
            SEPARATOR
        )
        expected = _post_features(
            server, ["driver_hourly_stats:conv_rate:1", "driver_hourly_stats:acc_rate:2"], day,
            headers,
        )  # fmt: skip
        latest_acc = _post_features(server, ["driver_hourly_stats:acc_rate:2"], day, headers)
    finally:
        server.stop()

    assert ast.literal_eval(printed.strip().splitlines()[-1]) == {
        "driver_id": ROWS,
        "conv_rate": expected[0],
        "acc_rate": expected[1],
    }
    # online_read asks for view:feature, the served version with the highest number (2:
    # 3 is a draft), and parses the batch features' timestamps, today's UTC midnight.
    rows = json.loads(read)
    assert [values for _, values in rows] == [
        {"conv_rate": expected[0][i], "acc_rate": latest_acc[0][i]} for i in range(len(ROWS))
    ]
    assert {timestamp for timestamp, _ in rows} == {
        datetime.fromtimestamp(day / 1000, UTC).isoformat()
    }
