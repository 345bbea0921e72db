"""What serving the app needs, and what a server says once when it starts.

Only serving needs ``SECRET_KEY`` in token mode (the review console signs its sessions with
it): the CLI and the migrations serve no console and start without it. The warnings about
trust mode are said where they matter, when a server starts, and once per server: gunicorn's
master checks the settings and says them before it forks (``gunicorn.conf.py``) and marks
the environment (``STARTUP_SAID``), so its workers stay quiet; an app served another way
says them itself when it is built (``create_app``).

This module imports nothing but the standard library and ``config``: gunicorn's master
imports it and forgets it again, so that a HUP still loads a new release of the service.
"""

from __future__ import annotations

import logging

from feature_gateway.config import MIN_SECRET_KEY_LENGTH, ConfigError, Settings

# Set by gunicorn's master once it has checked the settings and said the warnings.
STARTUP_SAID = "FEATURE_GATEWAY_STARTUP_SAID"


def require_serving(settings: Settings) -> None:
    """ConfigError unless ``settings`` can serve: in token mode, a console signing key."""
    if settings.token_mode and len(settings.secret_key.strip()) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(
            "SECRET_KEY is required to serve with AUTH_MODE=token: the review console signs "
            f"its session cookies with it. Set it to a random string of at least "
            f"{MIN_SECRET_KEY_LENGTH} characters, the same on every worker and host, e.g. "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))' "
            "(the CLI and migrations do not need it)"
        )


def startup_warnings(settings: Settings) -> list[tuple[int, str]]:
    """(level, message) for each thing a server's operator must hear when it starts."""
    if settings.token_mode:
        return []
    said = [(logging.WARNING, TRUST_MODE_WARNING)]
    if settings.trusted_proxy_count:
        said.append((logging.CRITICAL, _unauthenticated_behind(settings.trusted_proxy_count)))
    if not settings.secret_key:
        said.append((logging.WARNING, PER_PROCESS_CONSOLE_KEY_WARNING))
    return said


TRUST_MODE_WARNING = (
    "AUTH_MODE=trust: roles and actor names are taken as each request claims them, "
    "unverified; set AUTH_MODE=token for API tokens (see docs/identity.md)"
)
PER_PROCESS_CONSOLE_KEY_WARNING = (
    "SECRET_KEY is not set: the review console signs its sessions with a key of this "
    "process, so they end when it restarts and are not shared by other processes; "
    "set SECRET_KEY (see docs/console.md)"
)


def _unauthenticated_behind(proxies: int) -> str:
    # A proxy in front means the service is reachable the way production services are.
    return (
        f"UNAUTHENTICATED IN PRODUCTION SHAPE: AUTH_MODE=trust behind reverse proxies "
        f"(TRUSTED_PROXY_COUNT={proxies}): anyone who reaches this service can act as anyone, "
        "approver included. Set AUTH_MODE=token and SECRET_KEY (docs/deployment.md)"
    )
