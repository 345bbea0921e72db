"""The console's session: a signed cookie (SPEC §10), scoped to the console's paths.

HttpOnly (no script reads it), SameSite=Lax, Secure whenever the request came over https
(directly, or through the trusted proxies' X-Forwarded-Proto, see TRUSTED_PROXY_COUNT),
Path /console, 8 hours. The lifetime is enforced twice: the cookie's expiry, and the signed
sign-in time checked on every request (``console.identity``), so re-signing the cookie
(a flash message, a CSRF token) never stretches a session past 8 hours.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Request, has_request_context, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

CONSOLE_PATH = "/console"
SESSION_LIFETIME = timedelta(hours=8)
SESSION_COOKIE_NAME = "fmg_console"


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, opened for console requests only: an API request
    never reads or writes a session (no cookie, no signing cost)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not _under_console(request.path):
            return None  # Flask hands the request a null session instead
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        configured = bool(app.config["SESSION_COOKIE_SECURE"])
        return configured or (has_request_context() and request.is_secure)


def _under_console(path: str) -> bool:
    return path == CONSOLE_PATH or path.startswith(CONSOLE_PATH + "/")


def configure_sessions(app: Flask) -> None:
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE_NAME,
        SESSION_COOKIE_PATH=CONSOLE_PATH,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        # A form left open is still accepted while its session lasts.
        WTF_CSRF_TIME_LIMIT=int(SESSION_LIFETIME.total_seconds()),
    )
    app.session_interface = ConsoleSessionInterface()
