"""Structured logs and application metrics shared by the service, the API and gunicorn.

Free of Flask and SQLAlchemy: the services report committed status changes here.
``gunicorn.conf.py`` configures the same JSON line shape for gunicorn's own log.

Metrics use prometheus_client's default registry. Under gunicorn the
``PROMETHEUS_MULTIPROC_DIR`` environment variable (set by ``gunicorn.conf.py`` before
the workers fork) makes every process write its samples to files in that directory, and
``/metrics`` sums the files of all workers; see README, "Health, metrics and logs".
"""

from __future__ import annotations

import logging

from prometheus_client import Counter
from pythonjsonlogger.json import JsonFormatter

events_log = logging.getLogger("feature_gateway.events")

STATUS_CHANGES = Counter(
    "feature_gateway_status_changes_total",
    "Committed feature status changes, by lifecycle trigger and resulting status.",
    ["trigger", "to_status"],
)


def json_formatter() -> logging.Formatter:
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""
    return JsonFormatter(
        "{asctime}{levelname}{name}{message}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    )


def status_changed(
    *,
    feature_name: str,
    from_status: str | None,
    to_status: str,
    trigger: str,
    actor: str,
    actor_role: str | None,
) -> None:
    """Count and log one status change; call only once its transaction has committed."""
    STATUS_CHANGES.labels(trigger=trigger, to_status=to_status).inc()
    events_log.info(
        "status changed",
        extra={
            "event": "status_change",
            "feature_name": feature_name,
            "from_status": from_status,
            "to_status": to_status,
            "trigger": trigger,
            "actor": actor,
            "role": actor_role,
        },
    )
