"""Which driver errors mean "the database storage is full" (503 with its own detail)."""

import sqlite3

import psycopg
from sqlalchemy.exc import OperationalError

from feature_gateway.db.unit_of_work import unavailable
from feature_gateway.errors import (
    DatabaseStorageFullError,
    DatabaseUnavailableError,
    http_status_for,
)


def wrapped(orig):
    return OperationalError("INSERT ...", {}, orig)


def sqlite_error(code):
    error = sqlite3.OperationalError("database or disk is full")
    error.sqlite_errorcode = code
    return error


def test_sqlite_full_and_postgresql_disk_full_mean_the_storage_is_full():
    for orig in (sqlite_error(sqlite3.SQLITE_FULL), psycopg.errors.DiskFull("no space")):
        error = unavailable(wrapped(orig))
        assert isinstance(error, DatabaseStorageFullError)
        assert http_status_for(error) == (503, "Service Unavailable")
        assert error.headers == {"Retry-After": "30"}
        assert error.detail.startswith("The database storage is full")


def test_other_driver_errors_mean_the_database_is_unavailable():
    for orig in (
        sqlite_error(sqlite3.SQLITE_IOERR),
        psycopg.OperationalError("connection refused"),
        psycopg.errors.AdminShutdown("terminating connection"),
    ):
        error = unavailable(wrapped(orig))
        assert type(error) is DatabaseUnavailableError
        assert error.detail == "The database is unavailable; try again shortly."
