"""The domain exception tree and the one table mapping each kind to an HTTP status.

Every error a use case can raise derives from ``GatewayError``; the HTTP layer turns it
into a problem+json body using ``HTTP_STATUS`` below, so no view ever catches one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

# An error body stays small whatever the request (SPEC §3): it lists at most this many
# messages and says how many more there were; a request breaking a rule this many times over
# is refused with one message before each breach is looked at.
MAX_ERROR_MESSAGES = 50


class GatewayError(Exception):
    """Base of every error the service reports to a client."""

    # Response headers the error needs (e.g. WWW-Authenticate on a 401).
    headers: Mapping[str, str] = {}

    def __init__(self, detail: str, errors: Mapping[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = dict(errors) if errors else None


class ValidationError(GatewayError):
    """Input is well-formed JSON but breaks a domain rule (422)."""

    @classmethod
    def for_field(cls, field: str, message: str) -> ValidationError:
        return cls(f"Invalid value for '{field}': {message}", {field: [message]})


class RoleRequiredError(ValidationError):
    """No role, or one that is not a known role, where a role is required (422)."""


# The realm of the bearer tokens, named in every WWW-Authenticate challenge.
AUTH_REALM = "feature-gateway"


class AuthenticationError(GatewayError):
    """No valid API token where one is required (401, SPEC §7; challenge as in RFC 6750)."""

    def __init__(self, detail: str, *, token_sent: bool) -> None:
        super().__init__(detail)
        challenge = f'Bearer realm="{AUTH_REALM}"'
        if token_sent:
            challenge += ', error="invalid_token"'
        self.headers = {"WWW-Authenticate": challenge}


class PermissionDeniedError(GatewayError):
    """The caller is known but may not do this (403)."""


class ForbiddenError(PermissionDeniedError):
    def __init__(self, role: str, action: str, allowed: Iterable[str]) -> None:
        self.role, self.action, self.allowed = role, action, sorted(allowed)
        super().__init__(
            f"Role '{role}' may not {action}; allowed roles: {', '.join(self.allowed)}."
        )


class TokenManagementDisabledError(PermissionDeniedError):
    def __init__(self) -> None:
        super().__init__(
            "API tokens cannot be managed over HTTP in trust mode (AUTH_MODE=trust), where "
            "anyone may claim any role; use the command line instead: "
            "feature-gateway tokens create|list|revoke."
        )


class WebhookManagementDisabledError(PermissionDeniedError):
    def __init__(self) -> None:
        super().__init__(
            "Webhooks cannot be managed over HTTP in trust mode (AUTH_MODE=trust), where "
            "anyone may claim any role; use the command line instead: "
            "feature-gateway webhooks create|list|delete."
        )


class RoleNotGrantedError(PermissionDeniedError):
    def __init__(self, principal: str, role: str, granted: Iterable[str]) -> None:
        self.principal, self.role = principal, role
        super().__init__(
            f"The token of {principal} does not carry the role '{role}'; "
            f"it carries: {', '.join(sorted(granted)) or 'none'}."
        )


class NoRoleMayActError(PermissionDeniedError):
    def __init__(
        self, principal: str, action: str, granted: Iterable[str], allowed: Iterable[str]
    ) -> None:
        self.principal, self.action = principal, action
        carried = ", ".join(sorted(granted)) or "none"
        super().__init__(
            f"The token of {principal} carries no role that may {action} "
            f"(it carries: {carried}; allowed roles: {', '.join(sorted(allowed))})."
        )


class ActingAsAnotherPrincipalError(PermissionDeniedError):
    def __init__(self, principal: str, field: str, named: str) -> None:
        self.principal, self.field, self.named = principal, field, named
        super().__init__(
            f"Acting as another principal: the token is {principal}'s, but {field} names "
            f"{named!r}. Leave {field} out, or give your own name."
        )


class SeparationOfDutiesError(PermissionDeniedError):
    def __init__(self, player: str, part: str, actor: str, trigger: str) -> None:
        self.player, self.actor, self.trigger = player, actor, trigger
        super().__init__(f"Separation of duties: {player} {part}, so {actor} cannot {trigger} it.")


class FeatureNotFoundError(GatewayError):
    def __init__(self, feature_name: str) -> None:
        self.feature_name = feature_name
        super().__init__(f"Feature '{feature_name}' does not exist.")


class TokenNotFoundError(GatewayError):
    def __init__(self, token_id: str) -> None:
        self.token_id = token_id
        super().__init__(f"Token '{token_id}' does not exist.")


class WebhookNotFoundError(GatewayError):
    def __init__(self, webhook_id: str) -> None:
        self.webhook_id = webhook_id
        super().__init__(f"Webhook '{webhook_id}' does not exist.")


class DeliveryNotFoundError(GatewayError):
    def __init__(self, webhook_id: str, delivery_id: int) -> None:
        self.webhook_id, self.delivery_id = webhook_id, delivery_id
        super().__init__(f"Webhook '{webhook_id}' has no delivery {delivery_id}.")


class ConflictError(GatewayError):
    """The request is valid but conflicts with the stored state (409)."""


class FeatureAlreadyExistsError(ConflictError):
    def __init__(
        self, feature_name: str, status: str | None = None, stored_as: str | None = None
    ) -> None:
        self.feature_name = feature_name
        spelled = (
            f" as '{stored_as}' (the same version)"
            if stored_as and stored_as != feature_name
            else ""
        )
        hint = (
            " Deleted names cannot be reused: create a new version." if status == "DELETED" else ""
        )
        super().__init__(f"Feature '{feature_name}' already exists{spelled}.{hint}")


class InvalidTransitionError(ConflictError):
    def __init__(self, feature_name: str, trigger: str, current: str, allowed: Iterable[str]):
        self.feature_name, self.trigger, self.current = feature_name, trigger, current
        self.allowed = sorted(allowed)
        sources = ", ".join(self.allowed) or "no state"
        super().__init__(
            f"Cannot {trigger} feature '{feature_name}' in status {current}; "
            f"'{trigger}' is allowed only from: {sources}."
        )


class FeatureImmutableError(ConflictError):
    def __init__(self, feature_name: str, status: str) -> None:
        self.feature_name, self.status = feature_name, status
        super().__init__(
            f"Feature '{feature_name}' is {status} and can no longer be changed; "
            "create a new version instead."
        )


class FeatureStillReadError(ConflictError):
    """A guarded trigger (retire) on a feature read in the quiet period (409, SPEC §13);
    ``detail`` names the readers (``domain.usage.still_read_detail``)."""

    def __init__(self, feature_name: str, readers: Sequence[object], detail: str) -> None:
        self.feature_name, self.readers = feature_name, list(readers)
        super().__init__(detail)


class ConcurrentModificationError(ConflictError):
    def __init__(
        self,
        feature_name: str,
        expected: Iterable[int] | None = None,
        actual: int | None = None,
    ) -> None:
        self.feature_name, self.expected, self.actual = feature_name, expected, actual
        if expected is None:
            detail = (
                f"Feature '{feature_name}' was changed by another request at the same time; "
                "reload it and try again."
            )
        else:
            wanted = " or ".join(str(revision) for revision in sorted(expected))
            detail = (
                f"Feature '{feature_name}' is at revision {actual}, not {wanted} as "
                "If-Match expects: it was changed since you read it; reload it and try again."
            )
        super().__init__(detail)


IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"


class IdempotencyKeyReusedError(GatewayError):
    """An Idempotency-Key sent again with another request than the first (422)."""

    def __init__(self, key: str, first_method: str, first_path: str, same_path: bool) -> None:
        self.key = key
        what = "another body or other headers" if same_path else "another endpoint"
        message = (
            f"This key was first used for {first_method} {first_path}; this request differs "
            f"({what}). Use a new key for a new request."
        )
        super().__init__(
            f"Idempotency-Key {key!r} was already used for a different request: {message}",
            {IDEMPOTENCY_KEY_HEADER: [message]},
        )


class RequestInFlightError(ConflictError):
    """The first request with this Idempotency-Key has not finished yet (409)."""

    def __init__(self, key: str, retry_after_s: int) -> None:
        self.key = key
        super().__init__(
            f"A request with Idempotency-Key {key!r} is still being processed; retry in a "
            "moment to get its response."
        )
        self.headers = {"Retry-After": str(retry_after_s)}


class IdempotencyClaimLostError(ConflictError):
    """A keyed request outlived its lease and a retry took its key over (409)."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(
            f"The request with Idempotency-Key {key!r} took too long and a retry took the key "
            "over; this attempt changed nothing. Retry to get the retry's response."
        )


