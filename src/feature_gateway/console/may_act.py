"""Whether the signed-in person may take an act on a feature, and if not why, in a person's
words: what the queue's rows and the feature page show instead of offering an action the
service would refuse after the click (SPEC §10, §12).

The console decides nothing by itself: this is its one seam to the rules, and it asks the
same place the write services ask (``domain.permissions.why_not``: role, status,
ownership, separation of duties, independent approval), with the facts
``services.permissions.page_facts`` gathers for a whole page in one statement. Whatever the
page offered, the POST is still decided by the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from feature_gateway.domain.freshness import LATEST
from feature_gateway.domain.lifecycle import TRIGGERS, Role, Status
from feature_gateway.domain.permissions import Rule, action_of, why_not
from feature_gateway.services import permissions
from feature_gateway.services.rows import FeatureData
from feature_gateway.web import caller
from feature_gateway.web.context import database, settings


@dataclass(frozen=True)
class Verdict:
    """One act on a feature, for the signed-in person: the role they would act in (None:
    none of theirs may), or why they may not."""

    act: str
    role: Role | None
    reason: str | None = None  # None: they may
    rule: Rule | None = None  # the rule that refused

    @property
    def allowed(self) -> bool:
        return self.reason is None


def verdicts(shown: Sequence[FeatureData], acts: Sequence[str]) -> dict[str, tuple[Verdict, ...]]:
    """For each feature of ``shown`` (by name), a verdict on each of ``acts``
    (``domain.permissions.ACTS``) that its status allows, in the order given: nobody may
    approve a DRAFT, and no page need say so. Read on the primary, as the pages are."""
    person = caller.principal()
    if person is None:
        raise RuntimeError("verdicts() needs a signed-in person")
    governance = settings().governance
    found = {}
    for facts in permissions.page_facts(database(), shown, LATEST):
        answers = []
        for act in acts:
            if act in TRIGGERS and Status(facts.status) not in TRIGGERS[act].sources:
                continue
            refusal = why_not(person, act, facts, governance)
            role = person.role_for(action_of(act))
            if refusal is None:
                answers.append(Verdict(act, role))
            elif refusal.rule is not Rule.STATUS:
                answers.append(Verdict(act, role, refusal.sentence, refusal.rule))
        found[facts.feature_name] = tuple(answers)
    return found
