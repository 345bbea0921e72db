"""Online serving: simulated values of deployed features for a batch of entity rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from feature_gateway.db.scopes import Database
from feature_gateway.domain.freshness import WITHIN_LAG, Freshness
from feature_gateway.domain.lifecycle import Status
from feature_gateway.domain.value_requests import RequestLimits
from feature_gateway.domain.values import FeatureSpec, OnlineFeatures, simulate_columns
from feature_gateway.services.clock import now_ms


@dataclass(frozen=True)
class ValuesRequest:
    """A validated request: unique well-formed names, equal-length non-empty key columns."""

    features: Sequence[str]
    entities: Mapping[str, Sequence[str | int]]
    event_timestamp: int | None = None

    @property
    def n_rows(self) -> int:
        return len(next(iter(self.entities.values())))


def get_online_features(
    database: Database,
    request: ValuesRequest,
    *,
    limits: RequestLimits,
    freshness: Freshness = WITHIN_LAG,
) -> OnlineFeatures:
    """Values for every (feature, row); unknown or undeployed features come back NOT_FOUND.

    The columns are computed as the caller iterates them (after the transaction has
    ended): a response can be written block by block instead of being held whole.
    """
    limits.check(len(request.features), request.n_rows, len(request.entities))
    event_timestamp = now_ms() if request.event_timestamp is None else request.event_timestamp
    rows = database.replicated_lookup(  # one statement, no transaction around it
        lambda lookup: lookup.features.served_types(request.features), freshness
    )
    # Values are keyed by the stored name: both spellings of a version get the same values.
    deployed = {
        requested: FeatureSpec(stored, kind, data_type)
        for requested, (stored, kind, data_type) in rows.items()
    }
    columns = simulate_columns(request.features, deployed, request.entities, event_timestamp)
    return OnlineFeatures([*request.entities, *request.features], columns)


@dataclass(frozen=True)
class Available:
    names: list[str]  # every served feature, in name order
    deprecated: list[str]  # those of them that are deprecated


def available_features(database: Database, freshness: Freshness = WITHIN_LAG) -> Available:
    """Names of the features being served, in name order, and which are deprecated."""
    served = database.replicated_read(lambda uow: uow.features.served_names(), freshness)
    deprecated = [name for name, status in served if status == Status.DEPRECATED]
    return Available([name for name, _ in served], deprecated)
