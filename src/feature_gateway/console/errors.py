"""The console's error pages: HTML, never the API's problem+json, for anything a console
request runs into (a refused form, an unknown feature, an unavailable database); a domain
error has the status and title of the one table (``errors.HTTP_STATUS``), as in the API."""

from __future__ import annotations

import logging

from flask import Blueprint, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from feature_gateway.errors import GatewayError, http_status_for

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

    @blueprint.errorhandler(GatewayError)
    def _refused(error: GatewayError) -> tuple[str, int]:
        # The status and title the API answers with (errors.HTTP_STATUS): an unknown feature
        # is 404, an unavailable database 503; refused actions are flashed on the page.
        status, title = http_status_for(error)
        return render_template("console/error.html", title=title, message=error.detail), status

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
