"""Schemathesis against the app in token mode (SPEC §7), with a token carrying every role.

Every check of ``test_fuzzing`` (zero 5xx, every response as documented) on the token-mode
document, whose identity fields are optional and whose operations answer 401 and 403 too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from feature_gateway import create_app
from feature_gateway.services import tokens
from tests.conftest import TEST_SECRET_KEY
from tests.contract.fuzzing import publish_report, run_fuzzing, seed_features
from tests.contract.openapi_contract import Contract
from tests.databases import BACKENDS, FreshDatabase, close_app, require_backend

EVERY_ROLE = ("developer", "approver", "external_testing_system", "admin")


@pytest.fixture(params=BACKENDS)
def token_fuzz_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    require_backend(request.param)
    fresh = FreshDatabase(request.param, tmp_path, migrated=True)
    try:
        seeding = create_app({"database_url": fresh.url, "log_level": "WARNING"})
        seed_features(seeding)  # by dev and qa, in trust mode: the fuzzer may approve them
        close_app(seeding)
        app = create_app(
            {"database_url": fresh.url, "log_level": "WARNING", "auth_mode": "token",
             "secret_key": TEST_SECRET_KEY}
        )  # fmt: skip
        app.config["FUZZ_BACKEND"] = request.param
        yield app
        close_app(app)
    finally:
        fresh.drop()


@pytest.mark.fuzz
def test_no_input_breaks_the_service_in_token_mode(
    token_fuzz_app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = token_fuzz_app.config["FUZZ_BACKEND"]
    database = token_fuzz_app.extensions["feature_gateway"].database
    current: list[str] = []

    def valid_token() -> str:
        """The fuzzer's token; a new one once fuzzing has revoked it."""
        if current:
            with database.reading() as uow:
                row = uow.tokens.credentials(current[-1].split("_")[1])
            if row is not None and row.revoked_time is None:
                return current[-1]
        issued = tokens.create_token(
            database, principal="fuzzer", roles=EVERY_ROLE, created_by="test"
        )
        current.append(issued.token)
        return issued.token

    # The coverage phase's boundary and invalid values meet the same schemas as in trust
    # mode (test_fuzzing runs it); here the examples, random and stateful phases, each
    # request with a token. It was 70-90 s of the run on a slow 2-core machine.
    report = run_fuzzing(token_fuzz_app, backend, bearer_token=valid_token, coverage=False)

    contract = Contract(token_fuzz_app.test_client().get("/openapi.json").get_json())
    documented = publish_report(report, contract, f"schemathesis-token-{backend}", capsys)

    assert set(report.stats) == set(documented), "Schemathesis did not see every operation"
    # The token went with the requests: every operation answered something but 401.
    unauthenticated = [op for op, s in report.stats.items() if not set(s.statuses) - {401, 405}]
    assert not unauthenticated, f"only 401s for {unauthenticated}"
    assert not report.errors, "\n".join(report.errors)
    assert not report.failures, "\n".join(report.failures)
