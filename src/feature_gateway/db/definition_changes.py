"""Who ever changed a feature's definition: what separation of duties needs (SPEC §7).

The feature row keeps only its latest editor; this table keeps every change of a definition
field (``query``, ``feature_type``, ``feature_data_type``), append-only, with who made it, and
the authors a new version inherits with a definition it copies unchanged.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from feature_gateway.db.base import Base
from feature_gateway.db.compiled import in_session
from feature_gateway.db.models import ACTOR, Feature


class DefinitionChange(Base):
    __tablename__ = "feature_definition_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id", ondelete="RESTRICT"))
    changed_by: Mapped[str] = mapped_column(ACTOR)
    changed_time: Mapped[int] = mapped_column(BigInteger)
    # The definition fields changed, comma-separated; null for rows the migration inferred
    # and for the authors a version inherited from its source (``inherit``).
    changed_fields: Mapped[str | None] = mapped_column(String(255))

    feature: Mapped[Feature] = relationship(lazy="raise")

    __table_args__ = (Index("ix_feature_definition_changes_feature_id", "feature_id"),)


_CHANGERS = (
    select(DefinitionChange.changed_by)
    .where(DefinitionChange.feature_id == bindparam("feature_id"))
    .order_by(DefinitionChange.id)
)

# The same of the feature stored under a name (``:n``), for a read sent with the row's
# (``FeatureRepository.get_with_changers``), which knows its name but not yet its id.
CHANGERS_BY_NAME = (
    select(DefinitionChange.changed_by)
    .join(Feature, Feature.id == DefinitionChange.feature_id)
    .where(Feature.feature_name == bindparam("n"))
    .order_by(DefinitionChange.id)
)


def distinct_changers(rows: Collection[tuple[str]]) -> tuple[str, ...]:
    """Each changer of ``rows`` (oldest first) once."""
    return tuple(dict.fromkeys(name for (name,) in rows))


class DefinitionChangeRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def append(self, change: DefinitionChange) -> None:
        self.session.add(change)

    def changers(self, feature_id: int) -> tuple[str, ...]:
        """Everyone who ever changed the feature's definition, each once, oldest first."""
        # Asked before every review trigger: by the driver (``db.compiled.in_session``),
        # after the flush the ORM's query would have made first (pending changes of this
        # unit of work included; nothing to flush in a trigger, which asks before it records).
        self.session.flush()
        rows = in_session(self.session, _CHANGERS, {"feature_id": feature_id})
        return distinct_changers(rows)

    def changers_by_name(self, feature_names: Collection[str]) -> dict[str, tuple[str, ...]]:
        """``changers`` of many features at once, by feature name (one statement, for a
        page of features); a feature nobody changed is left out."""
        found: dict[str, dict[str, None]] = {}
        if not feature_names:
            return {}
        rows = self.session.execute(
            select(Feature.feature_name, DefinitionChange.changed_by)
            .join(Feature, Feature.id == DefinitionChange.feature_id)
            .where(Feature.feature_name.in_(set(feature_names)))
            .order_by(DefinitionChange.id)
        )
        for name, changed_by in rows:
            found.setdefault(name, {})[changed_by] = None
        return {name: tuple(changers) for name, changers in found.items()}

    def inherit(self, feature: Feature, source: Feature, when: int) -> None:
        """Make ``source``'s creator and definition changers definition changers of
        ``feature``, a version that copies its definition unchanged (SPEC §7). Recorded when
        the copy is made, so a chain of copies carries them on, and a later change of the
        source's definition does not reach back into the copy."""
        for name in dict.fromkeys((source.created_by, *self.changers(source.id))):
            self.append(DefinitionChange(feature=feature, changed_by=name, changed_time=when))
