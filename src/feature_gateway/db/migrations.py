"""This release's schema migrations (Alembic, in ``migrations/`` at the project root): the
configuration that points them at a database, for ``feature-gateway migrate``, the check
that a database is migrated before a command uses it, and the tests."""

from __future__ import annotations

from typing import Any

from feature_gateway.config import PROJECT_ROOT


def alembic_config(database_url: str) -> Any:
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config
