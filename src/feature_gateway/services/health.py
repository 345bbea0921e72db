"""Whether the service can do its work: the database answers; and the read replica's state."""

from __future__ import annotations

import math
from dataclasses import dataclass

from feature_gateway.db.scopes import Database
from feature_gateway.errors import DatabaseUnavailableError


def database_is_reachable(database: Database) -> bool:
    try:
        database.ping()
    except DatabaseUnavailableError:
        return False
    return True


@dataclass(frozen=True)
class ReplicaHealth:
    state: str  # ok, lagging (reads go to the primary), down (likewise)
    lag_s: float | None  # as last measured; None while down or unknown


def replica_health(database: Database) -> ReplicaHealth | None:
    """The read replica's state, measured again when due; None without a replica."""
    if database.replica is None:
        return None
    state, lag_s = database.replica.state()
    if lag_s is None or not math.isfinite(lag_s):
        return ReplicaHealth(state.value, None)
    return ReplicaHealth(state.value, round(lag_s, 3))
