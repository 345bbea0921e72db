"""What a read must see, which decides where it may be served (SPEC §15).

A read that needs no write's transaction may be served by a streaming replica, at most
``READ_MAX_LAG_S`` behind the primary. A client that must see a given revision of the
feature it reads (its own write: ``X-Read-After: <revision>``, or ``If-None-Match`` with the
ETag it holds) is served where that revision is visible: by the replica when its row of
that feature is at that revision or later, else by the primary. A revision belongs to one
feature, so a read of anything else that asks for one (a list, the event feed, values) is
served by the primary.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Freshness:
    """How fresh a read must be. The default: anything within the lag bound."""

    # At least this revision of ``feature_name`` (X-Read-After, If-None-Match).
    revision: int | None = None
    # The primary's state, whatever the replica's lag: a page a person acts on next.
    latest: bool = False
    # The feature the read is of, when it is of one: what ``revision`` is a revision of.
    feature_name: str | None = None

    def of(self, feature_name: str) -> Freshness:
        """This freshness, for a read of the feature named so (the name matters only to a
        revision: without one, the same freshness, made at no cost on the hot path)."""
        if self.revision is None:
            return self
        return replace(self, feature_name=feature_name)

    @property
    def primary_only(self) -> bool:
        """Only the primary can be sure to serve it: the latest state, or a revision of no
        feature in particular."""
        return self.latest or (self.revision is not None and self.feature_name is None)


WITHIN_LAG = Freshness()
LATEST = Freshness(latest=True)
