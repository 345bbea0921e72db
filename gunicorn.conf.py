"""gunicorn settings for every way of running the service: `make run`, Docker, bare metal.

    gunicorn -c gunicorn.conf.py wsgi:app

Each value can be changed through the environment variable named beside it (see
docs/configuration.md); GUNICORN_CMD_ARGS and command-line flags still override this file.
"""

from __future__ import annotations

import ctypes
import gc
import glob
import importlib
import os
import shutil
import sys
import tempfile
from typing import Any

from gunicorn import glogging


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SystemExit(f"{name} must be at least {minimum}, got {value}")
    return value


def _cpu_count() -> int:
    # The CPUs this process may run on (a container's cpuset), not the host's total.
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Sync workers by default: see docs/performance.md for the measurements behind the choice.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = _env_int("GUNICORN_THREADS", 1)  # per worker; only gthread uses more than one
workers = _env_int("WEB_CONCURRENCY", 2 * _cpu_count() + 1)
timeout = _env_int("GUNICORN_TIMEOUT", 30)  # a worker silent this long is killed, restarted
# On SIGTERM, workers stop accepting and finish in-flight requests for up to this long.
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _env_int("GUNICORN_KEEPALIVE", 5)
# Recycling workers bounds slow leaks; 0 (the default) never recycles.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 0, minimum=0)
max_requests_jitter = max_requests // 10
# Never preload the app: it builds its database engine in create_app(), and connections
# opened before the fork would be shared by every worker.
preload_app = False

# The libraries every worker would import are imported once, here in the master, and the
# forked workers inherit them: four workers on two CPUs no longer import them all at once
# (cold start, see docs/performance.md). None of them opens a connection, a file or a
# thread when imported; numpy's OpenBLAS would start a thread pool, which the service has
# no use for (it does no linear algebra), hence one thread. The service's own package is
# not imported here, so a HUP still starts workers with a newly deployed release of it; a
# new release of these libraries takes a restart.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# glibc's malloc serves a block of 1 MiB or more by mmap, returned when it is freed, and
# gives back free heap above 2 MiB. Left to itself, it raises both limits to the largest
# block freed so far (up to 32 MiB, and twice that of heap kept): after one 2 MB body
# parsed into an 8 MB list, a worker kept its peak for good (issue 26, SPEC §6 memory;
# docs/performance.md). No request of the hot paths allocates blocks that large, so they
# run as before. Set here, in the master, for it and every worker it forks.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MALLOC_LIMITS = {M_MMAP_THRESHOLD: 1 << 20, M_TRIM_THRESHOLD: 2 << 20}


def _set_malloc_limits() -> None:
    try:
        mallopt = ctypes.CDLL(None).mallopt  # glibc, musl; other C libraries: left alone
    except AttributeError:
        return
    for parameter, value in MALLOC_LIMITS.items():
        mallopt(parameter, value)


_set_malloc_limits()
# The review console signs its sessions with SECRET_KEY, which token mode requires. In
# trust mode without one, the master picks one for this run: its workers inherit it, so a
# session signed by one worker is read by the others (it ends when the server restarts).
if (os.environ.get("AUTH_MODE") or "trust") == "trust" and not os.environ.get("SECRET_KEY"):
    import secrets

    os.environ["SECRET_KEY"] = secrets.token_urlsafe(32)
PRELOADED_LIBRARIES = (
    "numpy",
    "sqlglot",
    "sqlalchemy.orm",
    "flask",
    "flask_smorest",
    "apispec.ext.marshmallow",
    "webargs.flaskparser",
    "marshmallow",
    "transitions",
    "orjson",
    "swagger_ui_bundle",
    "flask_wtf",
    "wtforms",
    # TR39 skeletons, for the first approval a worker serves. Loaded here, the work of
    # loading its 4.6 MB extension (the dynamic linker's pages) is the master's alone;
    # loaded by each worker it added 1.9 MB more to its RSS (docs/performance.md).
    "disarm",
)
# The database's driver and dialect, the one DATABASE_URL names (on_starting); not the
# other's, which would only add to every worker's memory.
DRIVER_LIBRARIES = {
    "sqlite": ("sqlalchemy.dialects.sqlite", "sqlite3"),
    "postgresql": ("sqlalchemy.dialects.postgresql.psycopg", "psycopg"),
}


def _preload(libraries: tuple[str, ...]) -> None:
    for library in libraries:
        importlib.import_module(library)
    # What the master holds now lives as long as every worker: frozen, a worker's garbage
    # collections skip it, and they do not touch (and so copy) its pages (gc.freeze's docs).
    gc.collect()
    gc.freeze()


