"""Settings read once from the environment (12-factor)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from dataclasses import fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from feature_gateway.domain.lifecycle import Role
from feature_gateway.domain.text import name_problem
from feature_gateway.domain.usage import DEFAULT_QUIET_DAYS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'data' / 'feature_gateway.db'}"


# AUTH_MODE: "trust" takes the role and actor names a request claims (the seed's behaviour,
# for the embedded quick start); "token" requires an API token on every request (SPEC §7).
AUTH_MODES = ("trust", "token")

# Shorter keys can be guessed; token_urlsafe(32) gives 43 characters.
MIN_SECRET_KEY_LENGTH = 32

# A webhook attempt's whole deadline (WEBHOOK_TIMEOUT_S) at most: the claim's lease is
# derived from it (webhook_lease_ms) and must stay a time a timer and the database can hold.
MAX_WEBHOOK_TIMEOUT_S = 3_600
# DATABASE_POOLER: what stands between the service and PostgreSQL. "transaction" (PgBouncer's
# transaction pooling) hands each transaction to any server connection, so nothing may
# outlive a transaction on one: psycopg's prepared statements are turned off (SPEC §15).
DATABASE_POOLERS = ("none", "session", "transaction")

# Counts where 0 is meaningful: no trusted proxy, no connections beyond the pool, no
# retirement guard.
_MAY_BE_ZERO = frozenset({"trusted_proxy_count", "db_max_overflow", "retire_quiet_days"})


class ConfigError(ValueError):
    """An environment variable holds a value the service cannot use."""


# The URL schemes platforms hand out for PostgreSQL (Heroku, Render, Fly, RDS consoles...)
# and what they mean here: PostgreSQL through psycopg 3, the one driver installed. Without
# the rewrite SQLAlchemy reads a bare "postgresql://" as psycopg2's, which is not installed.
POSTGRES_SCHEMES = ("postgres", "postgresql", "postgresql+psycopg")
POSTGRES_DRIVER_URL_SCHEME = "postgresql+psycopg"
SQLITE_SCHEMES = ("sqlite", "sqlite+pysqlite")
_ACCEPTED_URLS = "sqlite:///<path>, postgresql://…, postgres://… or postgresql+psycopg://…"


def normalize_database_url(url: str, name: str = "DATABASE_URL") -> str:
    """``DATABASE_URL`` as SQLAlchemy must be given it: ``postgres://`` and
    ``postgresql://`` become ``postgresql+psycopg://``; SQLite URLs are left as they are.

    The one place the app, the CLI and ``alembic`` (migrations/env.py) read the URL
    through; anything that is not a SQLite or PostgreSQL URL is a ConfigError, so a typo
    fails at start instead of at the first request.
    """
    scheme, separator, rest = url.strip().partition("://")
    scheme = scheme.lower()
    if not separator:
        raise ConfigError(
            f"{name} must be a database URL ({_ACCEPTED_URLS}), got {_masked(url)!r}"
        )
    if scheme in SQLITE_SCHEMES:
        return url.strip()
    if scheme in POSTGRES_SCHEMES:
        return f"{POSTGRES_DRIVER_URL_SCHEME}://{rest}"
    backend = scheme.split("+", 1)[0]
    if backend in ("postgres", "postgresql"):
        raise ConfigError(
            f"{name} names the PostgreSQL driver {scheme.split('+', 1)[1]!r}; the "
            f"service talks to PostgreSQL through psycopg 3: use {_ACCEPTED_URLS}"
        )
    raise ConfigError(
        f"{name} must be a SQLite or PostgreSQL URL ({_ACCEPTED_URLS}), " f"got one for {scheme!r}"
    )


def _masked(url: str) -> str:
    """The URL with any password replaced, for error messages and logs."""
    return re.sub(r"^((?:[^:/@]+://)?[^:/@]*:)[^@/]*@", r"\1***@", url)


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    log_level: str = "INFO"
    auth_mode: str = "trust"
    max_body_bytes: int = 2 * 1024 * 1024
    max_features_per_request: int = 1_000
    max_entity_rows_per_request: int = 10_000
    max_values_per_request: int = 1_000_000
    max_entity_columns_per_request: int = 20
    # Both below gunicorn's 30 s worker timeout: a request waiting for a lock or a
    # connection gets a 503 before its worker is killed.
    sqlite_busy_timeout_ms: int = 10_000
    db_pool_size: int = 5
    db_max_overflow: int = 10
    db_pool_timeout_s: int = 10
    # Bounds how long a request (and /health) waits for an unreachable PostgreSQL host.
    db_connect_timeout_s: int = 5
    # Reads from a streaming replica (SPEC §15, db.replicas): the replica's URL (PostgreSQL
    # only, and only beside a PostgreSQL primary); how far behind the primary a read served
    # there may be, in seconds; how often each process measures that.
    database_read_url: str = ""
    read_max_lag_s: float = 5.0
    read_lag_check_s: float = 1.0
    database_pooler: str = "none"
    # How many reverse proxies (nginx, a load balancer) stand in front of the service and
    # append to X-Forwarded-For/-Proto; 0 ignores those headers (clients can forge them).
    trusted_proxy_count: int = 0
    # Idempotency-Key (SPEC §11): how long a write's response is kept for replays, and how
    # long an unfinished first request holds its key before a retry may take it over
    # (longer than gunicorn's worker timeout, so that only a dead request loses its key).
    idempotency_ttl_s: int = 86_400
    idempotency_lease_s: int = 60
    # prometheus_client's own variable: set, every worker writes its metrics to files there
    # and /metrics adds up all workers (gunicorn.conf.py sets it). Empty: one process.
    prometheus_multiproc_dir: str = ""
    # Webhooks (SPEC §9). Loopback targets are for development and tests only.
    webhook_allow_loopback: bool = False
    webhook_timeout_s: float = 10.0
    webhook_retry_base_s: float = 10.0
    webhook_max_attempts: int = 8
    # How long an idle delivery worker sleeps before it looks for due deliveries again.
    webhook_poll_interval_s: float = 1.0

    # Who reads what (SPEC §13): each worker adds its read counts to the database this
    # often (and when it stops); a worker killed outright loses at most this interval's.
    # Off, no read is counted (and the retirement guard sees none).
    usage_counting: bool = True
    usage_flush_s: float = 10.0
    # Retiring a feature read this recently is refused unless forced (SPEC §13).
    retire_quiet_days: int = DEFAULT_QUIET_DAYS

    # Signs the review console's session cookies (and its CSRF tokens). Required to serve in
    # token mode, where a session stands for a verified principal (``serving``); the CLI and
    # the migrations do without. Never shown by repr().
    secret_key: str = dataclass_field(default="", repr=False)

    # Single sign-on (SPEC §12), token mode only: on when OIDC_ISSUER is set. The provider's
    # discovery document and keys are fetched from the issuer (services.identity_provider).
    oidc_issuer: str = ""
    # The console's client at the provider (its sign-in); the secret is never shown by repr().
    oidc_client_id: str = ""
    oidc_client_secret: str = dataclass_field(default="", repr=False)
    # What API access tokens must be issued for ("aud"); empty: the client id.
    oidc_audience: str = ""
    oidc_principal_claim: str = "preferred_username"
    oidc_groups_claim: str = "groups"
    # "group=role,group=role": the roles the provider's groups give (``oidc_roles``).
    oidc_role_map: str = ""
    # The service's external URL (the console's redirect URI) when the proxy headers cannot
    # be trusted; empty: taken from the request.
    public_base_url: str = ""

    def __post_init__(self) -> None:
        # Frozen: the one normalised spelling is stored, whichever way the URL came in.
        object.__setattr__(self, "database_url", normalize_database_url(self.database_url))
        if self.database_read_url:
            read_url = normalize_database_url(self.database_read_url, name="DATABASE_READ_URL")
            object.__setattr__(self, "database_read_url", read_url)

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
            elif field.type == "float":
                values[field.name] = _number(field.name, raw)
            elif field.type == "bool":
                values[field.name] = _boolean(field.name, raw)
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
            if field.type not in ("int", "float"):
                continue
            if field.name in _MAY_BE_ZERO:
                if value < 0:
                    raise ConfigError(f"{field.name.upper()} must not be negative, got {value}")
            elif value <= 0:
                raise ConfigError(f"{field.name.upper()} must be positive, got {value}")
        if self.webhook_timeout_s > MAX_WEBHOOK_TIMEOUT_S:
            raise ConfigError(
                f"WEBHOOK_TIMEOUT_S must be at most {MAX_WEBHOOK_TIMEOUT_S} seconds (one "
                f"webhook attempt's whole deadline), got {self.webhook_timeout_s:g}"
            )
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ConfigError(f"LOG_LEVEL must be a logging level name, got {self.log_level!r}")
        if self.auth_mode not in AUTH_MODES:
            raise ConfigError(
                f"AUTH_MODE must be one of {', '.join(AUTH_MODES)}, got {self.auth_mode!r}"
            )
        self._validate_database_topology()
        self._validate_sign_on()
        metrics_dir = self.prometheus_multiproc_dir
        if metrics_dir and not (os.path.isdir(metrics_dir) and os.access(metrics_dir, os.W_OK)):
            raise ConfigError(
                f"PROMETHEUS_MULTIPROC_DIR must be a writable directory, got {metrics_dir!r}"
            )

    def _validate_sign_on(self) -> None:
        parse_role_map(self.oidc_role_map)  # a malformed map refuses to start, even unused
        if self.public_base_url:
            _check_url("PUBLIC_BASE_URL", self.public_base_url)
        if not self.oidc_issuer:
            return
        if not self.token_mode:
            raise ConfigError(
                "OIDC_ISSUER is set but AUTH_MODE is trust: in trust mode every request "
                "claims its own name and role, so a sign-in at the provider would verify "
                "nothing and sit beside requests that need none. Set AUTH_MODE=token (with "
                "SECRET_KEY) to use single sign-on, or unset OIDC_ISSUER"
            )
        _check_url("OIDC_ISSUER", self.oidc_issuer)
        if len(self.oidc_issuer) > MAX_ISSUER_LENGTH:
            raise ConfigError(f"OIDC_ISSUER must be at most {MAX_ISSUER_LENGTH} characters")
        if not self.oidc_api_audience:
            raise ConfigError(
                "OIDC_ISSUER is set but neither OIDC_AUDIENCE nor OIDC_CLIENT_ID is: API "
                "access tokens are checked against OIDC_AUDIENCE (default: OIDC_CLIENT_ID)"
            )
        for name in ("oidc_principal_claim", "oidc_groups_claim"):
            if not getattr(self, name).strip():
                raise ConfigError(f"{name.upper()} must name a claim, got an empty value")

    def _validate_database_topology(self) -> None:
        if self.database_pooler not in DATABASE_POOLERS:
            raise ConfigError(
                f"DATABASE_POOLER must be one of {', '.join(DATABASE_POOLERS)}, "
                f"got {self.database_pooler!r}"
            )
        if not self.database_read_url:
            return
        if not self.database_read_url.startswith(POSTGRES_DRIVER_URL_SCHEME):
            raise ConfigError(
                "DATABASE_READ_URL must be a PostgreSQL URL (a streaming replica of the "
                "primary); SQLite has no replicas: leave DATABASE_READ_URL unset"
            )
        if self.is_sqlite:
            raise ConfigError(
                "DATABASE_READ_URL names a PostgreSQL replica, but DATABASE_URL is SQLite: "
                "reads can go to a replica of a PostgreSQL primary only"
            )
        if self.read_lag_check_s >= self.read_max_lag_s:
            raise ConfigError(
                f"READ_LAG_CHECK_S ({self.read_lag_check_s:g}) must be shorter than "
                f"READ_MAX_LAG_S ({self.read_max_lag_s:g}): a measurement ages by that much "
                "before the next one"
            )

    @property
    def webhook_lease_ms(self) -> int:
        """How long a delivery worker's claim on an attempt lasts: past it, another worker
        may retry the delivery (the first one is presumed dead). Twice the timeout, plus a
        second, for the DNS lookup and the bookkeeping: always longer than the attempt's
        deadline (``WEBHOOK_TIMEOUT_S``, which the worker enforces), so a live worker's
        claim never expires under it."""
        return int((2 * self.webhook_timeout_s + 1) * 1000)

    @property
    def token_mode(self) -> bool:
        return self.auth_mode == "token"

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    @property
    def oidc_api_audience(self) -> str:
        """What an API access token's ``aud`` must contain: OIDC_AUDIENCE, else the client."""
        return self.oidc_audience or self.oidc_client_id

    @cached_property
    def oidc_roles(self) -> Mapping[str, frozenset[Role]]:
        """OIDC_ROLE_MAP parsed: each group → the roles it gives (checked at start)."""
        return parse_role_map(self.oidc_role_map)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def transaction_pooling(self) -> bool:
        return self.database_pooler == "transaction"


