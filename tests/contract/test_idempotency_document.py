"""Every writing POST documents Idempotency-Key (SPEC §11); the POST reads do not take it.

Which POSTs write is not listed by hand in the service: every POST route is a keyed write
unless it is declared ``reads_only``. This test holds the other side: the set of POSTs
without the header is exactly the reads, so a writing endpoint declared as a read (or a
new read) is noticed here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from feature_gateway import create_app
from feature_gateway.api.idempotency import IDEMPOTENCY_KEY_PARAMETER
from feature_gateway.web.access import is_console
from tests.conftest import TEST_SECRET_KEY
from tests.databases import close_app

# The POSTs that read: a retry is safe as it is, so the header is ignored there.
READS = {
    "/get_feature_metadata",
    "/get_all_feature_metadata",
    "/get_feature_history",
    "/features",
    "/get-online-features",
}


def _keyed(operation: dict[str, Any]) -> bool:
    return any(
        p.get("in") == "header" and p.get("name") == "Idempotency-Key"
        for p in operation.get("parameters", [])
    )


# In trust mode the token and webhook endpoints answer 403 whatever the request (SPEC §7).
TOKEN_MODE_ONLY = ("/tokens", "/webhooks")


@pytest.fixture(scope="module", params=["trust", "token"])
def mode_document(request, tmp_path_factory) -> Iterator[tuple[str, dict[str, Any]]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('idem-docs') / 'unused.db'}"
    app = create_app(
        {
            "database_url": url,
            "auth_mode": request.param,
            "secret_key": TEST_SECRET_KEY,
            "TESTING": True,
        }
    )
    yield request.param, app.test_client().get("/openapi.json").get_json()
    close_app(app)


def test_every_writing_post_documents_the_key_with_its_409_and_422(mode_document):
    mode, document = mode_document
    posts = {path: ops["post"] for path, ops in document["paths"].items() if "post" in ops}
    writes = {path for path in posts if path not in READS}
    assert {"/create_feature_metadata", "/approve_feature_metadata", "/tokens"} <= writes
    for path in writes:
        operation = posts[path]
        assert _keyed(operation), f"POST {path} does not document Idempotency-Key"
        parameter = next(p for p in operation["parameters"] if p.get("name") == "Idempotency-Key")
        assert parameter == IDEMPOTENCY_KEY_PARAMETER and parameter["description"]
        assert parameter["schema"]["maxLength"] == 255
        if mode == "token" or not path.startswith(TOKEN_MODE_ONLY):
            assert {"409", "422"} <= set(operation["responses"]), path


def test_the_post_reads_take_no_key(document):
    for path in READS:
        assert not _keyed(document["paths"][path]["post"]), path


def test_every_post_route_of_the_app_is_in_the_document(docs_app: Flask, document):
    # The console's forms are HTML pages, not API operations (tests/console covers them).
    post_rules = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for rule in docs_app.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and not is_console(rule.endpoint)
    }
    documented = {path for path, ops in document["paths"].items() if "post" in ops}
    assert post_rules == documented