_preload(PRELOADED_LIBRARIES)
# The heartbeat file lives in memory: on a container's overlay filesystem it can stall.
worker_tmp_dir = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None

# The app writes one structured JSON line per request itself (feature_gateway.access).
accesslog = None


class AppOwnsAccessLog(glogging.Logger):
    """gunicorn's logger minus its access log.

    With ``logconfig_dict`` set, ``Logger.access`` formats every request's atoms before the
    WARNING level of ``gunicorn.access`` drops the line: 5 % of a worker's time under load
    on /health (py-spy). The app's own access line says all that line would.
    """

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        return None


logger_class = AppOwnsAccessLog
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", os.environ.get("LOG_LEVEL", "info")).lower()
# gunicorn's own lines (start, stop, worker timeouts) in the same JSON shape as the app's
# (feature_gateway.observability.json_formatter). Not imported from there: a module the
# master imports is inherited by every worker, and would stay stale across a HUP reload.
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "{asctime}{levelname}{name}{message}",
            "style": "{",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": "WARNING", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
    },
}

# X-Forwarded-For/-Proto are honoured by the app alone (werkzeug ProxyFix, configured by
# TRUSTED_PROXY_COUNT), so gunicorn must not act on them a second time.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}

# Prometheus multiprocess mode: every worker writes its samples to files in this directory
# and /metrics adds them up. prometheus_client reads the variable when it is first
# imported, so it is set here, in the master, before any worker is forked.
_TEMP_METRICS_PREFIX = os.path.join(tempfile.gettempdir(), "feature-gateway-metrics-")
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="feature-gateway-metrics-")
METRICS_DIR = os.environ["PROMETHEUS_MULTIPROC_DIR"]

# Imported now, after the variable is set and before any signal arrives: child_exit runs
# inside the master's SIGCHLD handling, and a first import there, re-entered when two
# workers exit at once, crashed the master on shutdown.
from prometheus_client import multiprocess  # noqa: E402


def on_starting(server: Any) -> None:
    """Start the metrics from zero (files left by an earlier run would be counted again);
    then check the service's settings (the metrics folder among them) and say its warnings,
    once for all workers."""
    os.makedirs(METRICS_DIR, exist_ok=True)
    for path in glob.glob(os.path.join(METRICS_DIR, "*.db")):
        os.remove(path)
    try:
        backend = _check_the_service(server)
    except RuntimeError:
        on_exit(server)
        raise
    _preload(DRIVER_LIBRARIES[backend])


def _check_the_service(server: Any) -> str:
    """The service's own checks (feature_gateway.serving), made here once instead of in
    every worker: a setting it cannot serve with stops gunicorn with one line ("Error: ..."),
    not a traceback per worker, and each warning is logged once, not once per worker.
    Returns the database's backend ("sqlite" or "postgresql").

    The service's modules imported for this are forgotten again, so that a HUP still starts
    workers with a newly deployed release of them.
    """
    before = set(sys.modules)
    try:
        serving = importlib.import_module("feature_gateway.serving")
        try:
            settings = serving.Settings.from_env()
            serving.require_serving(settings)
        except serving.ConfigError as exc:
            raise RuntimeError(str(exc)) from None  # gunicorn prints it and exits 1
        for level, message in serving.startup_warnings(settings):
            server.log.log(level, message)
        os.environ[serving.STARTUP_SAID] = "1"  # the workers inherit it and stay quiet
        return "sqlite" if settings.is_sqlite else "postgresql"
    finally:
        for name in set(sys.modules) - before:
            if name.split(".")[0] == "feature_gateway":
                del sys.modules[name]


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges (its counters and histograms keep counting)."""
    multiprocess.mark_process_dead(worker.pid, METRICS_DIR)


def worker_exit(server: Any, worker: Any) -> None:
    """In the exiting worker, after its last request (a graceful stop, a HUP, a recycle):
    its read counts not yet flushed go to the database (SPEC §13); a worker killed outright
    loses at most USAGE_FLUSH_S seconds of them. The package is imported by the worker
    already (never by the master: see PRELOADED_LIBRARIES)."""
    app = getattr(worker, "wsgi", None)
    if app is not None:
        from feature_gateway.app import on_worker_exit

        on_worker_exit(app)


def on_exit(server: Any) -> None:
    """Remove the metrics directory if this file made it (not one given by the operator)."""
    if METRICS_DIR.startswith(_TEMP_METRICS_PREFIX):
        shutil.rmtree(METRICS_DIR, ignore_errors=True)
