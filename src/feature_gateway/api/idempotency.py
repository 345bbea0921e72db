"""The ``Idempotency-Key`` header on every writing POST (SPEC §11).

``ApiBlueprint.route`` wraps every POST view with ``idempotent`` unless the route is
declared ``reads_only=True`` (the POST reads: they change nothing, so a retry is safe as
it is, and the header is ignored there). With the header, the view runs inside one
transaction (``db.transactions``) that also stores its response, then commits; a repeat
gets the stored response with ``Idempotent-Replayed: true``. Without it, nothing changes.

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
from collections.abc import Callable
from typing import Any, TypeVar, cast

import orjson
from flask import Response, current_app, g, request

from feature_gateway.api.problems import problem_response
from feature_gateway.api.revisions import IF_MATCH
from feature_gateway.domain.idempotency import (
    INVALID_KEY,
    KEY_PATTERN,
    MAX_KEY_LENGTH,
    RequestIdentity,
    fingerprint,
    is_valid_key,
)
from feature_gateway.domain.identity import folded
from feature_gateway.errors import IDEMPOTENCY_KEY_HEADER, ValidationError
from feature_gateway.services import idempotency
from feature_gateway.services.clock import now_ms
from feature_gateway.shapes.role_schemas import ROLE_HEADER
from feature_gateway.web.caller import principal
from feature_gateway.web.context import REQUEST_DATABASE, database, settings

F = TypeVar("F", bound=Callable[..., Any])

REPLAYED_HEADER = "Idempotent-Replayed"
# The response headers a replay repeats (the others describe the exchange, not the answer).
STORED_HEADERS = ("Content-Type", "ETag", "Location", "Retry-After")
# The request headers that change what a write means, so they are part of its fingerprint.
MEANINGFUL_HEADERS = (IF_MATCH, ROLE_HEADER)

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
    """Wrap a writing view: with an Idempotency-Key, process it once and replay it after."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        raw = request.headers.get(IDEMPOTENCY_KEY_HEADER)
        if raw is None:
            return view(*args, **kwargs)
        identity = _identity(raw)
        if identity is None:  # not JSON: the view answers 400, which is not stored
            return view(*args, **kwargs)
        policy = _policy()
        outcome = idempotency.claim(database(), identity, policy, now_ms())
        if isinstance(outcome, idempotency.StoredResponse):
            return _replay(outcome)
        return _run_claimed(outcome, policy, functools.partial(view, *args, **kwargs))

    return cast(F, wrapper)


def _identity(raw: str) -> RequestIdentity | None:
    key = raw.strip()
    if not is_valid_key(key):
        raise ValidationError.for_field(IDEMPOTENCY_KEY_HEADER, INVALID_KEY)
    try:
        body = orjson.loads(request.get_data(cache=True) or b"null")
    except orjson.JSONDecodeError:
        return None
    caller = principal()
    return RequestIdentity(
        scope=folded(caller.name) if caller is not None else "",
        key=key,
        method=request.method,
        path=request.path,
        fingerprint=fingerprint(
            request.method,
            request.path,
            body,
            query=request.args.items(multi=True),
            headers=[(name, request.headers.get(name)) for name in MEANINGFUL_HEADERS],
        ),
    )


def _policy() -> idempotency.Policy:
    configured = settings()
    return idempotency.Policy(
        ttl_ms=configured.idempotency_ttl_s * 1000, lease_ms=configured.idempotency_lease_s * 1000
    )


def _run_claimed(
    claimed: idempotency.Claim, policy: idempotency.Policy, view: Callable[[], Any]
) -> Response:
    shared = database()
    try:
        with shared.request_transaction() as transaction:
            response = _respond(view, transaction.database)
            if response.status_code < 500:
                stored = _kept(response, claimed.request.key)
                idempotency.complete(transaction, claimed, stored, policy, now_ms())
                transaction.commit()
                return response
    except Exception:
        # Not stored (the database failed, or the claim was taken over): rolled back. The
        # release only deletes a claim that is still this request's.
        idempotency.release(shared, claimed)
        raise
    # A failure: its change was rolled back; free the key for a retry now, not after the lease.
    idempotency.release(shared, claimed)
    return response


def _kept(response: Response, key: str) -> idempotency.StoredResponse:
    """What is stored of ``response`` for replays."""
    if "no-store" in response.headers.get("Cache-Control", ""):
        response = problem_response(
            409,
            "Response Not Replayable",
            f"The request with Idempotency-Key {key!r} was processed (status "
            f"{response.status_code}), and its response held a secret shown only once, so it "
            "was not kept; nothing was done again. Look up what it made (e.g. GET /tokens).",
            problem_type="urn:feature-gateway:problem:response-not-replayable",
        )
    headers = {name: response.headers[name] for name in STORED_HEADERS if name in response.headers}
    return idempotency.StoredResponse(response.status_code, headers, response.get_data())


def _respond(view: Callable[[], Any], joined: Any) -> Response:
    """The view's response, error responses included, as Flask would make it: the response
    must exist before the transaction ends, to be stored in it."""
    g.setdefault(REQUEST_DATABASE, joined)
    try:
        return current_app.make_response(view())
    except Exception as exc:  # answered by the app's own error handlers
        return current_app.make_response(current_app.handle_user_exception(exc))
    finally:
        g.pop(REQUEST_DATABASE, None)


def _replay(stored: idempotency.StoredResponse) -> Response:
    response = current_app.response_class(stored.body, status=stored.status)
    response.headers.update(stored.headers)
    response.headers[REPLAYED_HEADER] = "true"
    return response
