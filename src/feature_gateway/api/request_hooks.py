"""Checks every request passes before parsing, request ids, the access log and metrics."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from flask import Flask, Response, g, has_request_context, request
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from feature_gateway.api.ops.metrics import IN_PROGRESS, observe_request

REQUEST_ID_HEADER = "X-Request-ID"
# A caller-supplied id is echoed only if it is short and harmless in a log line.
_REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
access_log = logging.getLogger("feature_gateway.access")


class RequestIdFilter(logging.Filter):
    """Stamps the current request's id on every log record emitted while handling it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and has_request_context():
            record.request_id = g.get("request_id")
        return True


def register_request_hooks(
    app: Flask, max_body_bytes: int, authenticate: Callable[[], None]
) -> None:
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        IN_PROGRESS.inc()
        supplied = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = supplied if _REQUEST_ID_PATTERN.fullmatch(supplied) else uuid.uuid4().hex
        # Who the caller is comes first: without a valid token, 401 whatever the body is.
        authenticate()
        # webargs would turn a non-JSON body into a 422 "missing field"; say what is wrong.
        if request.method in _BODY_METHODS and request.url_rule is not None:
            if not request.is_json:
                raise UnsupportedMediaType()
            _check_body_size(max_body_bytes)

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        # Browsers must not guess another type than the one sent (JSON shown as HTML).
        response.headers["X-Content-Type-Options"] = "nosniff"
        started = g.get("started")
        if started is None:
            return response
        duration_s = time.perf_counter() - started
        endpoint = request.url_rule.rule if request.url_rule is not None else None
        observe_request(request.method, endpoint, response.status_code, duration_s)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "endpoint": endpoint,
                    "status": response.status_code,
                    "duration_ms": round(duration_s * 1000, 2),
                    "request_id": request_id,
                    "role": g.get("role"),
                    "principal": getattr(g.get("principal"), "name", None),
                    "remote_addr": request.remote_addr,
                },
            )
        return response

    @app.teardown_request
    def _done(_error: BaseException | None) -> None:
        if g.pop("started", None) is not None:
            IN_PROGRESS.dec()


def _check_body_size(max_body_bytes: int) -> None:
    """413 for a body over the limit, whether its length is declared or not.

    A chunked body has no Content-Length; werkzeug then stops reading at the limit and
    hands over the truncated body, which would be reported as malformed JSON (400). So it
    is read here (cached for the parser) with room for one byte more than allowed: a body
    that uses it is over the limit.
    """
    if request.content_length is not None:
        if request.content_length > max_body_bytes:
            raise RequestEntityTooLarge()
        return
    request.max_content_length = max_body_bytes + 1
    if len(request.get_data(cache=True)) > max_body_bytes:
        raise RequestEntityTooLarge()
