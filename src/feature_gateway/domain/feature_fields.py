"""The feature row's fields, declared once.

``FEATURE_FIELDS`` is the one list of what a feature carries (SPEC §2). The model's columns
(``db.models``), the response and request schemas and the import format
(``api.feature_schemas``), the API examples and the editable and critical sets below are all
derived from it; ``tests/unit/test_declarations.py`` checks what is derived against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from feature_gateway.domain.lifecycle import (
    TEST_RESULTS,
    TRIGGERS,
    DataType,
    FeatureType,
    Status,
)


class Kind(StrEnum):
    """What a field holds; it decides the column type and the schema field of each use."""

    NAME = "feature name"  # <view>:<feature>:<version>
    CHOICE = "one of a fixed set of strings"
    STATUS = "lifecycle status"
    QUERY = "read-only SQL statement"
    DESCRIPTION = "description text"
    ACTOR = "actor name"
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
    from the create request. ``stamped_by``: the trigger that sets it (its actor, time,
    note or a value from its request). ``required``: when taken from a request (create or
    the stamping trigger), whether the request must give it. ``description``/``example``:
    for the response schema in the API document.
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
    Field("created_by", Kind.ACTOR, nullable=False, at_create=True),
    Field("last_updated_by", Kind.ACTOR),  # stamped by create and update
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
    # during a rolling upgrade: create sets it (created_by unless given).
    Field(
        "owner",
        Kind.ACTOR,
        editable=True,
        at_create=True,
        required=False,
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


def _stamps_of(trigger: str) -> Stamps:
    stamped = [f for f in FEATURE_FIELDS if f.stamped_by == trigger]
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


# Built at import, so a trigger without a stamp rule (or a field naming an unknown
# trigger) fails every test run, not just the request that fires it.
TRIGGER_STAMPS: dict[str, Stamps] = {
    name: _stamps_of(name) for name, trigger in TRIGGERS.items() if trigger.stamps
}
_unknown = {f.stamped_by for f in FEATURE_FIELDS if f.stamped_by} - set(TRIGGER_STAMPS)
if _unknown:
    raise ValueError(f"fields are stamped by triggers that stamp nothing: {sorted(_unknown)}")
