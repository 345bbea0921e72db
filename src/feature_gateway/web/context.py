"""What a request handler of either front door needs from the application: the settings
and the database handle, built once per process and kept in ``app.extensions``."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g

from feature_gateway.config import Settings
from feature_gateway.db.unit_of_work import Database
from feature_gateway.services.usage import UsageCounter

EXTENSION = "feature_gateway"
# Where api.idempotency puts the Database of the request's transaction, in ``flask.g``.
REQUEST_DATABASE = "request_database"


@dataclass(frozen=True)
class Gateway:
    """What the app keeps in ``app.extensions``: built once per process, after fork."""

    settings: Settings
    database: Database
    usage: UsageCounter  # this process's read counts (SPEC §13)


def gateway() -> Gateway:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def settings() -> Settings:
    return current_app.extensions[EXTENSION].settings  # type: ignore[no-any-return]


def database() -> Database:
    """The database the request works on: inside a keyed write (``api.idempotency``) the
    request's own transaction, which its units of work join."""
    joined = g.get(REQUEST_DATABASE)
    if joined is not None:
        return joined  # type: ignore[no-any-return]
    return current_app.extensions[EXTENSION].database  # type: ignore[no-any-return]
