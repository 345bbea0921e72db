"""A real gunicorn per backend for the client tests: one in trust mode, one in token mode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.client.support import TOKEN_MODE, Service
from tests.databases import BACKENDS, FreshDatabase, require_backend


def _service(request: pytest.FixtureRequest, factory: pytest.TempPathFactory, env: dict[str, str]):
    require_backend(request.param)
    folder = factory.mktemp(f"client-{request.param}")
    service = Service(FreshDatabase(request.param, folder, migrated=True), folder, env)
    return service


@pytest.fixture(scope="module", params=BACKENDS)
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """Trust mode: roles and names as each call claims them."""
    started = _service(request, tmp_path_factory, {})
    yield started
    started.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def token_service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """Token mode: who calls is the token's principal."""
    started = _service(request, tmp_path_factory, TOKEN_MODE)
    yield started
    started.stop()
