"""Schemathesis against the app on every operation: zero 5xx, every response as documented.

Marked ``fuzz`` (about 1 min per run on 2 cores at the suite's 10 examples): deselect with
``-m "not fuzz"`` for a quick run. The summary is printed and kept in artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from feature_gateway import create_app
from tests.contract.fuzzing import publish_report, run_fuzzing, seed_features
from tests.contract.openapi_contract import Contract
from tests.databases import BACKENDS, FreshDatabase, close_app, require_backend


@pytest.fixture(params=BACKENDS)
def fuzz_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """The app on a fresh, migrated database of its own: fuzzing commits for real."""
    require_backend(request.param)
    fresh = FreshDatabase(request.param, tmp_path, migrated=True)
    try:
        app = create_app({"database_url": fresh.url, "log_level": "WARNING"})
        app.config["FUZZ_BACKEND"] = request.param
        yield app
        close_app(app)
    finally:
        fresh.drop()


@pytest.mark.fuzz
def test_no_input_breaks_the_service_or_its_documented_contract(
    fuzz_app: Flask,
    contract: Contract,
    capsys: pytest.CaptureFixture[str],
) -> None:
    backend = fuzz_app.config["FUZZ_BACKEND"]
    seed_features(fuzz_app)
    report = run_fuzzing(fuzz_app, backend)

    documented = publish_report(report, contract, f"schemathesis-{backend}", capsys)

    assert set(report.stats) == set(documented), "Schemathesis did not see every operation"
    assert all(stats.cases > 0 for stats in report.stats.values()), "an operation went untested"
    assert not report.errors, "\n".join(report.errors)
    assert not report.failures, "\n".join(report.failures)
