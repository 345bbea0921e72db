"""Ownership and independent approval (SPEC §12): who belongs to a feature's owner.

A feature's ``owner`` names a person or a group. A caller is a **member of the owner** when
the owner is the caller or one of the caller's groups. Both comparisons use the one rule
for names (§2, ``domain.identity.same_person``: NFKC, case folding, TR39 look-alikes):

- The owner is typed by people (create, update); the groups come from a token's ``groups``
  or the identity provider's groups claim. "Growth" written as owner is the provider's
  "growth" group, as "Alice" is alice: an exact comparison would send a team to edit its
  own features under a second spelling, and would let a team review its own work by
  spelling its name another way (APPROVAL=independent).
- The looser match cannot be used to join a team: group names are granted by the
  provider's or the tokens' administrators, never chosen by the caller; and every owner a
  caller names (at create, at an owner change) must already be one of theirs.

Membership is one answer for both settings: the same caller is never "a member" for the
independent-approval refusal and "not a member" for the ownership one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from feature_gateway.domain.identity import same_person


class Ownership(StrEnum):
    """``OWNERSHIP``: ``open`` (anyone with the role may change any feature, the seed's
    behaviour) or ``enforced`` (only members of its owner)."""

    OPEN = "open"
    ENFORCED = "enforced"


class Approval(StrEnum):
    """``APPROVAL``: ``any`` (§7's rules only) or ``independent`` (nobody in the owning
    team may record the test result of, approve or reject a feature)."""

    ANY = "any"
    INDEPENDENT = "independent"


@dataclass(frozen=True)
class Governance:
    """The two settings, as the services and the may-I-act answer take them."""

    ownership: Ownership = Ownership.OPEN
    approval: Approval = Approval.ANY

    @property
    def enforced(self) -> bool:
        return self.ownership is Ownership.ENFORCED

    @property
    def independent(self) -> bool:
        return self.approval is Approval.INDEPENDENT


OPEN = Governance()


class Member(Protocol):
    """Who may belong to an owner: a ``Principal`` (name and groups)."""

    @property
    def name(self) -> str: ...

    @property
    def groups(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class Membership:
    """How a caller belongs to an owner: as the owner themselves, or through a group."""

    owner: str
    by_group: bool


def membership(caller: Member, owner: str | None) -> Membership | None:
    """How ``caller`` belongs to ``owner`` (the person first, then their groups), or None."""
    if owner is None:
        return None
    if same_person(caller.name, owner):
        return Membership(owner, by_group=False)
    if any(same_person(group, owner) for group in caller.groups):
        return Membership(owner, by_group=True)
    return None


def is_member(caller: Member, owner: str | None) -> bool:
    return membership(caller, owner) is not None
