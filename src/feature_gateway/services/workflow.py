"""Workflow use cases: fire lifecycle triggers on one feature in one transaction.

``fire_trigger`` serves every trigger a caller may fire; what it accepts, stamps and audits
follows from the lifecycle table (``domain.lifecycle``) and the field table
(``domain.feature_fields``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from transitions import Machine, MachineError

from feature_gateway.db.models import Feature
from feature_gateway.db.recording import Acting
from feature_gateway.db.scopes import Database
from feature_gateway.db.unit_of_work import UnitOfWork
from feature_gateway.domain.feature_fields import FIELDS_BY_NAME, TRIGGER_STAMPS, Kind
from feature_gateway.domain.identity import Principal
from feature_gateway.domain.lifecycle import TRANSITIONS, TRIGGERS, Status, source_states
from feature_gateway.domain.ownership import OPEN, Governance
from feature_gateway.domain.usage import (
    DEFAULT_QUIET_DAYS,
    quiet_since,
    still_read_detail,
    utc_day,
)
from feature_gateway.errors import (
    FeatureStillReadError,
    InvalidTransitionError,
    ValidationError,
)
from feature_gateway.services.clock import now_ms
from feature_gateway.services.permissions import acting_caller, check_may_act, load_to_act
from feature_gateway.services.rows import (
    FeatureData,
    check_known_fields,
    feature_data,
)


@dataclass(frozen=True)
class TransitionResult:
    feature: FeatureData
    previous_status: str
    new_status: str


def _on_state_change(event: Any) -> None:
    """Every state change of the machine below: the operation that fired it
    (``FeatureLifecycle``, in the event's arguments) tells its unit of work's recorder."""
    event.kwargs["lifecycle"].state_changed(event)


# The lifecycle machine, built once per process from the lifecycle table (``domain.
# lifecycle``); each trigger is handed its row (``Event.trigger(row, ...)``) and its
# operation. Building one per operation was a tenth of a trigger (docs/performance.md,
# "i31-trigger"). Shared by a worker's threads: nothing in it changes once built. No row is
# ever added to it (``add_model``, whose model list is what would not be thread-safe, would
# set a method on the row for each trigger and state), and it has no initial state, so it
# can never set a row's status to one: ``add_model`` without a status raises ValueError. An
# unqueued machine keeps no queue; a row's status is read from the row at each trigger.
_MACHINE = Machine(
    model=None,
    states=list(Status),
    transitions=TRANSITIONS,
    initial=None,
    model_attribute="status",
    auto_transitions=False,  # to_<state>() helpers would bypass the workflow
    send_event=True,
    after_state_change=[_on_state_change],
)


class FeatureLifecycle:
    """One operation's triggers on one loaded row, through the process's lifecycle machine.

    Every state change goes through ``state_changed``, which tells the unit of work's
    recorder, so no transition can happen without its audit entry. ``acting``: who fires
    the triggers, and when.
    """

    def __init__(self, uow: UnitOfWork, feature: Feature, acting: Acting) -> None:
        self.uow, self.feature, self.acting = uow, feature, acting

    def fire(self, trigger: str, fields: Mapping[str, Any] | None = None) -> None:
        """Fire ``trigger`` (409 if the current state does not allow it) and stamp the row
        with the actor, the time and the request's ``fields`` the trigger stamps."""
        fields = fields or {}
        stamps = TRIGGER_STAMPS.get(trigger)
        note = fields.get(stamps.note) if stamps and stamps.note else None
        reason = note if note is not None else TRIGGERS[trigger].reason
        forced = bool(stamps and stamps.forced and fields.get(stamps.forced))
        try:
            _MACHINE.events[trigger].trigger(
                self.feature, reason=reason, fields=fields, forced=forced, lifecycle=self
            )
        except MachineError as exc:
            raise InvalidTransitionError(
                self.feature.feature_name,
                trigger,
                str(self.feature.status),
                source_states(trigger),
            ) from exc
        feature, now = self.feature, self.acting.timestamp
        feature.status, feature.updated_time = str(feature.status), now
        if stamps is not None:
            setattr(feature, stamps.actor, self.acting.actor)
            setattr(feature, stamps.time, now)
            for name in (stamps.note, stamps.forced, *stamps.values):
                if name is not None:
                    setattr(feature, name, fields.get(name))

    def state_changed(self, event: Any) -> None:
        self.uow.record.status_change(
            self.feature,
            from_status=event.transition.source,
            trigger=event.event.name,
            reason=event.kwargs.get("reason"),
            acting=self.acting,
            forced=event.kwargs.get("forced", False),
        )


def fire_trigger(
    database: Database,
    trigger: str,
    feature_name: str,
    fields: Mapping[str, Any],
    *,
    role: str,
    caller: Principal | None = None,
    governance: Governance = OPEN,
    expected_revisions: Collection[int] | None = None,
    quiet_days: int = DEFAULT_QUIET_DAYS,
) -> TransitionResult:
    """Fire ``trigger`` on one feature with its request's ``fields`` (its actor, note and
    values), then the triggers that follow it (approve, then deploy), in one transaction.

    Whether the caller may fire it is asked first, whoever asks (``domain.permissions.
    why_not``: its role, the status, ownership under ``governance``, separation of duties,
    independent approval; 403 or 409 before anything changes); ``caller`` is who the front
    door verified (None: a trust-mode API request, whose actor has no groups), whose
    credential the entries record. A
    guarded trigger (retire) is refused for a feature read in the last ``quiet_days`` days
    unless the request forces it, with a reason (SPEC §13)."""
    stamps = TRIGGER_STAMPS[trigger]
    check_known_fields(fields, stamps.request_fields, f"the {trigger} trigger")
    actor = fields[stamps.actor]
    with database.writing() as uow:
        feature, changers = load_to_act(uow, trigger, feature_name, expected_revisions)
        fields = {**fields, **_references(uow, feature, trigger, fields)}
        previous = str(feature.status)
        acting_as = acting_caller(actor, role, caller)
        check_may_act(uow, acting_as, trigger, feature, governance, changers)
        acting = Acting.by(actor, role, now_ms(), caller)
        since = quiet_since(acting.timestamp, quiet_days)
        fields = {**fields, **_guarded(uow, feature, trigger, fields, since)}
        # One change-log entry for the request, named after the trigger the caller fired.
        uow.record.change(feature, trigger, acting)
        lifecycle = FeatureLifecycle(uow, feature, acting)
        lifecycle.fire(trigger, fields)
        follower = TRIGGERS[trigger].then
        while follower is not None:
            lifecycle.fire(follower)
            follower = TRIGGERS[follower].then
        uow.commit(last=True)
        return TransitionResult(feature_data(feature), previous, str(feature.status))


def _references(
    uow: UnitOfWork, feature: Feature, trigger: str, fields: Mapping[str, Any]
) -> dict[str, str]:
    """The names of other features the request gives for ``trigger`` to stamp (deprecate's
    replaced_by), each checked to exist and spelled as stored; 422 otherwise."""
    checked: dict[str, str] = {}
    for name in TRIGGER_STAMPS[trigger].values:
        given = fields.get(name)
        if FIELDS_BY_NAME[name].kind is not Kind.REFERENCE or given is None:
            continue
        other = uow.features.get(given)
        if other is None or other.id == feature.id:
            problem = "does not exist" if other is None else "is this feature itself"
            raise ValidationError.for_field(
                name, f"Feature '{given}' {problem}: name another existing feature."
            )
        checked[name] = other.feature_name
    return checked


def _guarded(
    uow: UnitOfWork, feature: Feature, trigger: str, fields: Mapping[str, Any], since: int
) -> dict[str, bool | None]:
    """The guard of a trigger that stamps a forced flag (retire): 409 naming who read the
    feature since ``since``, unless the request forces it, which needs a reason (422). The
    flag stamped: true when the guard was overridden (forcing an unread feature is not)."""
    stamps = TRIGGER_STAMPS[trigger]
    if stamps.forced is None or feature.status not in TRIGGERS[trigger].sources:
        return {}
    forcing = bool(fields.get(stamps.forced))
    if forcing and stamps.note and not fields.get(stamps.note):
        raise ValidationError.for_field(
            stamps.note, f"A forced {trigger} needs a reason: say why it cannot wait."
        )
    readers = uow.usage.by_consumer(feature.feature_name, utc_day(since), read_since=since)
    if readers and not forcing:
        detail = still_read_detail(feature.feature_name, trigger, readers, since)
        raise FeatureStillReadError(feature.feature_name, readers, detail)
    # Stamped only when forced, so an unforced retirement's change-log entry is as before.
    return {stamps.forced: True if readers else None}
