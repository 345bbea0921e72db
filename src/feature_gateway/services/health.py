"""Whether the service can do its work: the database answers."""

from __future__ import annotations

from feature_gateway.db.unit_of_work import Database
from feature_gateway.errors import DatabaseUnavailableError


def database_is_reachable(database: Database) -> bool:
    try:
        database.ping()
    except DatabaseUnavailableError:
        return False
    return True
