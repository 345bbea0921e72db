"""Typed errors: one class per kind of RFC 9457 problem the service answers with.

The class is chosen by the problem's ``type`` where that says more than the status (a
separation-of-duties refusal is a 403 like a role refusal, but not the same thing to a
caller), else by the HTTP status. Every error carries ``status``, ``type``, ``title``,
``detail`` and, for validation errors, ``errors`` (field → messages).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PROBLEM_PREFIX = "urn:feature-gateway:problem:"


class FeatureGatewayError(Exception):
    """Anything the client raises for a call that did not succeed."""


class ConnectionFailed(FeatureGatewayError):
    """No answer before the call's deadline: the service could not be reached, or every
    attempt timed out or lost its connection. With a write, whether it was applied is
    unknown; calling again (a new call, a new Idempotency-Key) may apply it."""


class ApiError(FeatureGatewayError):
    """The service answered with an error (a problem+json body)."""

    def __init__(
        self,
        status: int,
        type: str = "about:blank",
        title: str = "",
        detail: str = "",
        errors: Mapping[str, list[str]] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}" if title else f"{status}: {detail}")
        self.status, self.type, self.title, self.detail = status, type, title, detail
        self.errors: dict[str, list[str]] = dict(errors or {})
        self.request_id = request_id


class BadRequest(ApiError):
    """400: the body was not valid JSON."""


class Unauthorized(ApiError):
    """401: no token, or an unknown, expired or revoked one (token mode)."""


class Forbidden(ApiError):
    """403: the role may not do this, or the token does not carry it, or an actor field
    names someone other than the token's principal."""


class SeparationOfDuties(Forbidden):
    """403: the caller may not act on this feature because of what they already did to it
    (created it, changed its definition, submitted or tested it), or, with
    ``APPROVAL=independent``, because they are a member of its owner."""


class Ownership(Forbidden):
    """403 (``OWNERSHIP=enforced``): the caller is not a member of the feature's owner, or
    names an owner they are not a member of."""


class NotFound(ApiError):
    """404: no such feature, token, webhook or delivery (or path)."""


class Conflict(ApiError):
    """409: the request conflicts with the resource's state."""


class AlreadyExists(Conflict):
    """409: the feature name is taken (deleted names included)."""


class InvalidTransition(Conflict):
    """409: the trigger is not allowed from the feature's current status."""


class FeatureImmutable(Conflict):
    """409: the feature is deployed, deleted, deprecated or retired."""


class ConcurrentModification(Conflict):
    """409: the feature changed since the revision sent in If-Match (or meanwhile)."""


class RequestInFlight(Conflict):
    """409: an earlier attempt of this call is still being processed (retried until the
    deadline; raised only when it passed)."""


class ResponseNotReplayable(Conflict):
    """409: an earlier attempt was processed, but its answer held a secret shown only once
    (a new token or webhook secret), so it was not kept: look up what it made."""


class PayloadTooLarge(ApiError):
    """413: the body is larger than the service accepts."""


class UnsupportedMediaType(ApiError):
    """415: the body was not sent as JSON."""


class ValidationError(ApiError):
    """422: invalid or missing fields; ``errors`` maps each field to its messages."""


class IdempotencyKeyReused(ValidationError):
    """422: the Idempotency-Key was used before for another request."""


class ServerError(ApiError):
    """500 (or another 5xx the service does not retry)."""


class ServiceUnavailable(ServerError):
    """503 (or 502/504 from a proxy) until the call's deadline passed."""


_BY_TYPE: dict[str, type[ApiError]] = {
    PROBLEM_PREFIX + slug: kind
    for slug, kind in {
        "separation-of-duties": SeparationOfDuties,
        "ownership": Ownership,
        "feature-already-exists": AlreadyExists,
        "invalid-status-transition": InvalidTransition,
        "feature-immutable": FeatureImmutable,
        "concurrent-modification": ConcurrentModification,
        "request-in-flight": RequestInFlight,
        "response-not-replayable": ResponseNotReplayable,
        "idempotency-key-reused": IdempotencyKeyReused,
    }.items()
}
_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: ValidationError,
    502: ServiceUnavailable,
    503: ServiceUnavailable,
    504: ServiceUnavailable,
}


def error_for(status: int, problem: Any, fallback_detail: str = "") -> ApiError:
    """The typed error for an error response: its status and its (parsed) body."""
    body: Mapping[str, Any] = problem if isinstance(problem, Mapping) else {}
    problem_type = str(body.get("type") or "about:blank")
    kind = _BY_TYPE.get(problem_type) or _BY_STATUS.get(status)
    if kind is None:
        kind = ServerError if status >= 500 else ApiError
    errors = body.get("errors")
    return kind(
        status,
        type=problem_type,
        title=str(body.get("title") or ""),
        detail=str(body.get("detail") or fallback_detail),
        errors=errors if isinstance(errors, Mapping) else None,
        request_id=body.get("request_id"),
    )
