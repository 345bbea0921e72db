"""Application assembly: settings → engine → database → HTTP layer → CLI."""

from __future__ import annotations

import logging
import os
import types
from collections.abc import Callable
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from feature_gateway import __version__
from feature_gateway.api import register_api
from feature_gateway.cli_commands import register_cli
from feature_gateway.config import Settings
from feature_gateway.console import register_console
from feature_gateway.db.engine import make_engine
from feature_gateway.db.replicas import read_replica
from feature_gateway.db.scopes import Database
from feature_gateway.framework_adapter import RequestBehindProxyFlask
from feature_gateway.front_door import register_front_door
from feature_gateway.observability import json_formatter
from feature_gateway.services.identity_provider import IdentityProvider
from feature_gateway.services.usage import UsageCounter
from feature_gateway.serving import STARTUP_SAID, require_serving, startup_warnings
from feature_gateway.web import register_web
from feature_gateway.web.context import EXTENSION, Gateway
from feature_gateway.web.request_hooks import RequestIdFilter


class GatewayFlask(RequestBehindProxyFlask):
    """Flask, remembering which of the app's functions are plain ``def`` functions (and its
    per-request steps reading the request behind its proxy, ``framework_adapter``).

    Flask asks ``ensure_sync`` for every hook, view and error handler of every request,
    and each answer inspects the function's code flags again; the documented override
    point lets each function be inspected once.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._synchronous: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        known = self._synchronous.get(func)
        if known is not None:
            return known
        synchronous = super().ensure_sync(func)
        if type(func) is types.FunctionType:  # not a bound method made for one call
            self._synchronous[func] = synchronous
        return synchronous


def build_app(overrides: dict[str, Any] | None = None, *, serving: bool = True) -> Flask:
    """The app; ``serving=False`` for the CLI, which serves no request: it needs no console
    signing key and says nothing about how a server would answer (``feature_gateway.serving``).
    """
    overrides = dict(overrides or {})
    settings = Settings.from_env().with_overrides(overrides)
    if serving:
        require_serving(settings)
    configure_logging(settings.log_level)
    app = GatewayFlask("feature_gateway", static_folder=None)  # no static files but /docs assets
    app.config["API_VERSION"] = __version__
    app.config.update({k: v for k, v in overrides.items() if k.isupper()})
    database = overrides.get("database") or _database(settings)
    usage = UsageCounter(settings.usage_flush_s)
    provider = overrides.get("identity_provider") or IdentityProvider.from_settings(settings)
    app.extensions[EXTENSION] = Gateway(settings, database, usage, provider)
    register_web(app, settings)
    register_api(app, token_mode=settings.token_mode, sign_on=settings.oidc_enabled)
    register_console(app, settings)
    register_front_door(app)
    if serving and not os.environ.get(STARTUP_SAID):  # gunicorn's master said them already
        logger = logging.getLogger("feature_gateway")
        for level, message in startup_warnings(settings):
            logger.log(level, message, extra={"auth_mode": settings.auth_mode})
    if settings.trusted_proxy_count:
        # Only the last N hops of X-Forwarded-For/-Proto were written by our own proxies;
        # anything further left came from the client and is ignored.
        n = settings.trusted_proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    register_cli(app)
    return app


def on_worker_exit(app: Flask) -> None:
    """What a worker does on its way out (gunicorn's ``worker_exit`` hook): write the read
    counts it has not flushed yet (SPEC §13)."""
    gateway = app.extensions.get(EXTENSION)
    if isinstance(gateway, Gateway):
        gateway.usage.stop()


def _database(settings: Settings) -> Database:
    """The primary's engine, and the read replica's when there is one (SPEC §15)."""
    engine = make_engine(settings)
    return Database(engine, replica=read_replica(settings, engine))


def configure_logging(level: str) -> None:
    """JSON lines on stderr for everything under the ``feature_gateway`` logger."""
    logger = logging.getLogger("feature_gateway")
    # sqlglot logs a warning each time it falls back to an opaque Command (how it parses
    # "VACUUM" or "EXPLAIN"); the 422 we answer already says what is wrong with the query.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    logger.setLevel(level.upper())
    if not any(getattr(h, "_feature_gateway", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(json_formatter())
        handler.addFilter(RequestIdFilter())
        handler._feature_gateway = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
