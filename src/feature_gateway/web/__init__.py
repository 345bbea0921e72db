"""The app-wide request plumbing both front doors stand on (the API and the console).

The composition root (``feature_gateway.app``) wires it before either door: the app's
handles (``context``), who may call without a credential (``access``), who the caller is
and which role they act in (``caller``), and the hooks every request passes: its id, the
body checks, the access log and metrics (``request_hooks``); JSON is written by orjson.
"""

from __future__ import annotations

from flask import Flask

from feature_gateway.config import Settings
from feature_gateway.framework_adapter import OrjsonProvider
from feature_gateway.web.request_hooks import register_request_hooks


def register_web(app: Flask, settings: Settings) -> None:
    """What every request and response passes, registered before either door's own: the
    request hooks, and JSON written by orjson."""
    app.json = OrjsonProvider(app)
    register_request_hooks(app, settings.max_body_bytes, token_mode=settings.token_mode)
