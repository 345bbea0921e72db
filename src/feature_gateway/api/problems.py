"""Every error leaves the service as RFC 9457 problem+json, built here and nowhere else."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from flask import Flask, Response, current_app, g
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from feature_gateway.errors import GatewayError, http_status_for

PROBLEM_MIMETYPE = "application/problem+json"
logger = logging.getLogger("feature_gateway.errors")

# Detail sentences for HTTP-level errors whose werkzeug text is written for HTML pages.
_HTTP_DETAILS = {
    400: "The request body is not valid JSON.",
    404: "No endpoint exists at this path.",
    405: "This endpoint does not accept the request's HTTP method.",
    413: "The request body is larger than the service accepts.",
    415: "Request bodies must be JSON, sent with Content-Type: application/json.",
    500: "The service failed to handle the request; it has been logged.",
}


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    errors: Mapping[str, Any] | None = None,
    problem_type: str = "about:blank",
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": problem_type,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    request_id = g.get("request_id")
    if request_id:
        body["request_id"] = request_id
    response = current_app.response_class(
        orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS),
        status=status,
        mimetype=PROBLEM_MIMETYPE,
    )
    response.headers.update(headers or {})
    return response


def flatten_errors(messages: Mapping[str, Any]) -> dict[str, Any]:
    """webargs nests errors by location ({"json": {...}}); clients want them by field."""
    flat: dict[str, Any] = {}
    for location, errors in messages.items():
        if isinstance(errors, Mapping):
            flat.update({str(field): _stringify_keys(value) for field, value in errors.items()})
        else:
            flat[str(location)] = errors
    return flat


def _stringify_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _stringify_keys(inner) for key, inner in value.items()}
    return value


def _validation_detail(errors: Mapping[str, Any]) -> str:
    if "_schema" in errors and len(errors) == 1:
        first = errors["_schema"]
        return str(first[0]) if isinstance(first, list) and first else "The request is invalid."
    fields = ", ".join(sorted(errors))
    return f"The request has invalid or missing fields: {fields}."


def _slug(title: str) -> str:
    return "urn:feature-gateway:problem:" + title.lower().replace(" ", "-")


class GatewayApi(Api):  # type: ignore[misc]  # flask-smorest ships no type hints
    """flask-smorest's Api with its HTTP error payload replaced by problem+json."""

    def handle_http_exception(self, error: HTTPException) -> Response:
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        raw_errors = data.get("errors") or data.get("messages")
        errors = flatten_errors(raw_errors) if isinstance(raw_errors, Mapping) else None
        if status == 422 and errors:
            detail = _validation_detail(errors)
        elif status == 400 and errors:
            detail = _HTTP_DETAILS[400]
            errors = {"body": ["Invalid JSON body."]}
        else:
            detail = data.get("message") or _HTTP_DETAILS.get(status) or str(error.description)
        return problem_response(
            status, error.name, detail, errors=errors, headers=data.get("headers")
        )


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(GatewayError)
    def _domain_error(error: GatewayError) -> Response:
        status, title = http_status_for(error)
        if status >= 500:
            logger.warning("request failed: %s", error.detail, exc_info=error.__cause__)
        return problem_response(
            status, title, error.detail, errors=error.errors, problem_type=_slug(title)
        )

    @app.errorhandler(Exception)
    def _unexpected_error(error: Exception) -> Response:
        if isinstance(error, HTTPException):  # raised outside smorest's reach
            return app.extensions["gateway_api"].handle_http_exception(error)  # type: ignore[no-any-return]
        logger.exception("unhandled error")
        return problem_response(500, "Internal Server Error", _HTTP_DETAILS[500])
