"""Idempotency keys (SPEC §11): which keys are valid, and when two requests are the same.

A client sends a write with an ``Idempotency-Key``; a repeat with the same key and the same
request gets the first one's stored response. "The same request" is decided by a
fingerprint over everything that gives the request its meaning.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

import orjson

MAX_KEY_LENGTH = 255
# Printable ASCII: what a header carries unencoded, and what a log line or a JSON detail
# shows as it is. Spaces only inside: HTTP strips them at either end of a header value.
KEY_PATTERN = rf"[\x21-\x7e](?:[\x20-\x7e]{{0,{MAX_KEY_LENGTH - 2}}}[\x21-\x7e])?"
_KEY = re.compile(KEY_PATTERN)
INVALID_KEY = (
    f"Must be 1 to {MAX_KEY_LENGTH} printable ASCII characters, not starting or ending "
    "with a space."
)

# Copied for each fingerprint: ``hashlib.sha256()`` has OpenSSL look the algorithm up by
# its name every time, more than hashing a request's few hundred bytes.
_SHA256 = hashlib.sha256()
# Canonical JSON: keys sorted, no whitespace (orjson writes none).
_CANONICAL = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def is_valid_key(key: str) -> bool:
    return _KEY.fullmatch(key) is not None


class RequestIdentity(NamedTuple):
    """What makes a keyed request the one it is. (A named tuple: immutable as a frozen
    dataclass, whose fields are each set through ``object.__setattr__``, a fourth of what
    telling a keyed request's identity cost.)"""

    scope: str  # whose key it is: '' in trust mode, the principal in token mode
    key: str
    method: str
    path: str
    fingerprint: str


def fingerprint(
    method: str,
    path: str,
    body: Any,
    *,
    query: Iterable[tuple[str, str]] = (),
    headers: Iterable[tuple[str, str | None]] = (),
) -> str:
    """SHA-256 over the method, the path, the query, the body as canonical JSON (keys
    sorted, no whitespace: the same object however it was spelled) and the headers that
    change what the request means (e.g. If-Match)."""
    document = _document(method, path, query, headers)
    document["body"] = body
    canonical = orjson.dumps(document, option=_CANONICAL)
    digest = _SHA256.copy()
    digest.update(canonical)
    return digest.hexdigest()


def fingerprint_of_canonical(
    method: str,
    path: str,
    canonical_body: Iterable[bytes | bytearray | memoryview],
    *,
    query: Iterable[tuple[str, str]] = (),
    headers: Iterable[tuple[str, str | None]] = (),
) -> str:
    """``fingerprint`` of the body whose canonical JSON is ``canonical_body``, given in
    pieces (a large body's, read without building it: ``api.canonical_body``). The same
    value: ``"body"`` sorts first of the document's keys, so its canonical JSON is
    ``{"body":``, the body's, then the others' after a comma."""
    others = orjson.dumps(_document(method, path, query, headers), option=_CANONICAL)
    digest = _SHA256.copy()
    digest.update(b'{"body":')
    for piece in canonical_body:
        digest.update(piece)
    digest.update(b"," + others[1:])
    return digest.hexdigest()


def _document(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str | None]],
) -> dict[str, Any]:
    """What a fingerprint is taken over, but the body."""
    return {
        "method": method.upper(),
        "path": path,
        "query": sorted(query),
        "headers": sorted((name.lower(), value) for name, value in headers if value is not None),
    }
