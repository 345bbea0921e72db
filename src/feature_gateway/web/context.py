"""What a request handler of either front door needs from the application: the settings
and the database handle, built once per process and kept in ``app.extensions``.

The app is taken from ``current_app`` by werkzeug's ``LocalProxy._get_current_object()``:
an attribute the proxy does not define (``extensions``) is looked up on the proxy first,
fails, and is found through its ``__getattr__``, an ``AttributeError`` made and dropped each
time, about 8.7 K instructions against 1.8 K (docs/performance.md, "i29-serving")."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from feature_gateway.config import Settings
from feature_gateway.db.scopes import Database
from feature_gateway.services.identity_provider import IdentityProvider
from feature_gateway.services.usage import UsageCounter

EXTENSION = "feature_gateway"


@dataclass(frozen=True)
class Gateway:
    """What the app keeps in ``app.extensions``: built once per process, after fork."""

    settings: Settings
    database: Database
    usage: UsageCounter  # this process's read counts (SPEC §13)
    # The OpenID Connect provider, its discovery and keys cached (SPEC §12); None when off.
    identity_provider: IdentityProvider | None = None


def gateway() -> Gateway:
    return current_app._get_current_object().extensions[EXTENSION]  # type: ignore[attr-defined,no-any-return]


def settings() -> Settings:
    return current_app._get_current_object().extensions[EXTENSION].settings  # type: ignore[attr-defined,no-any-return]


def identity_provider() -> IdentityProvider | None:
    """The process's OpenID Connect provider (None without OIDC_ISSUER): the API checks
    JWTs with it, the console's sign-on its ID tokens."""
    return current_app._get_current_object().extensions[EXTENSION].identity_provider  # type: ignore[attr-defined,no-any-return]


def database() -> Database:
    """The application's database, the same for every request. (A keyed write's view is
    handed the one of its request's transaction instead, as ``db``: ``api.idempotency``.)"""
    return current_app._get_current_object().extensions[EXTENSION].database  # type: ignore[attr-defined,no-any-return]
