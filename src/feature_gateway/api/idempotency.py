"""The ``Idempotency-Key`` header on every writing POST (SPEC §11).

``ApiBlueprint.route`` wraps every POST view with ``idempotent`` unless the route is
declared ``reads_only=True`` (the POST reads: they change nothing, so a retry is safe as
it is, and the header is ignored there). The view is handed the Database it writes
through as its ``db`` parameter: the application's without the header; with it, the one of
the request's transaction, which ``services.idempotency.keyed_write`` opens, stores the
view's response in and commits; a repeat gets the stored response with
``Idempotent-Replayed: true``. This module only turns the request into its identity and
the view's response into what is stored, and a stored response back into a response.

A response marked ``Cache-Control: no-store`` (a new API token: its secret is shown once,
and only its hash may be kept) is not stored as it is: a replay answers 409, saying the
first request was processed and what it made can be looked up.

Every answer the endpoint gives is stored, refusals (4xx) included, so that a repeat is
answered the same. Not stored: 5xx (the change was rolled back: the key is freed for a
retry), and what is answered before the endpoint runs: 401, 413, 415, malformed JSON (400)
and an invalid key (422); those change nothing and a fixed request may use the key.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

import orjson
from flask import Flask, Request, Response, current_app, request

from feature_gateway.api.body_outline import OUTLINED_FROM_BYTES, opens_past_orjsons_depth
from feature_gateway.api.canonical_body import canonical_pieces
from feature_gateway.api.problems import problem_response
from feature_gateway.api.revisions import IF_MATCH
from feature_gateway.domain.idempotency import (
    INVALID_KEY,
    KEY_PATTERN,
    MAX_KEY_LENGTH,
    RequestIdentity,
    fingerprint,
    fingerprint_of_canonical,
    is_valid_key,
)
from feature_gateway.domain.identity import folded
from feature_gateway.errors import IDEMPOTENCY_KEY_HEADER, ValidationError
from feature_gateway.services import idempotency
from feature_gateway.services.clock import now_ms
from feature_gateway.shapes.role_schemas import ROLE_HEADER
from feature_gateway.web.caller import principal
from feature_gateway.web.context import database, gateway

F = TypeVar("F", bound=Callable[..., Any])

REPLAYED_HEADER = "Idempotent-Replayed"
# The response headers a replay repeats (the others describe the exchange, not the answer).
STORED_HEADERS = ("Content-Type", "ETag", "Location", "Retry-After")
# The request headers that change what a write means, so they are part of its fingerprint.
MEANINGFUL_HEADERS = (IF_MATCH, ROLE_HEADER)
# Each with its WSGI environ key, read there: werkzeug's ``headers.get`` of a header not sent
# raises and catches an HTTP exception, which was a tenth of what a key added to a create
# (docs/performance.md, "i28-keyed").
_MEANINGFUL_ENVIRON = tuple((name, "HTTP_" + name.upper().replace("-", "_"))
                            for name in MEANINGFUL_HEADERS)  # fmt: skip
_KEY_ENVIRON = "HTTP_" + IDEMPOTENCY_KEY_HEADER.upper().replace("-", "_")
_STORED_LOWER = tuple((name, name.lower()) for name in STORED_HEADERS)

IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": IDEMPOTENCY_KEY_HEADER,
    "required": False,
    "description": "Makes the write safe to retry: a unique value per intended change (e.g. "
    "a UUID). The first request with a key is processed and its response kept for "
    "IDEMPOTENCY_TTL_S (24 h by default); a repeat with the same key and the same request "
    f"gets that response again with `{REPLAYED_HEADER}: true` and changes nothing. The same "
    "key with another body, other headers or on another endpoint → 422; while the first "
    "request is still being processed → 409 (retry shortly). Keys belong to the principal "
    f"in token mode, to everyone in trust mode. 1 to {MAX_KEY_LENGTH} printable ASCII "
    "characters.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH,
               "pattern": f"^{KEY_PATTERN}$"},
}  # fmt: skip
IDEMPOTENCY_STATUSES = (409, 422)


def idempotent(view: F) -> F:
    """Wrap a writing view: with an Idempotency-Key, process it once and replay it after.

    The view takes the Database it writes through as ``db`` (a TypeError here otherwise)
    and reaches for no other, so that its change is the request transaction's.
    """
    if "db" not in inspect.signature(view).parameters:
        raise TypeError(f"{view.__name__}: a keyed write's view takes the Database as db")

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        current = request._get_current_object()  # type: ignore[attr-defined]
        raw = current.environ.get(_KEY_ENVIRON)
        identity = None if raw is None else _identity(current, raw)
        if identity is None:  # no key, or not JSON: the view answers 400, which is not stored
            return view(*args, db=database(), **kwargs)
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        found = gateway()
        configured = found.settings
        answer = idempotency.keyed_write(
            found.database,
            identity,
            _policy(configured.idempotency_ttl_s, configured.idempotency_lease_s),
            now_ms,
            lambda db: _respond(app, functools.partial(view, *args, db=db, **kwargs)),
            functools.partial(_kept, key=identity.key),
        )
        if isinstance(answer, idempotency.StoredResponse):
            return _replay(app, answer)
        return answer

    return cast(F, wrapper)


def _identity(current: Request, raw: str) -> RequestIdentity | None:
    """The identity of ``current`` (the request itself, not Flask's proxy of it: each
    attribute read through the proxy looks the request up again)."""
    key = raw.strip()
    if not is_valid_key(key):
        raise ValidationError.for_field(IDEMPOTENCY_KEY_HEADER, INVALID_KEY)
    data = current.get_data(cache=True)
    # A large body's canonical JSON read without building it (the same fingerprint).
    large = len(data) >= OUTLINED_FROM_BYTES
    canonical = canonical_pieces(data) if large else None
    if canonical is None:
        if large and opens_past_orjsons_depth(data):  # orjson refuses it, after a copy
            return None
        try:
            body = orjson.loads(data or b"null")
        except orjson.JSONDecodeError:
            return None
    caller = principal()
    environ = current.environ
    method, path = current.method, current.path
    query = current.args.items(multi=True) if current.query_string else ()
    headers = [(name, environ.get(environ_key)) for name, environ_key in _MEANINGFUL_ENVIRON]
    return RequestIdentity(
        scope=folded(caller.name) if caller is not None else "",
        key=key,
        method=method,
        path=path,
        fingerprint=(
            fingerprint(method, path, body, query=query, headers=headers)
            if canonical is None
            else fingerprint_of_canonical(method, path, canonical, query=query, headers=headers)
        ),
    )


@functools.lru_cache(maxsize=8)  # the settings' one, made once
def _policy(ttl_s: int, lease_s: int) -> idempotency.Policy:
    return idempotency.Policy(ttl_ms=ttl_s * 1000, lease_ms=lease_s * 1000)


def _kept(response: Response, key: str) -> idempotency.StoredResponse:
    """What is stored of ``response`` for replays (a server error keeps its status, which
    the service never stores)."""
    sent = _sent(response)
    if response.status_code < 500 and "no-store" in sent.get("cache-control", ""):
        response = problem_response(
            409,
            "Response Not Replayable",
            f"The request with Idempotency-Key {key!r} was processed (status "
            f"{response.status_code}), and its response held a secret shown only once, so it "
            "was not kept; nothing was done again. Look up what it made (e.g. GET /tokens).",
            problem_type="urn:feature-gateway:problem:response-not-replayable",
        )
        sent = _sent(response)
    headers = {name: sent[lower] for name, lower in _STORED_LOWER if lower in sent}
    return idempotency.StoredResponse(response.status_code, headers, response.get_data())


def _sent(response: Response) -> dict[str, str]:
    """The response's headers by lower-case name, the first of each (as ``headers[name]``
    gives), read in one pass: ``headers[name]`` of one not there raises and catches."""
    sent: dict[str, str] = {}
    for name, value in response.headers.items():
        sent.setdefault(name.lower(), value)
    return sent


def _respond(app: Flask, view: Callable[[], Any]) -> Response:
    """The view's response, error responses included, as Flask would make it: the response
    must exist before the transaction ends, to be stored in it."""
    try:
        return app.make_response(view())
    except Exception as exc:  # answered by the app's own error handlers
        return app.make_response(app.handle_user_exception(exc))


def _replay(app: Flask, stored: idempotency.StoredResponse) -> Response:
    response = app.response_class(stored.body, status=stored.status)
    response.headers.update(stored.headers)
    response.headers[REPLAYED_HEADER] = "true"
    return response
