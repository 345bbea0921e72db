"""The feature row's fields, declared once.

``FEATURE_FIELDS`` is the one list of what a feature carries (SPEC §2). The model's columns
(``db.models``), the response and request schemas and the import format
(``shapes.feature_schemas``), the API examples, the editable and critical sets, the defaults of
a new row, what each trigger stamps and the actor fields (bound to the principal in token
mode) below are all derived from it; ``tests/unit/test_declarations.py`` checks what is
derived against it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from feature_gateway.domain.lifecycle import (
    TEST_RESULTS,
    TRIGGERS,
    DataType,
    FeatureType,
    Status,
    Trigger,
    Write,
)


class Kind(StrEnum):
    """What a field holds; it decides the column type and the schema field of each use."""

    NAME = "feature name"  # <view>:<feature>:<version>
    CHOICE = "one of a fixed set of strings"
    STATUS = "lifecycle status"
    QUERY = "read-only SQL statement"
    DESCRIPTION = "description text"
    # Who performs the write that stamps it: in token mode, always the principal.
    ACTOR = "actor name"
    # A team or person a request names, who answers for the feature: never who acts.
    TEAM = "team or person name"
    NOTE = "note or reason"
    TIME = "epoch milliseconds"
    REVISION = "revision counter"
    TAGS = "labels {key: value}"
    REFERENCE = "name of another feature"
    # Set by a trigger whose guard may refuse it (retire: read in the quiet period, SPEC
    # §13): true when the request overrode the guard with "force". The history and the
    # change log record it too.
    FORCED = "whether the trigger overrode its guard"


# A request forcing a guarded trigger says so in this field, whatever the stamp is called.
FORCE_REQUEST_FIELD = "force"


@dataclass(frozen=True)
class Field:
    """One field of FeatureMetadata.

    ``definition``: part of what is tested and approved (a critical field: changing it
    resets the feature to DRAFT). ``editable``: update may change it. ``at_create``: taken
    from the create request. ``stamped_by``: the write that sets it, a trigger (its actor,
    time, note or a value from its request) or create or update (their actor); every
    ``Kind.ACTOR`` field names the one write it is the actor of. ``required``: when taken
    from a request (create or the stamping trigger), whether the request must give it.
    ``default_from``/``default``: what a new row holds when no value is given, another
    field's value or a new value. ``description``/``example``: for the response schema in
    the API document.
    """

    name: str
    kind: Kind
    nullable: bool = True
    choices: tuple[str, ...] = ()
    definition: bool = False
    editable: bool = False
    at_create: bool = False
    stamped_by: str | None = None
    required: bool = True
    default_from: str | None = None
    default: Callable[[], Any] | None = None
    description: str | None = None
    example: str | int | None = None


def _definition(name: str, kind: Kind, choices: tuple[str, ...] = ()) -> Field:
    return Field(
        name,
        kind,
        nullable=False,
        choices=choices,
        definition=True,
        editable=True,
        at_create=True,
    )


def _stamp(name: str, kind: Kind, trigger: str, *, required: bool = True) -> Field:
    return Field(name, kind, stamped_by=trigger, required=required)


FEATURE_FIELDS: tuple[Field, ...] = (
    Field("feature_name", Kind.NAME, nullable=False, at_create=True),
    _definition("feature_type", Kind.CHOICE, tuple(FeatureType)),
    _definition("feature_data_type", Kind.CHOICE, tuple(DataType)),
    _definition("query", Kind.QUERY),
    Field("description", Kind.DESCRIPTION, nullable=False, editable=True, at_create=True),
    Field("status", Kind.STATUS, nullable=False, choices=tuple(Status)),
    Field("revision", Kind.REVISION, nullable=False, description="Increases on every change"),
    Field("created_time", Kind.TIME, nullable=False),
    Field("updated_time", Kind.TIME, nullable=False),
    Field("created_by", Kind.ACTOR, nullable=False, at_create=True, stamped_by=Write.CREATE),
    # Set to created_by by the writes that create a feature, as the update before any.
    Field("last_updated_by", Kind.ACTOR, stamped_by=Write.UPDATE),
    _stamp("submitted_by", Kind.ACTOR, "submit"),
    _stamp("submitted_time", Kind.TIME, "submit"),
    _stamp("tested_by", Kind.ACTOR, "test"),
    _stamp("tested_time", Kind.TIME, "test"),
    Field("test_result", Kind.CHOICE, choices=tuple(TEST_RESULTS), stamped_by="test"),
    _stamp("test_notes", Kind.NOTE, "test", required=False),
    _stamp("approved_by", Kind.ACTOR, "approve"),
    _stamp("approved_time", Kind.TIME, "approve"),
    _stamp("approval_notes", Kind.NOTE, "approve", required=False),
    _stamp("rejected_by", Kind.ACTOR, "reject"),
    _stamp("rejected_time", Kind.TIME, "reject"),
    _stamp("rejection_reason", Kind.NOTE, "reject"),
    _stamp("deployed_by", Kind.ACTOR, "deploy"),
    _stamp("deployed_time", Kind.TIME, "deploy"),
    _stamp("fixed_by", Kind.ACTOR, "fix"),
    _stamp("fixed_time", Kind.TIME, "fix"),
    _stamp("fix_description", Kind.NOTE, "fix"),
    _stamp("deleted_by", Kind.ACTOR, "delete"),
    _stamp("deleted_time", Kind.TIME, "delete"),
    _stamp("deletion_reason", Kind.NOTE, "delete"),
    # The catalog (SPEC §8). owner is nullable only for rows written by code predating it
    # during a rolling upgrade: every new row has one (created_by unless given).
    Field(
        "owner",
        Kind.TEAM,
        editable=True,
        at_create=True,
        required=False,
        default_from="created_by",
        description="The team or person responsible; created_by unless given",
        example="pricing-team",
    ),
    Field(
        "tags",
        Kind.TAGS,
        nullable=False,
        editable=True,
        at_create=True,
        required=False,
        default=dict,
        description="Labels {key: value}; update replaces them all",
    ),
    Field(
        "previous_version",
        Kind.REFERENCE,
        description="The version this one was made from (create_feature_version)",
    ),
    _stamp("deprecated_by", Kind.ACTOR, "deprecate"),
    _stamp("deprecated_time", Kind.TIME, "deprecate"),
    _stamp("deprecation_reason", Kind.NOTE, "deprecate"),
    Field(
        "replaced_by",
        Kind.REFERENCE,
        stamped_by="deprecate",
        required=False,
        description="An existing feature to use instead",
    ),
    _stamp("retired_by", Kind.ACTOR, "retire"),
    _stamp("retired_time", Kind.TIME, "retire"),
    _stamp("retirement_reason", Kind.NOTE, "retire", required=False),
    Field(
        "retirement_forced",
        Kind.FORCED,
        stamped_by="retire",
        required=False,
        description="true: retired with force although read in the quiet period "
        "(RETIRE_QUIET_DAYS); null otherwise",
    ),
)

FIELDS_BY_NAME = {field.name: field for field in FEATURE_FIELDS}
FIELD_NAMES = tuple(FIELDS_BY_NAME)
CREATE_FIELDS = tuple(f.name for f in FEATURE_FIELDS if f.at_create)
EDITABLE_FIELDS = tuple(f.name for f in FEATURE_FIELDS if f.editable)
# Changing one of these invalidates any test result or approval given to the old value.
CRITICAL_FIELDS = tuple(f.name for f in FEATURE_FIELDS if f.definition)


@dataclass(frozen=True)
class Stamps:
    """The row columns one trigger sets: who, when, the note (audit reason), whether it
    was forced past its guard, and the other values its request carries (``test_result``)."""

    actor: str
    time: str
    note: str | None
    values: tuple[str, ...]
    forced: str | None = None

    @property
    def request_fields(self) -> tuple[str, ...]:
        """What a request firing the trigger gives: its values (what it decides), who, the
        note, and whether it forces the trigger."""
        optional = [name for name in (self.note, self.forced) if name]
        return (*self.values, self.actor, *optional)


def _stamps_of(trigger: str, fields: Iterable[Field] | None = None) -> Stamps:
    stamped = [
        f for f in (FEATURE_FIELDS if fields is None else fields) if f.stamped_by == trigger
    ]
    by_kind = {kind: [f.name for f in stamped if f.kind == kind] for kind in Kind}
    actor, time, note = by_kind[Kind.ACTOR], by_kind[Kind.TIME], by_kind[Kind.NOTE]
    forced = by_kind[Kind.FORCED]
    if len(actor) != 1 or len(time) != 1 or len(note) > 1 or len(forced) > 1:
        raise ValueError(
            f"trigger {trigger!r} must stamp one actor and one time field, at most one note "
            f"and one forced flag; the field table gives actor {actor}, time {time}, note "
            f"{note}, forced {forced}"
        )
    own = (Kind.ACTOR, Kind.TIME, Kind.NOTE, Kind.FORCED)
    values = tuple(f.name for f in stamped if f.kind not in own)
    return Stamps(actor[0], time[0], next(iter(note), None), values, next(iter(forced), None))


def trigger_stamps(fields: Iterable[Field], triggers: Mapping[str, Trigger]) -> dict[str, Stamps]:
    """What each trigger stamps, from the fields naming it; ValueError for a trigger
    without its actor and time, and for a field stamped by no write there is."""
    fields = tuple(fields)
    stamps = {name: _stamps_of(name, fields) for name, t in triggers.items() if t.stamps}
    unknown = {f.stamped_by for f in fields if f.stamped_by} - set(stamps) - set(Write)
    if unknown:
        raise ValueError(f"fields are stamped by triggers that stamp nothing: {sorted(unknown)}")
    return stamps


def actor_fields(fields: Iterable[Field]) -> tuple[str, ...]:
    """The fields naming who performs a write: each trigger's actor, create's and update's.

    Every ``Kind.ACTOR`` field is one, and must name the write it is the actor of
    (ValueError otherwise): a trigger's stamps take their actor from these only, so a new
    trigger's actor field is one of them, and is bound to the principal, by construction.
    """
    actors = tuple(f for f in fields if f.kind is Kind.ACTOR)
    unstamped = [f.name for f in actors if f.stamped_by is None]
    if unstamped:
        raise ValueError(
            f"actor fields must name the write whose actor they are (stamped_by): {unstamped}"
        )
    return tuple(f.name for f in actors)


def with_defaults(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values of a new row, each field the request left unset (or empty) that the table
    gives a default filled in; a row never shares a mapping with its caller."""
    row = dict(values)
    for field in FEATURE_FIELDS:
        if not row.get(field.name):
            if field.default_from is not None:
                row[field.name] = row.get(field.default_from)
            elif field.default is not None:
                row[field.name] = field.default()
        if isinstance(row.get(field.name), dict):
            row[field.name] = dict(row[field.name])
    return row


# Built at import, so a trigger without a stamp rule (or a field naming an unknown
# trigger, or an actor field naming no write) fails every test run, not just the request
# that fires it.
TRIGGER_STAMPS: dict[str, Stamps] = trigger_stamps(FEATURE_FIELDS, TRIGGERS)
# The request fields naming who performs an action: in token mode each is optional and,
# when given, must name the principal (``api.roles.bind_actor_fields``).
ACTOR_FIELDS = actor_fields(FEATURE_FIELDS)
