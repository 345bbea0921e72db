"""The review console (SPEC §10): server-rendered pages for the people in the workflow.

A Flask blueprint at ``/console/`` on the same services as the API (``services.features``,
``services.workflow.fire_trigger``, ``services.catalog``), so every rule (roles,
separation of duties, revisions, 409s) is the API's own. Sessions are signed cookies
(``console.session``); every form carries a CSRF token (Flask-WTF's ``CSRFProtect``,
applied to the console only: the JSON API is never subject to it).
"""

from __future__ import annotations

import secrets

from flask import Flask

from feature_gateway.config import Settings
from feature_gateway.console.blueprint import blueprint, csrf
from feature_gateway.console.session import configure_sessions
from feature_gateway.console.views import (
    comments,
    create,
    feature,
    lists,
    sign_in,
    single_sign_on,
)

# The page groups: each declares its routes on the blueprint as it is imported.
PAGE_GROUPS = (sign_in, single_sign_on, lists, create, feature, comments)


def register_console(app: Flask, settings: Settings) -> None:
    # Without a key (trust mode, or a CLI command, which serves no page) sessions are signed
    # with one of this process; a server says so when it starts (feature_gateway.serving).
    app.config["SECRET_KEY"] = settings.secret_key or secrets.token_urlsafe(32)
    configure_sessions(app)
    # Forms are checked by the console's own hook (blueprint._protect_forms), not app-wide.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    app.register_blueprint(blueprint)
