"""The catalog's queries: the tag index, the list filters it serves, the change log and the
versions of a feature. They never commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.orm import Session, joinedload

from feature_gateway.db.appended import insert_appended, new_row
from feature_gateway.db.batches import Batch
from feature_gateway.db.catalog_models import FeatureChange, FeatureComment, FeatureTag
from feature_gateway.db.models import Feature, field_values
from feature_gateway.domain.changes import changed_fields
from feature_gateway.domain.feature_fields import FIELD_NAMES
from feature_gateway.domain.versions import number_of_key


def replace_tags(connection: Connection, feature_id: int, tags: Mapping[str, str]) -> None:
    """Make the tag index hold exactly ``tags`` for the feature (two statements at most)."""
    connection.execute(delete(FeatureTag).where(FeatureTag.feature_id == feature_id))
    index_tags(connection, feature_id, tags)


def index_tags(connection: Connection, feature_id: int, tags: Mapping[str, str]) -> None:
    """Add ``tags`` of a feature that has none indexed (a new one) to the tag index."""
    if tags:
        connection.execute(
            insert(FeatureTag),
            [{"feature_id": feature_id, "key": k, "value": v} for k, v in tags.items()],
        )


# The advisory lock serialising change-log appends on PostgreSQL: b"fmg_log" as a number.
LOG_LOCK_KEY = int.from_bytes(b"fmg_log", "big")


@dataclass
class _Tracked:
    feature: Feature
    before: dict[str, Any]
    action: str
    actor: str
    actor_role: str | None
    authenticated: bool
    credential: str | None
    timestamp: int
    comment: FeatureComment | None = None


class ChangeLogRepository:
    """The change log. A use case ``track``s each feature it is about to change; the unit of
    work's commit calls ``write_tracked``, which compares each feature with its state when
    tracked and inserts one entry per feature (``db.appended``), committed with the change.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.tracked: list[_Tracked] = []
        self.appended: list[FeatureChange] = []  # this unit of work's entries, in order

    def track(
        self,
        feature: Feature,
        action: str,
        *,
        actor: str,
        actor_role: str | None,
        timestamp: int,
        authenticated: bool = False,
        credential: str | None = None,
        new: bool = False,
        comment: FeatureComment | None = None,
    ) -> None:
        """``comment``: the entry is that comment's, and the feature does not change (its
        revision stays, as the row is not written)."""
        before = {} if new else self.snapshot(feature)
        tracked = _Tracked(
            feature, before, action, actor, actor_role, authenticated, credential, timestamp,
            comment,
        )  # fmt: skip
        self.tracked.append(tracked)

    def snapshot(self, feature: Feature) -> dict[str, Any]:
        values = field_values(feature)
        if isinstance(values.get("tags"), dict):
            values["tags"] = dict(values["tags"])  # the row's own dict may be replaced later
        return values

    def write_tracked(self, batch: Batch) -> list[FeatureChange]:
        """Insert the entries of the tracked features, flushed by then, in ``batch``; returns
        them, their ids set when its results are read. Take the log's lock first in the
        same transaction (``lock_for_append``, or ``append_lock``'s key): it decides the
        order readers see them in."""
        written: list[FeatureChange] = []
        comments: list[FeatureComment] = []
        for tracked in self.tracked:
            feature = tracked.feature
            after = self.snapshot(feature)
            values = {
                "feature": feature,
                "feature_name": feature.feature_name,
                # The revision this write gives the row: the mapper's version counter starts
                # at 1 and adds 1 per UPDATE (SQLAlchemy's default version_id_generator).
                # A comment leaves the row alone: the revision it was written at.
                "revision": (tracked.before.get("revision") or 0) + (tracked.comment is None),
                "action": tracked.action,
                "actor": tracked.actor,
                "actor_role": tracked.actor_role,
                "authenticated": tracked.authenticated,
                "credential": tracked.credential,
                "timestamp": tracked.timestamp,
                "previous_status": tracked.before.get("status"),
                "new_status": feature.status,
                "fields": changed_fields(tracked.before, after, FIELD_NAMES),
            }
            entry = new_row(FeatureChange, values)
            if tracked.comment is not None:
                tracked.comment.change = entry  # inserted with it, so never without it
                comments.append(tracked.comment)
            written.append(entry)
        insert_appended(batch, written)
        if comments:  # after their entries, whose ids they refer to (``change_id``)
            batch.results()
            insert_appended(batch, comments)
        self.appended.extend(written)
        self.tracked.clear()
        return written

    def lock_for_append(self) -> None:
        """Make change-log ids commit-ordered, so the event feed never skips (SPEC §9).

        PostgreSQL hands out ids from a sequence when a row is inserted, not when its
        transaction commits: a reader that saw id 8 committed may later find id 7 commit,
        behind its cursor. This transaction-level advisory lock, taken right before the
        entries are inserted and held until commit, makes the id assignment and the commit
        of one writer happen before the next writer's: whenever a reader sees an entry,
        every entry with a smaller id has committed (or rolled back) already. The lock
        covers only the end of a write (insert entries, outbox rows, COMMIT); what the use
        case did before runs concurrently. SQLite needs nothing: its writers hold the
        database's write lock from BEGIN IMMEDIATE to COMMIT, one at a time.
        """
        key = self.append_lock()
        if key is not None:
            self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def append_lock(self) -> int | None:
        """The key of the advisory lock ``lock_for_append`` takes; None: none is needed
        (SQLite). For a statement that takes it itself (the outbox's read of the webhooks,
        one round trip less on every write)."""
        return LOG_LOCK_KEY if self.session.get_bind().dialect.name == "postgresql" else None

    def feed(
        self,
        after: int,
        limit: int,
        actions: Sequence[str] | None = None,
        feature_name: str | None = None,
    ) -> Sequence[FeatureChange]:
        """Entries after position ``after``, oldest first: one index range scan (and the
        comments of comment entries, joined on their unique index)."""
        query = (
            select(FeatureChange)
            .where(FeatureChange.id > after)
            .options(joinedload(FeatureChange.comment))
        )
        if actions:
            query = query.where(FeatureChange.action.in_(actions))
        if feature_name is not None:
            query = query.where(FeatureChange.feature_name == feature_name)
        return self.session.scalars(query.order_by(FeatureChange.id).limit(limit)).all()

    def for_feature(self, feature_id: int) -> Sequence[FeatureChange]:
        return self.session.scalars(
            select(FeatureChange)
            .where(FeatureChange.feature_id == feature_id)
            .order_by(FeatureChange.id)
        ).all()


class VersionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of_family(self, family: str) -> Sequence[Feature]:
        """Every version of ``<view>:<feature>``, any status, by version number."""
        return self.session.scalars(
            select(Feature)
            .where(Feature.family_name == family)
            .order_by(Feature.version_key, Feature.feature_name)
        ).all()

    def highest_number_locked(self, family: str) -> int:
        """The highest version number of the family, its rows locked until commit.

        On PostgreSQL the lock queues concurrent creators of a version of one family, and
        the count after it sees the versions committed meanwhile, so each gets its own
        number. SQLite writers hold the database lock already (BEGIN IMMEDIATE); there the
        FOR UPDATE is not rendered.
        """
        of_family = Feature.family_name == family
        self.session.execute(select(Feature.id).where(of_family).with_for_update())
        highest = self.session.scalar(select(func.max(Feature.version_key)).where(of_family))
        return 0 if highest is None else number_of_key(highest)


@event.listens_for(Feature, "after_insert")
def _index_tags_of_new_feature(_mapper: Any, connection: Connection, feature: Feature) -> None:
    if feature.tags:
        replace_tags(connection, feature.id, feature.tags)


@event.listens_for(Feature, "after_update")
def _reindex_changed_tags(_mapper: Any, connection: Connection, feature: Feature) -> None:
    # Documented flush hooks: the tag index changes in the same flush, and so the same
    # transaction, as the tags it indexes; no code path can update one without the other.
    if inspect(feature).attrs.tags.history.has_changes():
        replace_tags(connection, feature.id, feature.tags)
