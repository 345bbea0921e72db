"""Who acts: the principal behind a request, and the request fields bound to it (SPEC §7).

In trust mode a principal is whatever name and role the request claims (``authenticated``
is false); in token mode it is the name, roles and groups an API token was issued to, or
that the company's OpenID Connect provider vouches for (SPEC §12). ``credential`` says which.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from feature_gateway.domain.comments import COMMENT_ACTOR_FIELDS
from feature_gateway.domain.feature_fields import ACTOR_FIELDS as FEATURE_ACTOR_FIELDS
from feature_gateway.domain.lifecycle import PERMISSIONS, WORKFLOW_ROLES, Action, Role

ROLE_FIELD = "user_role"
# Every request field naming who performs a write: the feature's (each trigger's actor,
# create's and update's) and the comment's author; each derived from a field table.
ACTOR_FIELDS = (*FEATURE_ACTOR_FIELDS, *COMMENT_ACTOR_FIELDS)
# Required in trust mode (they are all the service knows of the caller); optional with a
# token, which says who the caller is and which roles it may act in.
IDENTITY_FIELDS = frozenset({ROLE_FIELD, *ACTOR_FIELDS})


# How an audit entry names the credential that verified its actor; bandit takes it for a password.
TOKEN_CREDENTIAL = "token:"  # nosec B105
OIDC_CREDENTIAL = "oidc:"


def token_credential(token_id: str) -> str:
    """What an entry made with an API token records: ``token:<token_id>``."""
    return f"{TOKEN_CREDENTIAL}{token_id}"


def oidc_credential(issuer: str) -> str:
    """What an entry made by a person signed in at the provider records: ``oidc:<issuer>``."""
    return f"{OIDC_CREDENTIAL}{issuer}"


@dataclass(frozen=True)
class Principal:
    name: str
    roles: frozenset[Role]
    authenticated: bool
    # The teams the caller belongs to: an API token's groups, or the provider's groups claim.
    groups: frozenset[str] = frozenset()
    # How the name was verified ("token:<token_id>", "oidc:<issuer>"); None when claimed.
    credential: str | None = None

    def role_for(self, action: Action) -> Role | None:
        """The role this principal acts in for ``action`` when none is named: the first of
        theirs, in the roles' declaration order, that may perform it (None if none may)."""
        allowed = PERMISSIONS[action]
        return next((role for role in Role if role in self.roles and role in allowed), None)


def claimable_roles(*, token_mode: bool) -> list[str]:
    """The roles a request may name, in declaration order: with a token every role (the
    token decides which it has), without one the workflow's (nobody can claim admin)."""
    roles = Role if token_mode else WORKFLOW_ROLES
    return [role.value for role in Role if role in roles]


def same_person(one: str | None, other: str | None) -> bool:
    """Whether two names name the same person (SPEC §2): equal after NFKC normalisation and
    case folding ("Alice" is "alice", and so is it in fullwidth letters), or confusable with
    each other by their Unicode TR39 skeletons (Cyrillic U+0430 for Latin "a", "1" for "l"). Every
    rule that compares people asks this, and nothing else."""
    if one is None or other is None:
        return False
    return one == other or not _likenesses(one).isdisjoint(_likenesses(other))


def folded(name: str) -> str:
    """The name as NFKC case folding writes it: two names equal so are the same person."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


@lru_cache(maxsize=4096)
def _likenesses(name: str) -> frozenset[str]:
    """The forms two names are compared in; they name one person when any form is shared.

    The skeleton is taken of the name as written and as folded: TR39 maps some capitals and
    lower-case letters apart ("I" to "l"), so "ALICE" meets "alice" with a Cyrillic "a" only
    folded.
    Cached: a handful of names (creator, changers, submitter, tester) recur in every check.
    """
    fold = folded(name)
    return frozenset({fold, _skeleton(name), _skeleton(fold)})


def _skeleton(name: str) -> str:
    # Imported on first use, not at start: a command of the CLI rarely needs its tables.
    # Under gunicorn the master has imported it before forking (gunicorn.conf.py), which
    # costs a worker less memory than loading it itself (docs/performance.md, issue 26).
    from disarm import skeleton_key

    # "tr39": also 1 = l and 0 = O, as an identifier skeleton has them.
    return skeleton_key(name, digit_policy="tr39")
