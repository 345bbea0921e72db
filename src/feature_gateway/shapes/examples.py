"""Example payloads for the API document, after the product description (seed README).

Each request example is the seed's payload with its feature name chosen so that "Try it out"
in /docs succeeds on the sample data `make run` imports, example after example in the order
/docs lists them: create and the workflow use a version the sample data does not hold;
reject, fix and delete act on sample features in the status they need. Tests check that
every example is valid against its schema (tests/contract) and succeeds so (tests/docs).
"""

from __future__ import annotations

from typing import Any

from feature_gateway.domain.feature_fields import FIELD_NAMES
from feature_gateway.domain.lifecycle import CREATED_STATUS

FEATURE_NAME = "driver_hourly_stats:conv_rate:2"
_SEED_TIME = 1751429485000

CREATE: dict[str, Any] = {
    "feature_name": FEATURE_NAME,
    "feature_type": "batch",
    "feature_data_type": "float",
    "query": "SELECT conv_rate FROM driver_hourly_stats WHERE driver_id = ?",
    "description": "Conversion rate for driver",
    "created_by": "dev",
    "user_role": "developer",
}
GET = {"feature_name": FEATURE_NAME, "user_role": "developer"}
LIST = {"user_role": "developer", "status": "DEPLOYED"}
FEATURES = {
    "features": ["driver_hourly_stats:conv_rate:1", "driver_hourly_stats:acc_rate:2"],
    "entities": {"driver_id": ["D001", "D002"]},
    "event_timestamp": _SEED_TIME,
}
UPDATE = {
    "feature_name": FEATURE_NAME,
    "last_updated_by": "dev",
    "user_role": "developer",
    "description": "Updated description",
}
DELETE = {
    "feature_name": "trip_stats:surge_multiplier:v1",
    "deleted_by": "dev",
    "user_role": "developer",
    "deletion_reason": "No longer needed",
}
READY_TEST = {"feature_name": FEATURE_NAME, "submitted_by": "dev", "user_role": "developer"}
TEST = {
    "feature_name": FEATURE_NAME,
    "test_result": "TEST_SUCCEEDED",
    "tested_by": "qa",
    "user_role": "external_testing_system",
}
APPROVE = {"feature_name": FEATURE_NAME, "approved_by": "approver", "user_role": "approver"}
REJECT = {
    "feature_name": "driver_hourly_stats:avg_daily_trips:1",
    "rejected_by": "approver",
    "user_role": "approver",
    "rejection_reason": "Test failed",
}
FIX = {
    "feature_name": "customer_profile:churn_score:1",
    "fixed_by": "dev",
    "user_role": "developer",
    "fix_description": "Fixed SQL bug",
}

# The seed's example response, with every field of the row as the service returns it.
_CREATED_FIELDS: dict[str, Any] = {
    **{k: v for k, v in CREATE.items() if k != "user_role"},
    "status": CREATED_STATUS.value,
    "revision": 1,
    "created_time": _SEED_TIME,
    "updated_time": _SEED_TIME,
    "last_updated_by": CREATE["created_by"],
    "owner": CREATE["created_by"],
    "tags": {},
}
CREATED: dict[str, Any] = {
    "message": "Feature created successfully",
    "metadata": {
        **_CREATED_FIELDS,
        **{name: None for name in FIELD_NAMES if name not in _CREATED_FIELDS},
    },
}

CREATE_VERSION = {
    "feature_name": FEATURE_NAME,
    "query": "SELECT conv_rate FROM driver_hourly_stats WHERE driver_id = ? AND active",
    "description": "Conversion rate for driver, active drivers only",
    "tags": {"team": "pricing"},
    "created_by": "dev",
    "user_role": "developer",
}
DEPRECATE = {
    "feature_name": FEATURE_NAME,
    "deprecated_by": "approver",
    "user_role": "approver",
    "deprecation_reason": "Superseded by the active-drivers version",
}
RETIRE = {
    "feature_name": FEATURE_NAME,
    "retired_by": "approver",
    "user_role": "approver",
    "retirement_reason": "No model reads it any more",
}
COMMENT = {
    "body": "The 7-day window hides weekend effects; can we test a 28-day one?",
    "author": "dev",
    "user_role": "developer",
}
COMMENTED = {
    "comment": {
        "comment_id": 1,
        "feature_name": "driver_hourly_stats:conv_rate:1",
        "body": COMMENT["body"],
        "author": COMMENT["author"],
        "author_role": COMMENT["user_role"],
        "authenticated": False,
        "credential": None,
        "created_time": _SEED_TIME,
    }
}
