"""Read counts per feature, consumer and UTC day (SPEC §13), added to by every worker.

Each worker keeps its counts in memory and adds them here now and then
(``services.usage``): one row per (feature, day, consumer), and an upsert that adds to
it, so that any number of workers and hosts can flush at once without losing a count.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from feature_gateway.db.base import Base
from feature_gateway.domain.usage import ConsumerUsage


class FeatureUsage(Base):
    """How often one consumer read one feature on one UTC day, and when first and last."""

    __tablename__ = "feature_usage"

    # The feature's stored name: names are never reused or changed.
    feature_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)  # days since 1970-01-01 UTC
    consumer: Mapped[str] = mapped_column(String(255), primary_key=True)
    reads: Mapped[int] = mapped_column(BigInteger)
    first_read_time: Mapped[int] = mapped_column(BigInteger)  # epoch ms
    last_read_time: Mapped[int] = mapped_column(BigInteger)


_TABLE = FeatureUsage.__table__
_KEY = ("feature_name", "day", "consumer")
# The two spellings of "the smaller/larger of two values" (SQLite's min/max take several).
_LEAST: dict[str, Any] = {"postgresql": func.least, "sqlite": func.min}
_GREATEST: dict[str, Any] = {"postgresql": func.greatest, "sqlite": func.max}


def _insert(dialect: str) -> Any:
    """The dialect's INSERT … ON CONFLICT DO UPDATE (PostgreSQL 9.5, SQLite 3.24). Its
    module imported when asked: importing both dialects at start added the unused one to
    every worker's memory (2 MB for PostgreSQL's, docs/performance.md)."""
    return importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert


class UsageRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, rows: Sequence[dict[str, Any]]) -> None:
        """Add counts (``feature_name, day, consumer, reads, first_read_time,
        last_read_time``) to the stored ones: an upsert that sums the reads and keeps the
        earliest first and the latest last read, atomic per row on both databases. Rows
        are written in key order, so that two flushes lock rows in the same order."""
        dialect = self.session.get_bind().dialect.name
        statement = _insert(dialect)(FeatureUsage)
        new = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=list(_KEY),
            set_={
                "reads": _TABLE.c.reads + new.reads,
                "first_read_time": _LEAST[dialect](_TABLE.c.first_read_time, new.first_read_time),
                "last_read_time": _GREATEST[dialect](_TABLE.c.last_read_time, new.last_read_time),
            },
        )
        ordered = sorted(rows, key=lambda row: tuple(row[k] for k in _KEY))
        self.session.execute(statement, ordered)

    def by_consumer(
        self, feature_name: str, first_day: int, read_since: int | None = None
    ) -> list[ConsumerUsage]:
        """Each consumer's reads of the feature from ``first_day`` on (one range of the
        primary key), the busiest first; with ``read_since``, only those who read it at or
        after that time."""
        reads = func.sum(FeatureUsage.reads)
        last = func.max(FeatureUsage.last_read_time)
        statement = (
            select(FeatureUsage.consumer, reads, func.min(FeatureUsage.first_read_time), last)
            .where(FeatureUsage.feature_name == feature_name, FeatureUsage.day >= first_day)
            .group_by(FeatureUsage.consumer)
            .order_by(reads.desc(), FeatureUsage.consumer)
        )
        if read_since is not None:
            statement = statement.having(last >= read_since)
        return [
            ConsumerUsage(consumer, int(total), int(first), int(latest))
            for consumer, total, first, latest in self.session.execute(statement)
        ]
