"""One call of one operation: identity, Idempotency-Key, If-Match, retries, typed answers.

A logical call gets one Idempotency-Key (on the operations that take one) and its body is
serialised once, so every retry is the same request and the service applies it at most
once: a repeat of a processed write is answered from the service's stored response.
Retried, with exponential backoff and full jitter, until the call's deadline: timeouts,
connection errors, 502/503/504, and the 409s that say an earlier attempt of this call is
still running (or was taken over). Everything else is answered at once.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import httpx

from feature_gateway_client._decode import decode
from feature_gateway_client.errors import (
    PROBLEM_PREFIX,
    ApiError,
    ConnectionFailed,
    error_for,
)

T = TypeVar("T")
log = logging.getLogger("feature_gateway_client")

IDEMPOTENCY_KEY = "Idempotency-Key"
IF_MATCH = "If-Match"
RETRIED_STATUSES = frozenset({502, 503, 504})
# 409s that mean "an earlier attempt of this very call": retrying gets its stored answer.
RETRIED_CONFLICTS = frozenset(
    PROBLEM_PREFIX + slug for slug in ("request-in-flight", "idempotency-key-taken-over")
)
TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclass(frozen=True)
class Operation:
    """One operation of the OpenAPI document, as the generated methods send it."""

    name: str
    method: str
    path: str
    idempotency_key: bool = False  # a write: sent with a key, the same on every retry
    role_field: str | None = None  # where the acting role goes: a body field or a parameter
    role_in_body: bool = False
    actor_fields: tuple[str, ...] = ()  # body fields naming who acts (filled in trust mode)


class HasRevision(Protocol):
    @property
    def revision(self) -> int: ...


Revision = int | HasRevision
TokenSource = str | Callable[[], str]


@dataclass(frozen=True)
class RetryPolicy:
    """How long a call may take in all, and how retries are spaced."""

    deadline_s: float = 30.0  # the whole call, retries included
    timeout_s: float = 10.0  # one attempt (never beyond the deadline)
    base_delay_s: float = 0.1  # the first backoff's upper bound; doubles per retry
    max_delay_s: float = 5.0

    def delay(self, attempt: int, retry_after_s: float | None) -> float:
        ceiling = min(self.max_delay_s, self.base_delay_s * 2**attempt)
        jittered = random.uniform(0, ceiling)  # nosec B311: spacing, not security
        return max(jittered, retry_after_s or 0.0)


@dataclass(frozen=True)
class Identity:
    """Who the calls act as: a token (or a source of fresh JWTs), and in trust mode the
    claimed role and actor name."""

    token: TokenSource | None = None
    role: str | None = None
    actor: str | None = None

    @property
    def refreshable(self) -> bool:
        return callable(self.token)

    def authorization(self) -> dict[str, str]:
        if self.token is None:
            return {}
        token = self.token() if callable(self.token) else self.token
        return {"Authorization": f"Bearer {token}"}


class Transport:
    """The HTTP side of the client; the generated methods call ``_call``."""

    def __init__(
        self, http: httpx.Client, identity: Identity, retry: RetryPolicy, owns_http: bool
    ) -> None:
        self._http, self._identity, self._retry = http, identity, retry
        self._owns_http = owns_http

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def _call(
        self,
        operation: Operation,
        result: type[T],
        *,
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
        if_match: Revision | None = None,
    ) -> T:
        response = self._send(operation, path, query, body, headers, if_match)
        return decode(result, response.json())

    def _call_text(self, operation: Operation, **parts: Any) -> str:
        return self._send(operation, parts.get("path"), parts.get("query"), None, None, None).text

    def _send(
        self,
        operation: Operation,
        path: Mapping[str, Any] | None,
        query: Mapping[str, Any] | None,
        body: Mapping[str, Any] | None,
        headers: Mapping[str, Any] | None,
        if_match: Revision | None,
    ) -> httpx.Response:
        url = operation.path.format(
            **{k: quote(str(v), safe=":@") for k, v in (path or {}).items()}
        )
        params, sent = _present(query), _present(headers)
        content = None
        if operation.role_in_body or body is not None:
            content = json.dumps(self._with_identity(operation, _given(body))).encode()
            sent["Content-Type"] = "application/json"
        elif operation.role_field and self._identity.role:
            params.setdefault(operation.role_field, self._identity.role)
        if operation.idempotency_key:
            sent[IDEMPOTENCY_KEY] = str(uuid.uuid4())  # one per call, reused by its retries
        if if_match is not None:
            revision = if_match if isinstance(if_match, int) else if_match.revision
            sent[IF_MATCH] = f'"{revision}"'
        return self._with_retries(operation, url, params, content, sent)

    def _with_identity(self, operation: Operation, body: dict[str, Any]) -> dict[str, Any]:
        if operation.role_field and self._identity.role:
            body.setdefault(operation.role_field, self._identity.role)
        if self._identity.actor:
            for field in operation.actor_fields:
                body.setdefault(field, self._identity.actor)
        return body

    def _with_retries(
        self,
        operation: Operation,
        url: str,
        params: dict[str, Any],
        content: bytes | None,
        headers: dict[str, str],
    ) -> httpx.Response:
        deadline = time.monotonic() + self._retry.deadline_s
        attempt, refreshed = 0, False
        while True:
            remaining = deadline - time.monotonic()
            try:
                response = self._http.request(
                    operation.method, url, params=params, content=content,
                    headers={**headers, **self._identity.authorization()},
                    timeout=max(0.001, min(self._retry.timeout_s, remaining)),
                )  # fmt: skip
            except TRANSIENT as exc:
                failure: httpx.Response | Exception = exc
                retry_after = None
            else:
                if response.status_code == 401 and self._identity.refreshable and not refreshed:
                    refreshed = True  # the token source is asked again: a fresh JWT
                    continue
                if response.is_success or not _retried(response):
                    return _checked(response)
                failure, retry_after = response, _retry_after(response)
            delay = self._retry.delay(attempt, retry_after)
            if time.monotonic() + delay >= deadline:
                cause = failure if isinstance(failure, Exception) else None
                raise _final(failure, operation) from cause
            log.info("retrying %s in %.2f s after %s", operation.name, delay, _what(failure))
            time.sleep(delay)
            attempt += 1


def _given(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fields given (None: not sent); a body's are sent as they are (JSON booleans)."""
    return {key: value for key, value in (values or {}).items() if value is not None}


def _present(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """The query parameters and headers given, as the service reads them (text)."""
    return {
        key: "true" if value is True else "false" if value is False else value
        for key, value in _given(values).items()
    }


def _retried(response: httpx.Response) -> bool:
    if response.status_code in RETRIED_STATUSES:
        return True
    return response.status_code == 409 and _problem(response).get("type") in RETRIED_CONFLICTS


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _checked(response: httpx.Response) -> httpx.Response:
    if response.is_success:
        return response
    raise error_for(response.status_code, _problem(response), response.text[:500])


def _final(failure: httpx.Response | Exception, operation: Operation) -> Exception:
    if isinstance(failure, httpx.Response):
        error: ApiError = error_for(failure.status_code, _problem(failure), failure.text[:500])
        return error
    return ConnectionFailed(f"{operation.name}: no answer before the deadline ({failure!r})")


def _what(failure: httpx.Response | Exception) -> str:
    if isinstance(failure, httpx.Response):
        return f"{failure.status_code} {_problem(failure).get('title', '')}".strip()
    return type(failure).__name__
