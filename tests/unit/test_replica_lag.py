"""How a measurement of the replica's lag decides where reads go (db.replicas)."""

import math

import pytest

from feature_gateway.db.replicas import Measurement, ReplicaState
from feature_gateway.domain.freshness import LATEST, WITHIN_LAG, Freshness

BOUND_S = 5.0


@pytest.mark.parametrize(
    ("lag_s", "age_s", "state"),
    [
        (0.0, 0.0, ReplicaState.OK),
        (4.0, 1.0, ReplicaState.OK),  # exactly at the bound
        (4.0, 1.5, ReplicaState.LAGGING),  # the measurement aged past it
        (6.0, 0.0, ReplicaState.LAGGING),
        (math.inf, 0.0, ReplicaState.LAGGING),  # answered, but never replayed a commit
        (None, 0.0, ReplicaState.DOWN),
    ],
)
def test_a_replica_serves_reads_while_its_lag_plus_the_measurement_s_age_is_within_the_bound(
    lag_s, age_s, state
):
    assert Measurement(lag_s, at=100.0).state(100.0 + age_s, BOUND_S) is state


def test_only_a_revision_of_a_named_feature_can_be_checked_on_the_replica():
    assert not WITHIN_LAG.primary_only
    assert LATEST.primary_only and LATEST.of("v:f:1").primary_only
    assert Freshness(revision=3).primary_only  # a list, the feed, values: which feature?
    assert not Freshness(revision=3).of("v:f:1").primary_only
