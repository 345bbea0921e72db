"""What a driver's integrity error means, told alike on both databases."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError


def is_unique_violation(exc: IntegrityError) -> bool:
    """A unique key (or primary key) refused the row: someone else wrote it first."""
    return is_driver_unique_violation(exc.orig)


def is_driver_unique_violation(error: BaseException | None) -> bool:
    """``is_unique_violation`` of the driver's own error (a statement run by the driver)."""
    sqlstate = getattr(error, "sqlstate", None)  # psycopg
    if sqlstate is not None:
        return bool(sqlstate == "23505")
    return "UNIQUE constraint failed" in str(error)  # sqlite3
