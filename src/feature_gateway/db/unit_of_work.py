"""The unit of work: one use case's transaction, and the one commit path.

The scopes a unit of work is opened in are listed in ``db.scopes``. Every commit in the
service is ``UnitOfWork.commit``, and what follows from one is always the same, in order:

1. before the commit, in its transaction: a change-log entry for each change the use case
   told its recorder of (``record``, ``db.recording``; SPEC §8), written under the log
   lock so that ids follow
   commit order, and one webhook delivery per entry and matching active webhook (the
   outbox, SPEC §9);
2. the commit: a racing write of the same row is ``ConcurrentModificationError``, a racing
   create of the same name ``FeatureAlreadyExistsError`` (both 409), and nothing follows;
3. after it, the status changes the use case recorded (``record.status_change``) are
   published:
   logged and counted (``observability.status_changed``). A unit of work inside a keyed
   write (``db.scopes.KeyedWrite``) commits a savepoint and hands them to the keyed write,
   which publishes them once it commits.

So nothing is published for a change that did not commit, and nothing committed goes
unpublished; ``commit`` returns what it wrote and published (``Committed``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from feature_gateway import observability
from feature_gateway.db.audit_trails import AuditTrailReader
from feature_gateway.db.batches import Batch, Sent
from feature_gateway.db.catalog_models import FeatureChange
from feature_gateway.db.catalog_repositories import ChangeLogRepository, VersionRepository
from feature_gateway.db.comments import CommentRepository
from feature_gateway.db.console_sessions import ConsoleSessionRepository
from feature_gateway.db.definition_changes import DefinitionChangeRepository
from feature_gateway.db.idempotency import IdempotencyRepository
from feature_gateway.db.models import AuditEntry
from feature_gateway.db.oidc_logins import PendingSignInRepository
from feature_gateway.db.recording import Recorder
from feature_gateway.db.repositories import AuditRepository, FeatureRepository, has_unflushed
from feature_gateway.db.served_at import ServedAtRepository
from feature_gateway.db.tokens import TokenRepository
from feature_gateway.db.usage import UsageRepository
from feature_gateway.db.violations import first_writer_wins
from feature_gateway.db.webhooks import DeliveryRepository, WebhookRepository
from feature_gateway.errors import DatabaseStorageFullError, DatabaseUnavailableError

# SQLite's result code and PostgreSQL's SQLSTATE for "no room left to write".
_SQLITE_FULL = 13
_POSTGRES_DISK_FULL = "53100"


def unavailable(exc: BaseException | None) -> DatabaseUnavailableError:
    """The 503 a driver error means: the database's storage is full, or it is unavailable.

    The one place that tells them apart, so every read and write path answers alike."""
    orig = getattr(exc, "orig", exc)
    code = getattr(orig, "sqlite_errorcode", None)
    full = (code is not None and code & 0xFF == _SQLITE_FULL) or (
        getattr(orig, "sqlstate", None) == _POSTGRES_DISK_FULL
    )
    return DatabaseStorageFullError() if full else DatabaseUnavailableError()


@dataclass(frozen=True)
class Committed:
    """What a commit wrote besides the change itself, and the status changes it published."""

    changes: tuple[FeatureChange, ...] = ()  # the change-log entries (SPEC §8)
    deliveries: int = 0  # the webhook deliveries queued for them: the outbox (SPEC §9)
    status_changes: tuple[AuditEntry, ...] = ()  # logged and counted once committed
    # False: handed to the enclosing keyed write, which publishes them when it commits.
    published: bool = True

    @classmethod
    def of(cls, parts: Sequence[Committed], *, published: bool) -> Committed:
        return cls(
            changes=tuple(entry for part in parts for entry in part.changes),
            deliveries=sum(part.deliveries for part in parts),
            status_changes=tuple(entry for part in parts for entry in part.status_changes),
            published=published,
        )


def publish(entries: Sequence[AuditEntry]) -> None:
    """Log and count the status changes of a committed transaction."""
    for entry in entries:
        observability.status_changed(
            feature_name=entry.feature.feature_name,
            from_status=entry.from_status,
            to_status=entry.to_status,
            trigger=entry.trigger,
            actor=entry.actor,
            actor_role=entry.actor_role,
        )


class UnitOfWork:
    """One session and its transaction, with the repositories; rolled back on leaving
    unless the use case commits. Opened through a ``Database`` scope (``db.scopes``)."""

    features: FeatureRepository
    audit: AuditRepository
    changes: ChangeLogRepository
    versions: VersionRepository
    comments: CommentRepository
    tokens: TokenRepository
    definition_changes: DefinitionChangeRepository
    trails: AuditTrailReader
    webhooks: WebhookRepository
    deliveries: DeliveryRepository
    usage: UsageRepository
    served_at: ServedAtRepository
    console_sessions: ConsoleSessionRepository
    sign_ins: PendingSignInRepository
    # What a use case says it does (a feature added, changed, its status moved); the logs
    # that follow from it are written by the recorder and at commit (``db.recording``).
    record: Recorder

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        writes: bool,
        enclosing: UnitOfWork | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._writes = writes
        self._enclosing = enclosing
        self._handed: list[Committed] = []  # by the units of work inside this one
        self._done = False  # committed with ``last``

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.features = FeatureRepository(self.session)
        self.audit = AuditRepository(self.session)
        self.changes = ChangeLogRepository(self.session)
        self.versions = VersionRepository(self.session)
        self.comments = CommentRepository(self.session)
        self.tokens = TokenRepository(self.session)
        self.definition_changes = DefinitionChangeRepository(self.session)
        self.trails = AuditTrailReader(self.session)
        self.webhooks = WebhookRepository(self.session)
        self.deliveries = DeliveryRepository(self.session)
        self.usage = UsageRepository(self.session)
        self.served_at = ServedAtRepository(self.session)
        self.console_sessions = ConsoleSessionRepository(self.session)
        self.sign_ins = PendingSignInRepository(self.session)
        self.record = Recorder(self.features, self.audit, self.changes, self.definition_changes)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed and detaches the loaded rows with
        # their state intact, so the caller can still serialise what the use case returned.
        # A failing close means the connection is gone; the pool discards it.
        with contextlib.suppress(DBAPIError):
            self.session.close()
        if isinstance(exc, OperationalError | InterfaceError):
            raise unavailable(exc) from exc

    @property
    def idempotency_keys(self) -> IdempotencyRepository:
        """The keyed writes' stored responses: plain statements on this unit of work's
        connection (its transaction begins here if it has not yet)."""
        return IdempotencyRepository(self.session.connection())

    def commit(self, *, last: bool = False) -> Committed:
        """Commit; write the change log and the outbox first, publish the status changes
        after (see the module). Committing again commits what was recorded since.

        ``last``: the use case neither commits again nor changes its rows after this
        commit, only returns their values: a changed feature is left out of the session
        once written, instead of made clean in it for another change (a twentieth of a
        trigger's instructions, docs/performance.md, "i28-create"). A commit after it is
        refused (TypeError), so no change made since can be lost unwritten."""
        if not self._writes:
            raise TypeError("a unit of work opened for reading never commits: use writing()")
        if self._done:
            raise TypeError("this unit of work was committed for the last time (last=True)")
        self._done = last
        changes, deliveries = self._commit_session(kept=not last)
        own = Committed(changes, deliveries, tuple(self.audit.appended))
        self.audit.appended.clear()
        return self._hand_up(own)

    def _hand_up(self, *own: Committed) -> Committed:
        """What the units of work inside this one handed up, with ``own``: published now,
        or handed on to the enclosing unit of work, which publishes after its commit."""
        handed, self._handed = self._handed, []
        committed = Committed.of([*handed, *own], published=self._enclosing is None)
        if self._enclosing is None:
            publish(committed.status_changes)
        else:
            self._enclosing._handed.append(committed)
        return committed

    def _write_logs(
        self, batch: Batch
    ) -> tuple[list[FeatureChange], Sent[list[tuple[str, list[str]]]] | None]:
        """The history, then the change log (SPEC §8) in ``batch``: the entries, their ids
        set when its results are read, and the webhooks the outbox matches them against
        (SPEC §9), None when nothing was tracked.

        The change itself is written first, so that the log lock (``lock_for_append``'s,
        PostgreSQL) is held only for the entries, the outbox rows and the commit. The
        webhooks are read before the lock for the same reason, by the statement that then
        takes it; on PostgreSQL the three go to the server together (``db.batches``), one
        round trip where they were three.
        """
        self.audit.write_appended(batch)
        if not self.changes.tracked:
            return [], None
        subscriptions = self.deliveries.active_subscriptions(
            batch, then_lock=self.changes.append_lock()
        )
        return self.changes.write_tracked(batch), subscriptions

    def _commit_session(self, *, kept: bool) -> tuple[tuple[FeatureChange, ...], int]:
        # The features this write changes, named by a 409 if another writer wins (a new
        # feature's row is inserted when it is added: ``FeatureRepository.add``).
        pending = self.features.pending_names()
        with first_writer_wins(lambda: pending):
            # The features' rows first (by Core statements, ``db.feature_writes``; the
            # flush writes other mapped rows: definition changes, tokens, webhooks), then
            # the append-only rows referring to them, by Core inserts (``db.appended``): the
            # history, then the change log; then the outbox, a delivery for each active
            # webhook matching an entry (none for a change that does not commit). On
            # PostgreSQL the features' UPDATEs go with the history and the change log, one
            # round trip, unless the flush has rows to write after them.
            with Batch(self.session.connection) as batch:
                self.features.write_changed(batch, kept=kept)
                if has_unflushed(self.session):
                    batch.results()  # the features' rows written before the flush's
                    self.session.flush()
                entries, subscriptions = self._write_logs(batch)
            deliveries = 0
            if subscriptions is not None and subscriptions.value:
                deliveries = self.deliveries.enqueue(entries, subscriptions.value)
            self.session.commit()
        return tuple(entries), deliveries
