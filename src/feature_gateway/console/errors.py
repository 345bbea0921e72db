"""The console's error pages: HTML, never the API's problem+json, for anything a console
request runs into (a refused form, an unknown feature, an unavailable database)."""

from __future__ import annotations

import logging

from flask import Blueprint, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from feature_gateway.errors import DatabaseUnavailableError, FeatureNotFoundError

logger = logging.getLogger("feature_gateway.console")


def register_error_pages(blueprint: Blueprint) -> None:
    @blueprint.errorhandler(CSRFError)
    def _csrf_refused(error: CSRFError) -> tuple[str, int]:
        message = (
            "The form was refused: it did not carry a valid CSRF token (the page may be older "
            "than your session, or the form was sent from another site). Reload the page and "
            "try again."
        )
        return render_template("console/error.html", title="Form refused", message=message), 400

    @blueprint.errorhandler(FeatureNotFoundError)
    def _feature_not_found(error: FeatureNotFoundError) -> tuple[str, int]:
        return (
            render_template("console/error.html", title="No such feature", message=error.detail),
            404,
        )

    @blueprint.errorhandler(DatabaseUnavailableError)
    def _database_unavailable(error: DatabaseUnavailableError) -> tuple[str, int]:
        return (
            render_template("console/error.html", title="Unavailable", message=error.detail),
            503,
        )

    @blueprint.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> tuple[str, int]:
        status = error.code or 500
        message = "No page exists at this address." if status == 404 else str(error.description)
        return render_template("console/error.html", title=error.name, message=message), status

    @blueprint.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[str, int]:
        logger.exception("console page failed")
        message = "The page could not be shown; the error has been logged."
        return render_template("console/error.html", title="Error", message=message), 500
