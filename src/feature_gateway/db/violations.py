"""What a driver's integrity error means, told alike on both databases."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from feature_gateway.errors import ConcurrentModificationError, FeatureAlreadyExistsError


def is_unique_violation(exc: IntegrityError) -> bool:
    """A unique key (or primary key) refused the row: someone else wrote it first."""
    return is_driver_unique_violation(exc.orig)


def is_driver_unique_violation(error: BaseException | None) -> bool:
    """``is_unique_violation`` of the driver's own error (a statement run by the driver)."""
    sqlstate = getattr(error, "sqlstate", None)  # psycopg
    if sqlstate is not None:
        return bool(sqlstate == "23505")
    return "UNIQUE constraint failed" in str(error)  # sqlite3


@contextmanager
def first_writer_wins(names: Callable[[], Iterable[str]]) -> Iterator[None]:
    """Writes of features, whose racing writers lose with a 409 naming ``names()``: a row
    changed meanwhile (its revision moved: ``StaleDataError``) is
    ``ConcurrentModificationError``, a name taken meanwhile (a unique key: a concurrent
    create of the same version won) ``FeatureAlreadyExistsError``. Any other integrity
    error is a broken invariant, not the client's doing: raised as it is (a 500)."""
    try:
        yield
    except StaleDataError as exc:
        raise ConcurrentModificationError(", ".join(names()) or "?") from exc
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise FeatureAlreadyExistsError(", ".join(names()) or "?") from exc
