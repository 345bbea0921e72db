"""Online serving: simulated values of deployed features for a batch of entity rows."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from feature_gateway.db.lookup import Lookup
from feature_gateway.db.scopes import Database
from feature_gateway.domain.feature_refs import FeatureRef
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


@dataclass(frozen=True)
class RefsRequest:
    """A validated Feast request (SPEC §13): unique refs, as ``ValuesRequest``'s keys."""

    refs: Sequence[FeatureRef]
    entities: Mapping[str, Sequence[str | int]]


@dataclass(frozen=True)
class ServedRefs:
    """The values of a refs request, keyed by ref, and the version each served ref read."""

    features: OnlineFeatures
    versions: Mapping[str, FeatureSpec]  # ref → the served version it names


# Who reads (SPEC §13): given the stored names of the served features of a request.
ReadCounter = Callable[[Collection[str]], None]
# A served feature as the lookups give it: (stored name, kind, data type).
_Row = tuple[str, str, str]


def get_online_features(
    database: Database,
    request: ValuesRequest,
    *,
    limits: RequestLimits,
    count_reads: ReadCounter | None = None,
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
    deployed = {requested: FeatureSpec(*row) for requested, row in rows.items()}
    return _simulated(request.features, deployed, request.entities, event_timestamp, count_reads)


def get_online_features_by_refs(
    database: Database,
    request: RefsRequest,
    *,
    limits: RequestLimits,
    count_reads: ReadCounter | None = None,
    freshness: Freshness = WITHIN_LAG,
) -> ServedRefs:
    """``get_online_features`` for Feast's refs: the same values for the same feature, rows
    and time, at the time of the request (within the same limits, on the same servers)."""
    entities = request.entities
    limits.check(len(request.refs), len(next(iter(entities.values()))), len(entities))
    pinned = {ref.ref: ref.full_name for ref in request.refs if ref.full_name is not None}
    families = {ref.ref: ref.family for ref in request.refs if ref.full_name is None}

    def lookups(lookup: Lookup) -> tuple[dict[str, _Row], dict[str, _Row]]:
        # A statement for each kind of ref asked for; each ref is resolved by one of them.
        by_name = lookup.features.served_types(pinned.values()) if pinned else {}
        latest = lookup.features.latest_served_types(families.values()) if families else {}
        return by_name, latest

    by_name, latest = database.replicated_lookup(lookups, freshness)
    deployed = {
        ref: FeatureSpec(*by_name[name]) for ref, name in pinned.items() if name in by_name
    }
    deployed.update(
        (ref, FeatureSpec(*latest[family])) for ref, family in families.items() if family in latest
    )
    keys = [ref.ref for ref in request.refs]
    features = _simulated(keys, deployed, entities, now_ms(), count_reads)
    return ServedRefs(features, deployed)


def _simulated(
    keys: Sequence[str],
    deployed: Mapping[str, FeatureSpec],
    entities: Mapping[str, Sequence[str | int]],
    event_timestamp: int,
    count_reads: ReadCounter | None,
) -> OnlineFeatures:
    if count_reads is not None and deployed:
        count_reads({spec.name for spec in deployed.values()})
    columns = simulate_columns(keys, deployed, entities, event_timestamp)
    return OnlineFeatures([*entities, *keys], columns)


@dataclass(frozen=True)
class Available:
    names: list[str]  # every served feature, in name order
    deprecated: list[str]  # those of them that are deprecated


def available_features(database: Database, freshness: Freshness = WITHIN_LAG) -> Available:
    """Names of the features being served, in name order, and which are deprecated."""
    served = database.replicated_read(lambda uow: uow.features.served_names(), freshness)
    deprecated = [name for name, status in served if status == Status.DEPRECATED]
    return Available([name for name, _ in served], deprecated)
