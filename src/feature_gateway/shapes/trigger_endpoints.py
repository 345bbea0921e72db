"""The endpoint of each trigger a caller fires: its path, documentation and answer.

What the endpoint accepts and does follows from the trigger (``domain.lifecycle``) and the
fields it stamps (``domain.feature_fields``); this table holds only what HTTP adds. The
console words its actions in the same summary and message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from feature_gateway.shapes import examples

_SUFFIX = "_feature_metadata"


@dataclass(frozen=True)
class TriggerEndpoint:
    trigger: str
    view_name: str  # the path (``/<view_name>``) and the operationId
    schema_name: str  # the request schema's name in the API document
    summary: str
    message: str
    example: dict[str, Any]

    @property
    def path(self) -> str:
        return f"/{self.view_name}"

    @property
    def short_name(self) -> str:
        return self.view_name.removesuffix(_SUFFIX)


# On the workflow blueprint; they answer previous_status and new_status too.
WORKFLOW_ENDPOINTS = (
    TriggerEndpoint(
        "submit",
        "ready_test" + _SUFFIX,
        "SubmitSchema",
        "Submit a DRAFT feature for testing.",
        "Feature submitted for testing",
        examples.READY_TEST,
    ),
    TriggerEndpoint(
        "test",
        "test" + _SUFFIX,
        "TestResultSchema",
        "Record the external testing system's result.",
        "Test result recorded",
        examples.TEST,
    ),
    TriggerEndpoint(
        "approve",
        "approve" + _SUFFIX,
        "ApproveSchema",
        "Approve a tested feature and deploy it (TEST_SUCCEEDED → DEPLOYED).",
        "Feature approved and deployed",
        examples.APPROVE,
    ),
    TriggerEndpoint(
        "reject",
        "reject" + _SUFFIX,
        "RejectSchema",
        "Reject a tested feature.",
        "Feature rejected",
        examples.REJECT,
    ),
    TriggerEndpoint(
        "fix",
        "fix" + _SUFFIX,
        "FixSchema",
        "Send a failed or rejected feature back to DRAFT.",
        "Feature returned to DRAFT",
        examples.FIX,
    ),
    TriggerEndpoint(
        "deprecate",
        "deprecate" + _SUFFIX,
        "DeprecateSchema",
        "Deprecate a deployed feature: still served, listed as deprecated, until retired.",
        "Feature deprecated",
        examples.DEPRECATE,
    ),
    TriggerEndpoint(
        "retire",
        "retire" + _SUFFIX,
        "RetireSchema",
        "Retire a deprecated feature: no longer served, its name never used again.",
        "Feature retired",
        examples.RETIRE,
    ),
)
# On the features blueprint, answered like update.
DELETE_ENDPOINT = TriggerEndpoint(
    "delete",
    "delete" + _SUFFIX,
    "DeleteFeatureSchema",
    "Soft-delete a feature (status DELETED); its name cannot be reused.",
    "Feature deleted successfully",
    examples.DELETE,
)
TRIGGER_ENDPOINTS = (*WORKFLOW_ENDPOINTS, DELETE_ENDPOINT)