class DatabaseUnavailableError(GatewayError):
    def __init__(self, detail: str = "The database is unavailable; try again shortly.") -> None:
        super().__init__(detail)


# Seconds a client is told to wait before retrying a write refused for lack of storage.
STORAGE_FULL_RETRY_AFTER_S = 30


class DatabaseStorageFullError(DatabaseUnavailableError):
    """The database has no room left to write (SQLite's disk, PostgreSQL's DiskFull).

    Nothing was written: the transaction was rolled back. Reads still work, and writes work
    again by themselves once an operator frees space."""

    headers = {"Retry-After": str(STORAGE_FULL_RETRY_AFTER_S)}

    def __init__(self) -> None:
        super().__init__(
            "The database storage is full, so nothing was written; reads still work. "
            "Try the write again later."
        )


class IdentityProviderUnavailableError(GatewayError):
    """A JWT's key is not cached and the OpenID Connect provider cannot be reached to fetch
    it (503 with Retry-After, SPEC §12): the caller's token may well be valid, so this is
    not a 401. API tokens are not affected."""

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s
        self.headers = {"Retry-After": str(retry_after_s)}


# The one mapping from domain errors to HTTP: (status, problem title). Most specific first.
HTTP_STATUS: list[tuple[type[GatewayError], int, str]] = [
    (ValidationError, 422, "Unprocessable Content"),
    (IdempotencyKeyReusedError, 422, "Idempotency Key Reused"),
    (AuthenticationError, 401, "Unauthorized"),
    # Its own type, so that a client tells "not you, for this feature" from "not your role".
    (SeparationOfDutiesError, 403, "Separation of Duties"),
    (PermissionDeniedError, 403, "Forbidden"),
    (FeatureNotFoundError, 404, "Feature Not Found"),
    (TokenNotFoundError, 404, "Token Not Found"),
    (WebhookNotFoundError, 404, "Webhook Not Found"),
    (DeliveryNotFoundError, 404, "Delivery Not Found"),
    (FeatureAlreadyExistsError, 409, "Feature Already Exists"),
    (InvalidTransitionError, 409, "Invalid Status Transition"),
    (FeatureStillReadError, 409, "Feature Still Read"),
    (FeatureImmutableError, 409, "Feature Immutable"),
    (ConcurrentModificationError, 409, "Concurrent Modification"),
    (RequestInFlightError, 409, "Request In Flight"),
    (IdempotencyClaimLostError, 409, "Idempotency Key Taken Over"),
    (ConflictError, 409, "Conflict"),
    (DatabaseUnavailableError, 503, "Service Unavailable"),
    (IdentityProviderUnavailableError, 503, "Identity Provider Unavailable"),
    (GatewayError, 400, "Bad Request"),
]


def http_status_for(error: GatewayError) -> tuple[int, str]:
    for kind, status, title in HTTP_STATUS:
        if isinstance(error, kind):
            return status, title
    raise AssertionError("GatewayError is the last row")  # pragma: no cover