_TRUE, _FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no"})

# An issuer is recorded in every audit entry its callers make ("oidc:<issuer>").
MAX_ISSUER_LENGTH = 1_000
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def parse_role_map(text: str) -> dict[str, frozenset[Role]]:
    """``"ml-developers=developer,ml-approvers=approver"`` → each group's roles (a group
    named twice gets both). A pair that is not ``group=role``, a group that breaks the name
    rule (SPEC §2) or an unknown role is a ConfigError naming it."""
    roles: dict[str, set[Role]] = {}
    if not text.strip():
        return {}
    known = ", ".join(role.value for role in Role)
    for pair in text.split(","):
        group, equals, role = (part.strip() for part in pair.partition("="))
        if not equals or not group or not role:
            raise ConfigError(
                f"OIDC_ROLE_MAP must be group=role pairs separated by commas (e.g. "
                f"ml-developers=developer,ml-approvers=approver); {pair.strip()!r} is not one"
            )
        problem = name_problem(group)
        if problem is not None:
            raise ConfigError(f"OIDC_ROLE_MAP: the group {group!r} is not a name: {problem}")
        if role not in {r.value for r in Role}:
            raise ConfigError(
                f"OIDC_ROLE_MAP: {pair.strip()!r} names the unknown role {role!r}; the "
                f"roles are: {known}"
            )
        roles.setdefault(group, set()).add(Role(role))
    return {group: frozenset(given) for group, given in roles.items()}


def _check_url(name: str, url: str) -> None:
    """An absolute https URL without query or fragment (http only on this machine)."""
    parts = urlsplit(url)
    loopback = parts.hostname in _LOOPBACK_HOSTS
    if (
        parts.scheme not in ("https", "http")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or (parts.scheme == "http" and not loopback)
    ):
        raise ConfigError(
            f"{name} must be an https:// URL without query or fragment (http:// only for "
            f"localhost), got {url!r}"
        )


def _number(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name.upper()} must be a number, got {raw!r}") from exc
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{name.upper()} must be a finite number, got {raw!r}")
    return value


def _boolean(name: str, raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ConfigError(f"{name.upper()} must be true or false, got {raw!r}")
