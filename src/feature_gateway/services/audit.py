"""Audit verification (SPEC §11): every feature's history and change log against its row.

One snapshot, one pass: the reader streams the features, the history and the change log,
each ordered by feature; they are merged here feature by feature and each feature is
checked by the domain rules (``domain.audit_chain``). Entries of a feature id with no row
are breaks too. Comments are not status changes: each must belong to a comment entry of
its feature's change log (its event), and each such entry have its comment.
"""

from __future__ import annotations

import itertools
import operator
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from feature_gateway.db.scopes import Database
from feature_gateway.domain.audit_chain import (
    CHANGE_LOG,
    COMMENT_ACTION,
    COMMENTS,
    HISTORY,
    Break,
)
from feature_gateway.domain.audit_checks import TrailChecker, check_comments


@dataclass
class AuditReport:
    features: int = 0
    history_entries: int = 0
    change_entries: int = 0
    comments: int = 0
    breaks: list[Break] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def whole(self) -> bool:
        return not self.breaks

    @property
    def broken_features(self) -> int:
        return len({b.feature_id for b in self.breaks})

    def as_dict(self) -> dict[str, Any]:
        return {
            "whole": self.whole,
            "features": self.features,
            "history_entries": self.history_entries,
            "change_entries": self.change_entries,
            "comments": self.comments,
            "broken_features": self.broken_features,
            "breaks": [b.as_dict() for b in self.breaks],
            "seconds": round(self.seconds, 3),
        }


class _Grouped:
    """One stream of rows ordered by feature id, handed out a feature at a time."""

    def __init__(self, rows: Iterator[Any]) -> None:
        self._groups = itertools.groupby(rows, key=operator.itemgetter(0))  # feature_id
        self._pending = self._next_group()
        self.count = 0

    def _next_group(self) -> tuple[int, list[Any]] | None:
        found = next(self._groups, None)
        return None if found is None else (found[0], list(found[1]))

    def take(self, feature_id: int) -> list[Any]:
        """The feature's rows; the caller has taken the orphans before it already."""
        if self._pending is None or self._pending[0] != feature_id:
            return []
        taken = self._pending[1]
        self._pending = self._next_group()
        self.count += len(taken)
        return taken

    def orphans_before(self, feature_id: int | None) -> list[Any]:
        """Rows of feature ids below ``feature_id`` (None: all left), which have no row."""
        orphans: list[Any] = []
        while self._pending is not None and (feature_id is None or self._pending[0] < feature_id):
            orphans.extend(self._pending[1])
            self._pending = self._next_group()
        self.count += len(orphans)
        return orphans


def verify_audit_trails(database: Database) -> AuditReport:
    started = time.monotonic()
    report = AuditReport()
    checker = TrailChecker()
    with database.snapshot() as uow:
        streams = {
            HISTORY: _Grouped(uow.trails.history()),
            CHANGE_LOG: _Grouped(uow.trails.changes()),
            COMMENTS: _Grouped(uow.trails.comments()),
        }
        history, changes, comments = streams.values()
        for feature in uow.trails.features():
            _orphans(report, streams, feature.id)
            report.features += 1
            its_changes = changes.take(feature.id)
            report.breaks.extend(checker.check(feature, history.take(feature.id), its_changes))
            its_comments = comments.take(feature.id)
            if its_comments or any(c.action == COMMENT_ACTION for c in its_changes):
                report.breaks.extend(check_comments(feature, its_changes, its_comments))
        _orphans(report, streams, None)
    report.history_entries, report.change_entries = history.count, changes.count
    report.comments = comments.count
    report.seconds = time.monotonic() - started
    return report


def _orphans(report: AuditReport, streams: dict[str, _Grouped], before: int | None) -> None:
    for table, stream in streams.items():
        for row in stream.orphans_before(before):
            report.breaks.append(
                Break(
                    row.feature_id, None, table, row.id, "entry of a feature that does not exist"
                )
            )
