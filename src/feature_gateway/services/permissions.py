"""The facts the may-I-act answer reads (``domain.permissions.why_not``), gathered from the
database, and the checks the write services make with it.

The write services call ``check_may_act`` (and ``check_owner`` for an owner they are
asked to set) and so refuse exactly what ``why_not`` answers; the console asks ``why_not``
with the facts ``feature_facts`` (one feature) or ``page_facts`` (a page of them, one
statement) gather. See ``domain.permissions`` for how to call it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace

from feature_gateway.db.models import Feature
from feature_gateway.db.scopes import Database
from feature_gateway.db.unit_of_work import UnitOfWork
from feature_gateway.domain.freshness import WITHIN_LAG, Freshness
from feature_gateway.domain.identity import Principal
from feature_gateway.domain.lifecycle import Role
from feature_gateway.domain.ownership import Governance
from feature_gateway.domain.permissions import REVIEWS, FeatureFacts, owner_refusal, why_not
from feature_gateway.services.rows import (
    FeatureData,
    feature_data,
    found_feature,
    load_feature,
)


def acting_caller(actor: str, role: str, caller: Principal | None) -> Principal:
    """Who takes a write, as the rules see them: the actor (the verified principal, or the
    name a trust-mode request claims) in the role they act in, with the groups of the
    ``caller`` its front door identified (a token's or the provider's; none in trust mode,
    where an API request has no caller and the console's claimed person has no groups)."""
    if caller is None:
        return Principal(actor, frozenset({Role(role)}), authenticated=False)
    return replace(caller, name=actor, roles=frozenset({Role(role)}))


def load_to_act(
    uow: UnitOfWork, act: str, feature_name: str, expected_revisions: Collection[int] | None
) -> tuple[Feature, tuple[str, ...] | None]:
    """The feature ``load_feature`` loads for ``act`` and, for a review (the one kind of act
    whose rule, separation of duties, reads them), who changed its definition, read with it:
    one round trip on PostgreSQL where it was two. None: ``check_may_act`` reads them."""
    if act not in REVIEWS:
        return load_feature(uow, feature_name, expected_revisions), None
    feature, changers = uow.features.get_with_changers(feature_name)
    return found_feature(feature, feature_name, expected_revisions), changers


def check_may_act(
    uow: UnitOfWork,
    caller: Principal,
    act: str,
    feature: Feature,
    governance: Governance,
    changers: tuple[str, ...] | None = None,
) -> None:
    """Raise the error of the first rule refusing ``caller`` the ``act`` on the loaded
    ``feature`` (``why_not``); nothing is written before it. ``changers``: who changed its
    definition, when read with it (``load_to_act``)."""
    refusal = why_not(caller, act, _facts(uow, feature, act, changers), governance)
    if refusal is not None:
        raise refusal.error


def check_owner(caller: Principal, feature_name: str, owner: str, governance: Governance) -> None:
    """Raise 403 unless ``caller`` may make ``owner`` the owner of ``feature_name``."""
    refusal = owner_refusal(caller, feature_name, owner, governance)
    if refusal is not None:
        raise refusal.error


def feature_facts(
    database: Database, feature_name: str, freshness: Freshness = WITHIN_LAG
) -> FeatureFacts:
    """Everything ``why_not`` reads of one feature (404 if there is none)."""

    def read(uow: UnitOfWork) -> FeatureFacts:
        feature = load_feature(uow, feature_name)
        changers = uow.definition_changes.changers(feature.id)
        return FeatureFacts.of(feature_data(feature), changers)

    return database.replicated_read(read, freshness.of(feature_name))


def page_facts(
    database: Database, rows: Sequence[FeatureData], freshness: Freshness = WITHIN_LAG
) -> list[FeatureFacts]:
    """The facts of each of ``rows`` (features a list already read, e.g. a page's
    ``items``), in their order: one statement for the whole page (who changed each
    definition), the rest from the rows themselves."""
    if not rows:
        return []
    names = [row["feature_name"] for row in rows]

    def read(uow: UnitOfWork) -> dict[str, tuple[str, ...]]:
        return uow.definition_changes.changers_by_name(names)

    changers = database.replicated_read(read, freshness)
    return [FeatureFacts.of(row, changers.get(row["feature_name"], ())) for row in rows]


def _facts(
    uow: UnitOfWork, feature: Feature, act: str, changers: tuple[str, ...] | None
) -> FeatureFacts:
    # Who changed the definition is read only for a review, the one kind of act whose rule
    # (separation of duties) reads it: an owner's write costs no more than it did.
    if act not in REVIEWS:
        changers = ()
    elif changers is None:
        changers = uow.definition_changes.changers(feature.id)
    # The few fields the rules read, from the loaded row: a write pays for no full
    # ``feature_data`` of it before it even starts.
    row = {name: getattr(feature, name) for name in FeatureFacts.READS}
    return FeatureFacts.of(row, changers)
