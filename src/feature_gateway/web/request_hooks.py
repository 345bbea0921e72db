"""What every request passes, whichever front door answers it: its id, who the caller is
(``web.caller``), the body checks before parsing, the access log and metrics."""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from flask import Flask, Request, Response, g, has_request_context, request
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.wsgi import get_content_length

from feature_gateway.framework_adapter import (
    BODY_PIECE_BYTES,
    read_body_in_one_buffer,
    set_header,
)
from feature_gateway.observability import RecordMaker
from feature_gateway.web.access import is_console
from feature_gateway.web.caller import authenticate_request, no_caller_yet
from feature_gateway.web.metrics import request_answered, request_started

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_ENVIRON = "HTTP_X_REQUEST_ID"
# A caller-supplied id is echoed only if it is short and harmless in a log line.
_REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
access_log = logging.getLogger("feature_gateway.access")
_access_records = RecordMaker(access_log, logging.INFO, "request", __file__)


class RequestIdFilter(logging.Filter):
    """Stamps the current request's id on every log record emitted while handling it."""

    # It only adds this attribute to a record that has none: a record carrying it passes
    # unchanged (``observability.RecordMaker.log`` writes such lines directly).
    STAMPS = ("request_id",)

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and has_request_context():
            record.request_id = g.get("request_id")
        return True


def register_request_hooks(app: Flask, max_body_bytes: int, *, token_mode: bool) -> None:
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    config = app.config

    @app.before_request
    def _start() -> None:
        # The objects behind the proxies, looked up once: every proxy access is a lookup.
        context = g._get_current_object()
        current: Request = request._get_current_object()  # type: ignore[attr-defined]
        context.started = time.perf_counter()
        request_started()
        supplied = current.environ.get(_REQUEST_ID_ENVIRON, "")
        valid = supplied and _REQUEST_ID_PATTERN.fullmatch(supplied)
        context.request_id = supplied if valid else secrets.token_hex(16)
        # Who the caller is comes first: without a valid token, 401 whatever the body is.
        if token_mode:
            authenticate_request()
        else:  # trust mode: an API request has no principal (the console may name one)
            no_caller_yet(context)
        # webargs would turn a non-JSON body into a 422 "missing field"; say what is wrong.
        if current.method in _BODY_METHODS and current.url_rule is not None:
            if is_console(current.endpoint):  # HTML forms; MAX_CONTENT_LENGTH still applies
                return
            if not current.is_json:
                raise UnsupportedMediaType()
            # The app's limit set on the request (Flask 3.1's per-request setter), as its
            # getter would find it: through the ``current_app`` proxy, an AttributeError
            # made and dropped, when the body is read (docs/performance.md, "i29-serving").
            current.max_content_length = config["MAX_CONTENT_LENGTH"]
            _check_body_size(current, max_body_bytes)

    @app.after_request
    def _finish(response: Response) -> Response:
        # Browsers must not guess another type than the one sent (JSON shown as HTML).
        set_header(response.headers, "X-Content-Type-Options", "nosniff")
        # Flask runs this for every response, error responses included, so the request
        # ends here (or when a streamed body is complete), with no teardown hook of its own.
        context = g._get_current_object()
        # g's attributes are its __dict__ (its own get and pop read it): read there, without
        # a call of theirs each.
        values = context.__dict__
        started = values.pop("started", None)
        if started is None:
            return response
        set_header(response.headers, REQUEST_ID_HEADER, values["request_id"])
        fields = _access_fields(context, response.status_code)
        if response.is_streamed:  # the body is yet to be computed and sent: count it in
            response.call_on_close(lambda: _request_done(started, fields))
        else:
            _request_done(started, fields)
        return response


def _access_fields(context: Any, status: int) -> dict[str, Any]:
    """What the access line says of the request (``context``: its ``g``), read while its
    context is there."""
    current: Request = request._get_current_object()  # type: ignore[attr-defined]
    rule = current.url_rule
    values = context.__dict__  # (as in _finish)
    return {
        "method": current.method,
        "path": current.path,
        "endpoint": rule.rule if rule is not None else None,
        "status": status,
        "duration_ms": 0.0,
        "request_id": values["request_id"],
        "role": values.get("role"),
        "principal": getattr(values.get("principal"), "name", None),
        "remote_addr": current.remote_addr,
    }


def _request_done(started: float, fields: dict[str, Any]) -> None:
    """Metrics and the access line, once the response is complete."""
    duration_s = time.perf_counter() - started
    request_answered(fields["method"], fields["endpoint"], fields["status"], duration_s)
    fields["duration_ms"] = round(duration_s * 1000, 2)
    # Not Logger.info: what it would add is the caller's file and line, a walk up the stack,
    # which the line does not show.
    _access_records.log(fields)


def _check_body_size(current: Request, max_body_bytes: int) -> None:
    """413 for a body over the limit, whether its length is declared or not.

    A chunked body has no Content-Length; werkzeug then stops reading at the limit and
    hands over the truncated body, which would be reported as malformed JSON (400). So it
    is read here (cached for the parser) with room for one byte more than allowed: a body
    that uses it is over the limit.
    """
    # werkzeug's own reading of the two headers, from the environ: the request's
    # ``content_length`` reads them through its headers, whose lookup of an absent one
    # (Transfer-Encoding, nearly always) raises and catches a KeyError.
    declared = get_content_length(current.environ)
    if declared is not None:
        if declared > max_body_bytes:
            raise RequestEntityTooLarge()
        # Past one of werkzeug's pieces, read into one buffer of the declared length, not
        # grown and copied by werkzeug (docs/performance.md, "i30-refused").
        if declared > BODY_PIECE_BYTES:
            read_body_in_one_buffer(current, declared)
        return
    current.max_content_length = max_body_bytes + 1
    if len(current.get_data(cache=True)) > max_body_bytes:
        raise RequestEntityTooLarge()
