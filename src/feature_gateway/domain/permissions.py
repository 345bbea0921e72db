"""May this caller take this action on this feature, and if not, why: the one answer.

``why_not(caller, act, facts, governance)`` is what the services ask before every write on
an existing feature (they raise ``refusal.error``), and what the console asks to show, row
by row, whether the signed-in person may act and why not. One code path: the console and
the API can never disagree.

The rules, in the order they are asked (the first that refuses answers):

1. role: the caller holds no role that may (``domain.lifecycle.PERMISSIONS``);
2. status: the act is not possible from the feature's status (409, as the machine says);
3. ownership (``OWNERSHIP=enforced``): the act is one of the owner's and the caller is not
   a member of the owner (``domain.ownership``);
4. separation of duties (§7): the caller played a part the act excludes (``domain.duties``);
5. independent approval (``APPROVAL=independent``): the act is a review and the caller is a
   member of the owner.

Which acts are the owner's and which are reviews is derived, not listed: the reviews are
the triggers separation of duties guards (``duties.SEPARATED_FROM``: test, approve, reject);
every other act a caller can take on a feature (each caller-fired trigger of the lifecycle
table, update, a new version from it) is the owner's. A trigger added to the table is bound
to ownership unless it is made a review.

How to call it
--------------
For one feature (``services.permissions.feature_facts`` gathers its facts, two indexed
reads)::

    from feature_gateway.domain.permissions import ACTS, why_not
    from feature_gateway.services import permissions

    facts = permissions.feature_facts(database, "driver_hourly_stats:conv_rate:1")
    refusal = why_not(principal, "approve", facts, settings.governance)
    if refusal is not None:
        show(refusal.sentence)  # "You created this feature: another approver must approve it."

For a page of features (the rows a list already read: one more statement for the whole
page, whatever its length; ``page_facts`` keeps the rows' order)::

    page = features.list_features(database, query)
    for row, facts in zip(page.items, permissions.page_facts(database, page.items)):
        answers = refusals(principal, facts, settings.governance)  # {act: Refusal | None}

``principal`` is a ``domain.identity.Principal`` (name, roles, groups): in a request,
``web.caller.principal()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from feature_gateway.domain.duties import SEPARATED_FROM, FeatureDuties, separation_breach
from feature_gateway.domain.identity import Principal
from feature_gateway.domain.lifecycle import (
    EDITABLE_STATES,
    PERMISSIONS,
    STORED_STATES,
    TRIGGERS,
    Action,
    Role,
    Write,
    fired_by_callers,
)
from feature_gateway.domain.ownership import Governance, membership
from feature_gateway.errors import (
    FeatureImmutableError,
    ForbiddenError,
    GatewayError,
    IndependentApprovalError,
    InvalidTransitionError,
    NoRoleMayActError,
    OwnershipError,
    SeparationOfDutiesError,
)

UPDATE = Write.UPDATE.value
NEW_VERSION = Write.CREATE_VERSION.value
# Every act a caller can take on an existing feature: each trigger fired through an
# endpoint of its own (table order), an update, a new version made from it.
ACTS: tuple[str, ...] = (*(t.name for t in fired_by_callers()), UPDATE, NEW_VERSION)
# The acts of people reviewing another's work: nobody in the owning team takes them under
# APPROVAL=independent, and ownership does not bind them.
REVIEWS: frozenset[str] = frozenset(SEPARATED_FROM)
# The acts only a member of the owner takes under OWNERSHIP=enforced: all the others.
OWNER_ACTS: frozenset[str] = frozenset(ACTS) - REVIEWS

_ACTION = {UPDATE: Action.UPDATE, NEW_VERSION: Action.CREATE}
_FROM = {UPDATE: EDITABLE_STATES, NEW_VERSION: STORED_STATES}
# How a sentence to a person names an act ("only a member of growth may ... it").
_DEED = {
    UPDATE: "change it",
    NEW_VERSION: "make a new version of it",
    "test": "record its test result",
}
_REVIEWER = {Role.EXTERNAL_TESTING_SYSTEM: "testing system"}


class Rule(StrEnum):
    """Which rule refused: what the console may group its explanations by."""

    ROLE = "role"
    STATUS = "status"
    OWNERSHIP = "ownership"
    SEPARATION_OF_DUTIES = "separation of duties"
    INDEPENDENT_APPROVAL = "independent approval"


@dataclass(frozen=True)
class Refusal:
    """Why the act is refused: the rule, a sentence for the person (console), and the
    error the services raise (its ``detail`` is the API's)."""

    rule: Rule
    sentence: str
    error: GatewayError

    @property
    def detail(self) -> str:
        return self.error.detail


@dataclass(frozen=True)
class FeatureFacts:
    """What the rules read of one feature: its name, status and owner, and who played
    which part in it (separation of duties). ``owner`` falls back to the creator for a row
    written before owners existed, as its default does."""

    feature_name: str
    status: str
    owner: str
    duties: FeatureDuties

    # The fields of a feature ``of`` reads.
    READS: ClassVar[tuple[str, ...]] = (
        "feature_name", "status", "owner", "created_by", "submitted_by", "tested_by"
    )  # fmt: skip

    @classmethod
    def of(cls, row: Mapping[str, Any], definition_changers: Sequence[str]) -> FeatureFacts:
        """From a feature's fields (``services.rows.feature_data``, a list page's item) and
        everyone who ever changed its definition."""
        return cls(
            feature_name=row["feature_name"],
            status=str(row["status"]),
            owner=row.get("owner") or row["created_by"],
            duties=FeatureDuties(
                creator=row["created_by"],
                definition_changers=tuple(definition_changers),
                submitter=row.get("submitted_by"),
                tester=row.get("tested_by"),
            ),
        )


def why_not(
    caller: Principal, act: str, facts: FeatureFacts, governance: Governance
) -> Refusal | None:
    """None when ``caller`` may take ``act`` (one of ``ACTS``) on the feature, else the
    first rule that refuses it (see the module's docstring for the order)."""
    if act not in _ACTION and act not in TRIGGERS:
        raise ValueError(f"unknown act {act!r}; one of: {', '.join(ACTS)}")
    return (
        _role(caller, act)
        or _status(act, facts)
        or _ownership(caller, act, facts, governance)
        or _separation(caller, act, facts)
        or _independence(caller, act, facts, governance)
    )


def refusals(
    caller: Principal, facts: FeatureFacts, governance: Governance, acts: Iterable[str] = ACTS
) -> dict[str, Refusal | None]:
    """``why_not`` for each of ``acts`` (default: all): one row of the console's queue."""
    return {act: why_not(caller, act, facts, governance) for act in acts}


def owner_refusal(
    caller: Principal, feature_name: str, owner: str, governance: Governance
) -> Refusal | None:
    """Whether ``caller`` may make ``owner`` the owner of ``feature_name`` (at create, for a
    new version, by an update changing it): under OWNERSHIP=enforced or APPROVAL=independent
    only an owner they are a member of. Independence reads the owner, so it is bound under
    either setting: otherwise a team would name another team as owner and then review its
    own feature as "outsiders"."""
    bound = governance.enforced or governance.independent
    if not bound or membership(caller, owner) is not None:
        return None
    return Refusal(
        Rule.OWNERSHIP,
        f"You are not a member of {owner}: name yourself or one of your groups as owner.",
        OwnershipError(feature_name, owner, caller.name, giving=True),
    )


def action_of(act: str) -> Action:
    """The permission ``act`` needs (the one ``api.roles.require_role`` checks)."""
    action = _ACTION.get(act) or TRIGGERS[act].action
    if action is None:
        raise ValueError(f"{act} is fired by the service, not by callers")
    return action


def _role(caller: Principal, act: str) -> Refusal | None:
    action = action_of(act)
    allowed = PERMISSIONS[action]
    if not caller.roles.isdisjoint(allowed):
        return None
    names = sorted(role.value for role in allowed)
    error: GatewayError
    if len(caller.roles) == 1:
        (role,) = caller.roles
        error = ForbiddenError(role.value, action.value, names)
    else:
        granted = sorted(role.value for role in caller.roles) or ["none"]
        error = NoRoleMayActError(caller.name, action.value, granted, names)
    sentence = f"You hold no role that may {action.value} (it takes {', '.join(names)})."
    return Refusal(Rule.ROLE, sentence, error)


def _status(act: str, facts: FeatureFacts) -> Refusal | None:
    sources = _FROM.get(act) or TRIGGERS[act].sources
    if facts.status in sources:
        return None
    error: GatewayError
    if act == UPDATE:
        error = FeatureImmutableError(facts.feature_name, facts.status)
        sentence = f"This feature is {facts.status}: it can no longer be changed."
    else:
        allowed = sorted(sources)
        error = InvalidTransitionError(facts.feature_name, act, facts.status, allowed)
        sentence = (
            f"This feature is {facts.status}: {act} is possible only from "
            f"{', '.join(allowed)}."
        )
    return Refusal(Rule.STATUS, sentence, error)


def _ownership(
    caller: Principal, act: str, facts: FeatureFacts, governance: Governance
) -> Refusal | None:
    if not governance.enforced or act not in OWNER_ACTS:
        return None
    if membership(caller, facts.owner) is not None:
        return None
    owner = facts.owner
    return Refusal(
        Rule.OWNERSHIP,
        f"{owner} owns this feature and you are not a member of {owner}: only its members "
        f"may {_DEED.get(act, f'{act} it')}.",
        OwnershipError(facts.feature_name, owner, caller.name, giving=False),
    )


def _separation(caller: Principal, act: str, facts: FeatureFacts) -> Refusal | None:
    breach = separation_breach(act, caller.name, facts.duties)
    if breach is None:
        return None
    player, duty = breach
    return Refusal(
        Rule.SEPARATION_OF_DUTIES,
        f"You {duty.value}: {_someone_else(act)}.",
        SeparationOfDutiesError(player, duty.value, caller.name, act),
    )


def _independence(
    caller: Principal, act: str, facts: FeatureFacts, governance: Governance
) -> Refusal | None:
    if not governance.independent or act not in REVIEWS:
        return None
    member = membership(caller, facts.owner)
    if member is None:
        return None
    if member.by_group:
        sentence = (
            f"You are a member of {facts.owner}, which owns this feature: someone from "
            f"outside {facts.owner} must {_DEED.get(act, f'{act} it')}."
        )
    else:
        sentence = f"You own this feature: {_someone_else(act)}."
    return Refusal(
        Rule.INDEPENDENT_APPROVAL,
        sentence,
        IndependentApprovalError(facts.owner, caller.name, act, by_group=member.by_group),
    )


def _someone_else(act: str) -> str:
    """ "another approver must approve it": who else, in the role the act needs."""
    role = min(TRIGGERS[act].roles)
    return f"another {_REVIEWER.get(role, role.value)} must {_DEED.get(act, f'{act} it')}"
