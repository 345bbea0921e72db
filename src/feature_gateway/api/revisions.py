"""Optimistic concurrency over HTTP: ``ETag`` carries a feature's revision, ``If-Match``
makes a write conditional on it.

Without ``If-Match`` a write applies to whatever revision it finds (two racing writers
still end in one success and one 409 when their transactions overlap). With it, a client
that read revision 3 gets 409 instead of overwriting a change it never saw.
"""

from __future__ import annotations

import re
from typing import Any

from flask import request

from feature_gateway.errors import ValidationError

IF_MATCH = "If-Match"
# What a view returns when it sends an ETag: the body and the headers.
Reply = tuple[dict[str, Any], dict[str, str]]
# An ETag as sent back ("3", W/"3": weak tags too, as a compressing proxy may weaken it),
# or, for hand-written requests, the bare revision (3).
_ETAG = re.compile(r'\s*(?:W/)?("?)([0-9]{1,18})\1\s*')

IF_MATCH_PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": IF_MATCH,
    "required": False,
    "description": 'The ETag of the feature as last read (e.g. `"3"`, its revision): the '
    "change is made only if the feature is still at that revision, else 409.",
    "schema": {
        "type": "string",
        "pattern": r'^\s*(\*|(W/)?("[0-9]{1,18}"|[0-9]{1,18})(\s*,\s*(W/)?"[0-9]{1,18}")*)\s*$',
    },
}


def expected_revisions() -> frozenset[int] | None:
    """The revisions ``If-Match`` accepts; None when absent or ``*`` (any revision)."""
    raw = request.headers.get(IF_MATCH)
    if raw is None or raw.strip() == "*":
        return None
    matches = [_ETAG.fullmatch(tag) for tag in raw.split(",")]
    if not all(matches):
        raise ValidationError.for_field(
            IF_MATCH, 'Must be the ETag of the feature as returned, e.g. "3".'
        )
    return frozenset(int(m.group(2)) for m in matches if m)


def etag(revision: int) -> dict[str, str]:
    """Response headers naming the revision a response shows."""
    return {"ETag": f'"{revision}"'}
