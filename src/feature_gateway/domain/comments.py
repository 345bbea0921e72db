"""Comments on a feature (SPEC §10): what a comment carries, declared once.

A comment is a note anyone with a workflow role adds to a feature's review discussion. It is
never edited or deleted and changes nothing else on the feature: it is one change-log entry
(action ``comment``, the feature's revision and status as they were, no field changes) and
so one ``feature.comment`` event (SPEC §9), and one row holding its text.

``COMMENT_FIELDS`` is what a request gives. Its ``Kind.ACTOR`` field names who writes it, so
``domain.identity.ACTOR_FIELDS`` takes it from here: with a token it is bound to the
principal like every other actor field, by construction.
"""

from __future__ import annotations

from feature_gateway.domain.feature_fields import Field, Kind, actor_fields
from feature_gateway.domain.lifecycle import Write

COMMENT_ACTION = Write.COMMENT

COMMENT_FIELDS: tuple[Field, ...] = (
    Field(
        "body",
        Kind.NOTE,
        nullable=False,
        description="The comment: 1 to 10,000 characters as written (kept verbatim, "
        "not trimmed); not blank, no NUL",
        example="The 7-day window hides weekend effects; can we test a 28-day one?",
    ),
    Field(
        "author",
        Kind.ACTOR,
        nullable=False,
        stamped_by=COMMENT_ACTION,
        description="Who writes it; with a token, the principal (optional, and when given "
        "it must be the principal)",
        example="carol",
    ),
)
COMMENT_FIELD_NAMES = tuple(field.name for field in COMMENT_FIELDS)
# The request fields naming who comments: bound to the principal in token mode.
COMMENT_ACTOR_FIELDS = actor_fields(COMMENT_FIELDS)
