"""Revisions over HTTP: ``ETag`` carries a feature's revision, ``If-Match`` makes a write
conditional on it, and ``X-Read-After`` or ``If-None-Match`` makes a read see it.

Without ``If-Match`` a write applies to whatever revision it finds (two racing writers
still end in one success and one 409 when their transactions overlap). With it, a client
that read revision 3 gets 409 instead of overwriting a change it never saw.

A read a replica may serve (SPEC §15, ``domain.freshness``) is served where the revision
``X-Read-After`` names is visible: a client reads its own write by sending the ETag the
write answered with. ``If-None-Match`` on a GET of a feature names the copy the client
holds: that revision is visible wherever the read is served, and 304 answers it while the
feature is still at that revision.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, request

from feature_gateway.domain.freshness import WITHIN_LAG, Freshness
from feature_gateway.errors import ValidationError

IF_MATCH = "If-Match"
READ_AFTER = "X-Read-After"
IF_NONE_MATCH = "If-None-Match"
# Where the WSGI environ holds each header: werkzeug's headers object looks them up there,
# at a cost (a read by name asks for three headers it seldom gets).
_ENVIRON_KEYS = {
    name: "HTTP_" + name.upper().replace("-", "_")
    for name in (IF_MATCH, READ_AFTER, IF_NONE_MATCH)
}
_READ_AFTER_ENVIRON = _ENVIRON_KEYS[READ_AFTER]
_IF_NONE_MATCH_ENVIRON = _ENVIRON_KEYS[IF_NONE_MATCH]
# What a view returns when it sends an ETag: the body and the headers.
Reply = tuple[dict[str, Any], dict[str, str]]
# An ETag as sent back ("3", W/"3": weak tags too, as a compressing proxy may weaken it),
# or, for hand-written requests, the bare revision (3).
_ETAG = re.compile(r'\s*(?:W/)?("?)([0-9]{1,18})\1\s*')

_ETAG_LIST_PATTERN = r'^\s*(\*|(W/)?("[0-9]{1,18}"|[0-9]{1,18})(\s*,\s*(W/)?"[0-9]{1,18}")*)\s*$'
IF_MATCH_PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": IF_MATCH,
    "required": False,
    "description": 'The ETag of the feature as last read (e.g. `"3"`, its revision): the '
    "change is made only if the feature is still at that revision, else 409.",
    "schema": {"type": "string", "pattern": _ETAG_LIST_PATTERN},
}
READ_AFTER_PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": READ_AFTER,
    "required": False,
    "description": 'Read your own write: the ETag a write answered with (e.g. `"3"`, a '
    "revision). The read is served where that revision of the feature it reads is visible "
    "(a read replica that has it, else the primary); a read of no one feature (a list, "
    "values, the event feed without feature_name) is then served by the primary.",
    "schema": {"type": "string", "pattern": r'^\s*(W/)?("[0-9]{1,18}"|[0-9]{1,18})\s*$'},
}
IF_NONE_MATCH_PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": IF_NONE_MATCH,
    "required": False,
    "description": 'The ETag of the copy held (e.g. `"3"`): 304 without a body while the '
    "feature is at that revision, else 200 with it, read where that revision is visible.",
    "schema": {"type": "string", "pattern": _ETAG_LIST_PATTERN},
}


def expected_revisions() -> frozenset[int] | None:
    """The revisions ``If-Match`` accepts; None when absent or ``*`` (any revision)."""
    return _revisions(request.environ, IF_MATCH)


def read_freshness() -> Freshness:
    """What a read must see: the revision ``X-Read-After`` names, or on a GET the newest
    that ``If-None-Match`` names (the client holds it); anything within the lag bound
    without either."""
    current = request._get_current_object()  # type: ignore[attr-defined]
    environ = current.environ
    # Neither header, as on nearly every read: nothing to parse.
    if _READ_AFTER_ENVIRON not in environ and (
        current.method != "GET" or _IF_NONE_MATCH_ENVIRON not in environ
    ):
        return WITHIN_LAG
    revisions = set(_revisions(current.environ, READ_AFTER, many=False) or ())
    if current.method == "GET":
        revisions |= _revisions(current.environ, IF_NONE_MATCH) or set()
    return Freshness(revision=max(revisions)) if revisions else WITHIN_LAG


def not_modified(revision: int) -> Response | None:
    """304 when a GET's ``If-None-Match`` names the revision the feature is at."""
    current = request._get_current_object()  # type: ignore[attr-defined]
    if current.method != "GET" or _IF_NONE_MATCH_ENVIRON not in current.environ:
        return None
    if revision not in (_revisions(current.environ, IF_NONE_MATCH) or ()):
        return None
    return Response(status=304, headers=etag(revision))


def _revisions(
    environ: dict[str, Any], header: str, *, many: bool = True
) -> frozenset[int] | None:
    """The revisions a header of the request (its WSGI ``environ``) names as ETags; None
    when absent or ``*`` (any revision)."""
    raw = environ.get(_ENVIRON_KEYS[header])
    if raw is None or (many and raw.strip() == "*"):
        return None
    matches = [_ETAG.fullmatch(tag) for tag in (raw.split(",") if many else [raw])]
    if not all(matches):
        example = '"3"' if many else '"3" (or 3)'
        raise ValidationError.for_field(
            header, f"Must be the ETag of the feature as returned, e.g. {example}."
        )
    return frozenset(int(m.group(2)) for m in matches if m)


def etag(revision: int) -> dict[str, str]:
    """Response headers naming the revision a response shows."""
    return {"ETag": f'"{revision}"'}
