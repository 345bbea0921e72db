"""Separation of duties (SPEC §7): who may not test, approve or reject a feature.

Pure rules over who did what to the feature (``FeatureDuties``); ``separation_breach``
is what the one may-I-act answer (``domain.permissions.why_not``) asks for the services
and the console alike. Names are compared as people are: ``domain.identity.same_person``
(case, width and look-alikes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from feature_gateway.domain.identity import same_person
from feature_gateway.errors import SeparationOfDutiesError


class Duty(Enum):
    """A part someone played in the feature's life, and how a refusal names it."""

    CREATOR = "created this feature"
    DEFINITION_CHANGER = "changed this feature's definition"
    SUBMITTER = "submitted this feature for testing"
    TESTER = "recorded this feature's test result"


# For each trigger, the parts whose players may not fire it, in the order they are checked.
SEPARATED_FROM: dict[str, tuple[Duty, ...]] = {
    "test": (Duty.CREATOR, Duty.DEFINITION_CHANGER, Duty.SUBMITTER),
    "approve": (Duty.CREATOR, Duty.DEFINITION_CHANGER, Duty.SUBMITTER, Duty.TESTER),
    "reject": (Duty.CREATOR, Duty.DEFINITION_CHANGER, Duty.SUBMITTER, Duty.TESTER),
}


@dataclass(frozen=True)
class FeatureDuties:
    """Who played each part: the creator (an import's recorded ``created_by`` too), everyone
    who ever changed the definition, the current round's submitter and tester."""

    creator: str
    definition_changers: tuple[str, ...]
    submitter: str | None
    tester: str | None

    def players(self, duty: Duty) -> Iterable[str | None]:
        if duty is Duty.CREATOR:
            return (self.creator,)
        if duty is Duty.DEFINITION_CHANGER:
            return self.definition_changers
        return (self.submitter if duty is Duty.SUBMITTER else self.tester,)


def separation_breach(trigger: str, actor: str, duties: FeatureDuties) -> tuple[str, Duty] | None:
    """The first part ``actor`` played that excludes ``trigger`` (and who played it, as
    recorded), or None."""
    for duty in SEPARATED_FROM.get(trigger, ()):
        for player in duties.players(duty):
            if same_person(player, actor):
                return str(player), duty
    return None


def check_separation(trigger: str, actor: str, duties: FeatureDuties) -> None:
    """SeparationOfDutiesError (403) if ``actor`` played a part that excludes ``trigger``."""
    breach = separation_breach(trigger, actor, duties)
    if breach is not None:
        player, duty = breach
        raise SeparationOfDutiesError(player, duty.value, actor, trigger)
