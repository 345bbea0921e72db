"""Whether the signed-in person may fire a trigger on a feature, and if not why, in a
person's words: what the queue's rows and the feature page show instead of offering an
action the service would refuse after the click (SPEC §10, §12).

The console decides nothing by itself: this is its one seam to the rules the services
enforce. ``verdicts`` asks the caller's roles (``web.caller``, the lifecycle's permissions)
and separation of duties (``domain.duties``, with who played which part read by
``services.workflow.feature_duties``). Whatever the page offered, the POST is still decided
by the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from feature_gateway.domain.duties import FeatureDuties, is_separated, separating_part
from feature_gateway.domain.lifecycle import PERMISSIONS, TRIGGERS, Role, Status
from feature_gateway.services import workflow
from feature_gateway.services.rows import FeatureData
from feature_gateway.web import caller
from feature_gateway.web.context import database

# How a person names each role, and what doing each separated trigger is.
_ROLE_NOUNS = {
    Role.DEVELOPER: "developer",
    Role.APPROVER: "approver",
    Role.EXTERNAL_TESTING_SYSTEM: "testing system",
    Role.ADMIN: "admin",
}
_DOING = {"test": "record its test result", "approve": "approve it", "reject": "reject it"}


@dataclass(frozen=True)
class Verdict:
    """One trigger the feature's status allows, for the signed-in person: the role they
    would act in (None: none of theirs may), or why they may not."""

    trigger: str
    role: Role | None
    reason: str | None = None  # None: they may

    @property
    def allowed(self) -> bool:
        return self.reason is None


def verdicts(
    shown: Sequence[FeatureData], triggers: Sequence[str]
) -> dict[str, tuple[Verdict, ...]]:
    """For each feature of ``shown`` (by name), a verdict on each of ``triggers`` that its
    status allows, in the order given."""
    person = caller.principal()
    duties: dict[str, FeatureDuties] = {}
    if person is not None and any(is_separated(t) for t in triggers):
        duties = workflow.feature_duties(database(), shown)
    found = {}
    for feature in shown:
        status = Status(feature["status"])
        found[feature["feature_name"]] = tuple(
            _verdict(trigger, duties.get(feature["feature_name"]))
            for trigger in triggers
            if status in TRIGGERS[trigger].sources
        )
    return found


def _verdict(trigger: str, duties: FeatureDuties | None) -> Verdict:
    action = TRIGGERS[trigger].action
    person = caller.principal()
    if action is None or person is None:
        raise ValueError(f"{trigger} is not fired by a signed-in person")
    role = person.role_for(action)
    if role is None:
        needed = " or ".join(sorted(_ROLE_NOUNS[r] for r in PERMISSIONS[action]))
        yours = ", ".join(_ROLE_NOUNS[r] for r in Role if r in person.roles) or "no role"
        return Verdict(trigger, None, f"Needs the {needed} role; you are signed in as {yours}.")
    part = None if duties is None else separating_part(trigger, person.name, duties)
    if part is not None:
        duty, _ = part
        reason = f"You {duty.value}: another {_ROLE_NOUNS[role]} must {_DOING[trigger]}."
        return Verdict(trigger, role, reason)
    return Verdict(trigger, role)
