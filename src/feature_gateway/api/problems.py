"""Every error leaves the service as RFC 9457 problem+json, built here and nowhere else."""

from __future__ import annotations

import heapq
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
from flask import Flask, Response, current_app, g
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from feature_gateway.domain.lifecycle import STATES
from feature_gateway.errors import (
    MAX_ERROR_MESSAGES,
    GatewayError,
    ValidationError,
    http_status_for,
)
from feature_gateway.framework_adapter import OwnErrorResponsesApi

PROBLEM_MIMETYPE = "application/problem+json"
# How many invalid fields the 422 detail sentence names.
_NAMED_FIELDS = 10
logger = logging.getLogger("feature_gateway.errors")


class ProblemSchema(Schema):
    """RFC 9457 problem details: the body of every error response (documentation only)."""

    type = fields.String(
        required=True,
        metadata={
            "description": "URI naming the kind of problem; `about:blank` for plain HTTP errors",
            "example": "urn:feature-gateway:problem:feature-not-found",
        },
    )
    title = fields.String(
        required=True,
        metadata={
            "description": "Short summary of the kind of problem",
            "example": "Feature Not Found",
        },
    )
    status = fields.Integer(
        required=True, metadata={"description": "The HTTP status code", "example": 404}
    )
    detail = fields.String(
        required=True,
        metadata={
            "description": "What went wrong with this request, as a sentence",
            "example": "Feature 'driver_hourly_stats:conv_rate:1' does not exist.",
        },
    )
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        metadata={
            "description": "Validation errors: the messages for each invalid field, by field "
            f"name; at most {MAX_ERROR_MESSAGES} messages (see `errors_omitted`)",
            "example": {"feature_name": ["Missing data for required field."]},
        },
    )
    errors_omitted = fields.Integer(
        metadata={
            "description": f"How many messages were left out of `errors` past the first "
            f"{MAX_ERROR_MESSAGES}; absent when none was",
            "example": 1200,
        }
    )
    request_id = fields.String(
        metadata={"description": "The request id, also sent as the X-Request-ID header"}
    )


# The stored states in which a feature can no longer be changed (DEPLOYED, DELETED).
_FINAL = " or ".join(
    s for s, state in STATES.items() if not state.editable and not state.transient
)
# How each error status is described in the API document, whichever endpoint returns it.
PROBLEM_DESCRIPTIONS = {
    400: "The request body is not valid JSON",
    401: "No valid API token (or, with single sign-on, JWT from the identity provider): "
    "send `Authorization: Bearer <token>` (token mode)",
    403: "The caller may not do this: its role may not, the token does not carry the role "
    "named, an actor field names someone else, or separation of duties forbids it",
    404: "No feature has this name (token endpoints: no token has this id)",
    409: "The request conflicts with the feature's state: duplicate name, a transition not "
    f"allowed from the current status, a {_FINAL} feature, or a concurrent change",
    413: "The request body is larger than the service accepts",
    415: "The request body is not sent as application/json",
    422: "A field or parameter is missing or invalid, or no valid role was given",
    503: "The database is unavailable, or the identity provider is and a JWT's key is not "
    "cached (with Retry-After); retry later",
}

_JSON_BODY = (400, 413, 415, 422)


class Problems:
    """The problem+json statuses each kind of endpoint documents (``ApiBlueprint.problems``).

    403 only where some role may not act (reads are open to every role), 404 only where a
    feature is named, 409 only where the feature's state can conflict.
    """

    CREATE = (*_JSON_BODY, 403, 409, 503)
    CHANGE = (*_JSON_BODY, 403, 404, 409, 503)  # update, delete and the workflow triggers
    READ = (*_JSON_BODY, 404, 503)  # POST read of one feature
    LIST = (*_JSON_BODY, 503)  # POST list
    READ_BY_PATH = (404, 422, 503)  # GET of one feature, name in the path
    LIST_BY_QUERY = (422, 503)  # GET list, filters in the query
    VALUES = (*_JSON_BODY, 503)  # POST /features: no role needed, unknown names are data
    # POST naming a feature in the path: every workflow role may comment on any status, so
    # no 403 (token mode adds it) and no 409 (the keyed write adds its own).
    COMMENT = (*_JSON_BODY, 404, 503)
    # Token management (admin; in trust mode 403 whatever the role). 401 is added to every
    # protected operation in token mode by api.access.
    TOKEN_CREATE = (*_JSON_BODY, 403, 503)
    TOKEN_LIST = (403, 422, 503)
    TOKEN_REVOKE = (403, 404, 422, 503)
    # Webhook management: the same, plus a POST naming a webhook and a delivery.
    WEBHOOK_CREATE = TOKEN_CREATE
    WEBHOOK_LIST = TOKEN_LIST
    WEBHOOK_ONE = TOKEN_REVOKE
    WEBHOOK_REDELIVER = (*_JSON_BODY, 403, 404, 503)
    # An unknown role named; any caller, whatever its roles. Trust mode reads nothing (503
    # is token mode's, added by api.access with 401 and 403).
    WHOAMI = (422,)


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
        budget = _Budget(MAX_ERROR_MESSAGES)
        body["errors"] = budget.take(errors)
        if budget.omitted:
            body["errors_omitted"] = budget.omitted
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


