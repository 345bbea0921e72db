"""Settings read once from the environment (12-factor)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'data' / 'feature_gateway.db'}"


# AUTH_MODE: "trust" takes the role and actor names a request claims (the seed's behaviour,
# for the embedded quick start); "token" requires an API token on every request (SPEC §7).
AUTH_MODES = ("trust", "token")

# Shorter keys can be guessed; token_urlsafe(32) gives 43 characters.
MIN_SECRET_KEY_LENGTH = 32

# Counts where 0 is meaningful: no trusted proxy, no connections beyond the pool.
_MAY_BE_ZERO = frozenset({"trusted_proxy_count", "db_max_overflow"})


class ConfigError(ValueError):
    """An environment variable holds a value the service cannot use."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    log_level: str = "INFO"
    auth_mode: str = "trust"
    max_body_bytes: int = 2 * 1024 * 1024
    max_features_per_request: int = 1_000
    max_entity_rows_per_request: int = 10_000
    max_values_per_request: int = 1_000_000
    # Both below gunicorn's 30 s worker timeout: a request waiting for a lock or a
    # connection gets a 503 before its worker is killed.
    sqlite_busy_timeout_ms: int = 10_000
    db_pool_size: int = 5
    db_max_overflow: int = 10
    db_pool_timeout_s: int = 10
    # Bounds how long a request (and /health) waits for an unreachable PostgreSQL host.
    db_connect_timeout_s: int = 5
    # How many reverse proxies (nginx, a load balancer) stand in front of the service and
    # append to X-Forwarded-For/-Proto; 0 ignores those headers (clients can forge them).
    trusted_proxy_count: int = 0
    # prometheus_client's own variable: set, every worker writes its metrics to files there
    # and /metrics adds up all workers (gunicorn.conf.py sets it). Empty: one process.
    prometheus_multiproc_dir: str = ""
    # Signs the review console's session cookies (and its CSRF tokens). Required in token
    # mode, where a session stands for a verified principal; never shown by repr().
    secret_key: str = dataclass_field(default="", repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = env.get(field.name.upper())
            if raw is None or raw == "":
                continue
            if field.type == "int":
                try:
                    values[field.name] = int(raw)
                except ValueError as exc:
                    raise ConfigError(
                        f"{field.name.upper()} must be an integer, got {raw!r}"
                    ) from exc
            else:
                values[field.name] = raw
        settings = cls(**values)
        settings.validate()
        return settings

    def with_overrides(self, overrides: Mapping[str, Any]) -> Settings:
        known = {f.name for f in fields(self)}
        settings = replace(self, **{k: v for k, v in overrides.items() if k in known})
        settings.validate()
        return settings

    def validate(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.type != "int":
                continue
            if field.name in _MAY_BE_ZERO:
                if value < 0:
                    raise ConfigError(f"{field.name.upper()} must not be negative, got {value}")
            elif value <= 0:
                raise ConfigError(f"{field.name.upper()} must be positive, got {value}")
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ConfigError(f"LOG_LEVEL must be a logging level name, got {self.log_level!r}")
        if self.auth_mode not in AUTH_MODES:
            raise ConfigError(
                f"AUTH_MODE must be one of {', '.join(AUTH_MODES)}, got {self.auth_mode!r}"
            )
        if self.token_mode and len(self.secret_key.strip()) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                "SECRET_KEY is required with AUTH_MODE=token: the review console signs its "
                f"session cookies with it. Set it to a random string of at least "
                f"{MIN_SECRET_KEY_LENGTH} characters, the same on every worker and host, e.g. "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        metrics_dir = self.prometheus_multiproc_dir
        if metrics_dir and not (os.path.isdir(metrics_dir) and os.access(metrics_dir, os.W_OK)):
            raise ConfigError(
                f"PROMETHEUS_MULTIPROC_DIR must be a writable directory, got {metrics_dir!r}"
            )

    @property
    def token_mode(self) -> bool:
        return self.auth_mode == "token"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
