"""Checks every request passes before parsing, request ids, and the one-line access log."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

REQUEST_ID_HEADER = "X-Request-ID"
# A caller-supplied id is echoed only if it is short and harmless in a log line.
_REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
access_log = logging.getLogger("feature_gateway.access")


def register_request_hooks(app: Flask, max_body_bytes: int) -> None:
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        supplied = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = supplied if _REQUEST_ID_PATTERN.fullmatch(supplied) else uuid.uuid4().hex
        # webargs would turn a non-JSON body into a 422 "missing field"; say what is wrong.
        if request.method in _BODY_METHODS and request.url_rule is not None:
            if request.content_length is not None and request.content_length > max_body_bytes:
                raise RequestEntityTooLarge()
            if not request.is_json:
                raise UnsupportedMediaType()

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        if access_log.isEnabledFor(logging.INFO):
            started = g.get("started")
            duration_ms = (time.perf_counter() - started) * 1000 if started else None
            access_log.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": None if duration_ms is None else round(duration_ms, 2),
                    "request_id": request_id,
                    "role": g.get("role"),
                    "remote_addr": request.remote_addr,
                },
            )
        return response
