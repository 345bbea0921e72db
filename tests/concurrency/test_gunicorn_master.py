"""What gunicorn's master does to the libraries before it forks (``gunicorn.conf.py``: their
docstrings forgotten, SPEC §6 memory) changes nothing a worker answers: the OpenAPI
document it serves is the one the app built in process serves (flask-smorest makes it of
the service's own docstrings), and a create, a keyed create, a read and a list page are
answered as always."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from alembic import command

from feature_gateway import create_app
from feature_gateway.db.migrations import alembic_config
from tests.conftest import SEED_FEATURE
from tests.databases import FreshDatabase
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    tmp = tmp_path_factory.mktemp("gunicorn-master")
    fresh = FreshDatabase("sqlite", tmp)
    config = alembic_config(fresh.url)
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")
    live = LiveServer(fresh.url, workers=1, log_path=tmp / "gunicorn.log")
    yield live, fresh.url
    live.stop()
    fresh.drop()


def test_a_worker_serves_the_openapi_document_the_app_makes_in_process(
    served: tuple[LiveServer, str],
) -> None:
    server, url = served
    in_process = create_app({"database_url": url}).test_client().get("/openapi.json")

    status, body = server.raw_request("GET", "/openapi.json")

    assert status == 200
    assert json.loads(body) == in_process.get_json()
    assert server.raw_request("GET", "/docs")[0] == 200


def test_a_worker_answers_writes_and_reads(served: tuple[LiveServer, str]) -> None:
    server, _ = served
    name = "master:docstrings:1"

    assert (
        server.request("POST", "/create_feature_metadata", {**SEED_FEATURE, "feature_name": name})[
            0
        ]
        == 201
    )
    keyed = {**SEED_FEATURE, "feature_name": "master:docstrings:2"}
    assert (
        server.request("POST", "/create_feature_metadata", keyed, {"Idempotency-Key": "k1"})[0]
        == 201
    )
    status, found = server.request("GET", f"/get_feature_metadata/{name}?user_role=developer")
    assert (status, found["metadata"]["feature_name"]) == (200, name)
    status, page = server.request("GET", "/get_all_feature_metadata?user_role=developer")
    assert (status, page["total_count"]) == (200, 2)
