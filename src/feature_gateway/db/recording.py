"""What a write records: a use case says what it does, the unit of work writes every log
that follows from it.

A use case tells its unit of work's ``record`` one of four things: a feature is added
(``add_feature``), a feature is changed (``change``), the lifecycle machine moved a
feature from one status to another (``status_change``, called by the machine's callback),
or someone commented on a feature (``comment``). From that, in the same transaction, it
writes:

- the row itself, with the defaults the field table gives (``with_defaults``);
- the history (``feature_audit``): the creation row of an added feature, one row for each
  status change;
- the definition changes (``feature_definition_changes``): who changed a critical field,
  or, for a version copying its source's definition unchanged, the source's authors;
- the change log (``feature_changes``), one entry per tracked feature, and its outbox rows,
  both written when the unit of work commits (``ChangeLogRepository.write_tracked``);
- a comment's row (``feature_comments``), inserted with its change-log entry at commit: the
  entry is its ``feature.comment`` event, and the feature's row is not written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from feature_gateway.db.appended import new_row
from feature_gateway.db.catalog_models import FeatureComment
from feature_gateway.db.catalog_repositories import ChangeLogRepository
from feature_gateway.db.definition_changes import DefinitionChange, DefinitionChangeRepository
from feature_gateway.db.models import AuditEntry, Feature
from feature_gateway.db.repositories import AuditRepository, FeatureRepository
from feature_gateway.domain.comments import COMMENT_ACTION
from feature_gateway.domain.feature_fields import CRITICAL_FIELDS, with_defaults
from feature_gateway.domain.identity import Principal
from feature_gateway.domain.lifecycle import CREATION_TRIGGER, Write


@dataclass(frozen=True)
class Acting:
    """Who performs a write, in which role, when, and whether the name was verified (a
    token's principal, or a person signed in at the provider) or only claimed (trust mode,
    imports), and by which credential (``Principal.credential``; None when claimed)."""

    actor: str
    role: str | None
    timestamp: int
    authenticated: bool = False
    credential: str | None = None

    @classmethod
    def by(cls, actor: str, role: str | None, timestamp: int, caller: Principal | None) -> Acting:
        """``actor`` acting for ``caller`` (None: a trust-mode API request, an import): what
        the caller's front door verified is what the entries record, never a flag passed on
        by hand."""
        if caller is None:
            return cls(actor, role, timestamp)
        return cls(actor, role, timestamp, caller.authenticated, caller.credential)


class Recorder:
    """The one way a write is recorded; ``UnitOfWork.record``."""

    def __init__(
        self,
        features: FeatureRepository,
        audit: AuditRepository,
        changes: ChangeLogRepository,
        definition_changes: DefinitionChangeRepository,
    ) -> None:
        self._features, self._audit = features, audit
        self._changes, self._definition_changes = changes, definition_changes

    def add_feature(
        self,
        values: Mapping[str, Any],
        write: Write,
        acting: Acting,
        *,
        reason: str | None = None,
        copied_from: Feature | None = None,
        kept: bool = True,
        unless_taken: bool = False,
    ) -> Feature:
        """Insert a feature row from ``values`` (the field table's defaults filled in) for
        ``write`` (create, create_version or import), with its change-log entry and its
        creation row in the history. ``copied_from``: the version it was made from, whose
        definition authors it inherits when it copies that definition unchanged. ``kept``
        False: the use case does nothing more with the row than return it (not made
        persistent in the session, ``FeatureRepository.add``); not with ``copied_from``,
        whose definition changes refer to it. ``unless_taken``: a feature stored under its
        name (either spelling) is ``FeatureAlreadyExistsError`` naming it and its status,
        checked as the row is inserted (``FeatureRepository.add``)."""
        feature = new_row(Feature, with_defaults(values))
        self._features.add(
            feature, kept=kept or copied_from is not None, unless_taken=unless_taken
        )
        self._track(feature, write, acting, new=True)
        self.status_change(
            feature,
            from_status=None,
            trigger=CREATION_TRIGGER[write],
            reason=reason,
            acting=acting,
        )
        if copied_from is not None:
            changed = sorted(f for f in CRITICAL_FIELDS if _differs(feature, copied_from, f))
            if changed:
                self._definition_changed(feature, changed, acting)
            else:
                self._definition_changes.inherit(feature, copied_from, acting.timestamp)
        return feature

    def change(
        self,
        feature: Feature,
        action: str,
        acting: Acting,
        changed: Mapping[str, Any] | None = None,
    ) -> None:
        """``feature`` is about to change by ``action`` (update, or the trigger a caller
        fires): its change-log entry compares it at commit with what it is now. The
        ``changed`` fields are set on it; a changed critical field is a definition change."""
        self._track(feature, action, acting)
        for name, value in (changed or {}).items():
            setattr(feature, name, value)
        definition = sorted(set(changed or ()) & set(CRITICAL_FIELDS))
        if definition:
            self._definition_changed(feature, definition, acting)

    def comment(self, feature: Feature, body: str, acting: Acting) -> FeatureComment:
        """``acting.actor`` comments ``body`` on ``feature``: a comment row and its
        change-log entry (the feature's revision and status as they are, no field
        changed), both inserted when the unit of work commits. The feature is not written."""
        comment = FeatureComment(
            feature=feature,
            body=body,
            author=acting.actor,
            author_role=acting.role,
            authenticated=acting.authenticated,
            credential=acting.credential,
            created_time=acting.timestamp,
        )
        self._changes.track(
            feature, COMMENT_ACTION, actor=acting.actor, actor_role=acting.role,
            timestamp=acting.timestamp, authenticated=acting.authenticated,
            credential=acting.credential, comment=comment,
        )  # fmt: skip
        return comment

    def status_change(
        self,
        feature: Feature,
        *,
        from_status: str | None,
        trigger: str,
        reason: str | None,
        acting: Acting,
        forced: bool = False,
    ) -> None:
        """``feature`` went from ``from_status`` (None: it is new) to its status by ``trigger``:
        its history entry. Called by the lifecycle machine, and for the row a write adds.
        ``forced``: the request overrode the trigger's guard."""
        entry = {
            "feature": feature,
            "from_status": None if from_status is None else str(from_status),
            "to_status": str(feature.status),
            "trigger": trigger,
            "actor": acting.actor,
            "actor_role": acting.role,
            "reason": reason,
            "timestamp": acting.timestamp,
            "authenticated": acting.authenticated,
            "credential": acting.credential,
            "forced": forced,
        }
        self._audit.append(new_row(AuditEntry, entry))

    def _track(self, feature: Feature, action: str, acting: Acting, *, new: bool = False) -> None:
        self._changes.track(
            feature, action, actor=acting.actor, actor_role=acting.role,
            timestamp=acting.timestamp, authenticated=acting.authenticated,
            credential=acting.credential, new=new,
        )  # fmt: skip

    def _definition_changed(self, feature: Feature, names: list[str], acting: Acting) -> None:
        self._definition_changes.append(
            DefinitionChange(
                feature=feature,
                changed_by=acting.actor,
                changed_time=acting.timestamp,
                changed_fields=",".join(names),
            )
        )


def _differs(feature: Feature, other: Feature, name: str) -> bool:
    return bool(getattr(feature, name) != getattr(other, name))