class _Budget:
    """Keeps the first ``limit`` messages of nested errors in their shape; counts the rest."""

    def __init__(self, limit: int) -> None:
        self.left = limit
        self.omitted = 0

    def take(self, errors: Any) -> Any:
        if isinstance(errors, Mapping):
            kept = {key: self.take(inner) for key, inner in errors.items()}
            return {key: inner for key, inner in kept.items() if inner not in _NOTHING}
        if isinstance(errors, (list, tuple)):
            return [inner for inner in map(self.take, errors) if inner not in _NOTHING]
        if self.left:
            self.left -= 1
            return errors
        self.omitted += 1
        return None


# What a container of messages becomes when all its messages were left out.
_NOTHING: tuple[Any, ...] = (None, {}, [])


def _validation_detail(errors: Mapping[str, Any]) -> str:
    if "_schema" in errors and len(errors) == 1:
        first = errors["_schema"]
        message = str(first[0]) if isinstance(first, list) and first else ""
        if message == "Invalid input type.":  # marshmallow's words for "not an object"
            return "The request body must be a JSON object."
        return message or "The request is invalid."
    names = heapq.nsmallest(_NAMED_FIELDS, errors)
    more = len(errors) - len(names)
    listed = ", ".join(names) + (f" and {more:,} more" if more else "")
    return f"The request has invalid or missing fields: {listed}."


def _slug(title: str) -> str:
    return "urn:feature-gateway:problem:" + title.lower().replace(" ", "-")


class GatewayApi(OwnErrorResponsesApi):
    """flask-smorest's Api with its HTTP error payload replaced by problem+json.

    Error responses are documented per endpoint (``ApiBlueprint.problems``) rather than as a
    catch-all ``default`` response, so the document says which statuses each endpoint
    returns and a response with any other status breaks the contract.
    """

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def error_responses(self) -> dict[str, dict[str, Any]]:
        # Replaces flask-smorest's, which documents errors as application/json.
        return {
            status.name: {
                "description": PROBLEM_DESCRIPTIONS.get(status, status.phrase),
                "content": {PROBLEM_MIMETYPE: {"schema": self.ERROR_SCHEMA}},
            }
            for status in HTTPStatus
            if status >= 400
        }

    def handle_http_exception(self, error: HTTPException) -> Response:
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        # Keep what werkzeug says in headers (e.g. 405's Allow), not its HTML content type.
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        headers.update(data.get("headers") or {})
        raw_errors = data.get("errors") or data.get("messages")
        errors = flatten_errors(raw_errors) if isinstance(raw_errors, Mapping) else None
        if status == 422 and errors:
            detail = _validation_detail(errors)
        elif status == 400 and errors:
            detail = _HTTP_DETAILS[400]
            errors = {"body": ["Invalid JSON body."]}
        else:
            detail = data.get("message") or _HTTP_DETAILS.get(status) or str(error.description)
        if status == 422:  # the same type and title as the domain's validation errors
            title = http_status_for(ValidationError(detail))[1]
            return problem_response(
                status, title, detail, errors=errors, headers=headers, problem_type=_slug(title)
            )
        return problem_response(status, error.name, detail, errors=errors, headers=headers)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(GatewayError)
    def _domain_error(error: GatewayError) -> Response:
        status, title = http_status_for(error)
        if status >= 500:
            logger.warning("request failed: %s", error.detail, exc_info=error.__cause__)
        return problem_response(
            status,
            title,
            error.detail,
            errors=error.errors,
            problem_type=_slug(title),
            headers=error.headers,
        )

    @app.errorhandler(Exception)
    def _unexpected_error(error: Exception) -> Response:
        if isinstance(error, HTTPException):  # raised outside smorest's reach
            return app.extensions["gateway_api"].handle_http_exception(error)  # type: ignore[no-any-return]
        logger.exception("unhandled error")
        return problem_response(500, "Internal Server Error", _HTTP_DETAILS[500])
