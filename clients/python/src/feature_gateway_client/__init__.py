"""Typed Python client for the Feature Metadata Gateway (SPEC §14).

from feature_gateway_client import Client

with Client("http://localhost:8000", token=os.environ["FMG_TOKEN"]) as client:
    feature = client.get_feature_metadata_by_path(feature_name="view:feature:1").metadata
    client.approve_feature_metadata(feature_name=feature.feature_name, if_match=feature)
"""

from feature_gateway_client import models
from feature_gateway_client._operations import OPERATIONS
from feature_gateway_client._transport import Operation, RetryPolicy
from feature_gateway_client._version import __version__
from feature_gateway_client.client import Client
from feature_gateway_client.errors import (
    AlreadyExists,
    ApiError,
    BadRequest,
    ConcurrentModification,
    Conflict,
    ConnectionFailed,
    FeatureGatewayError,
    FeatureImmutable,
    Forbidden,
    IdempotencyKeyReused,
    InvalidTransition,
    NotFound,
    Ownership,
    PayloadTooLarge,
    RequestInFlight,
    ResponseNotReplayable,
    SeparationOfDuties,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    ValidationError,
)
from feature_gateway_client.events import EventStream
from feature_gateway_client.webhooks import InvalidWebhook, verify_webhook

__all__ = [
    "OPERATIONS",
    "AlreadyExists",
    "ApiError",
    "BadRequest",
    "Client",
    "ConcurrentModification",
    "Conflict",
    "ConnectionFailed",
    "EventStream",
    "FeatureGatewayError",
    "FeatureImmutable",
    "Forbidden",
    "IdempotencyKeyReused",
    "InvalidTransition",
    "InvalidWebhook",
    "NotFound",
    "Operation",
    "Ownership",
    "PayloadTooLarge",
    "RequestInFlight",
    "ResponseNotReplayable",
    "RetryPolicy",
    "SeparationOfDuties",
    "ServerError",
    "ServiceUnavailable",
    "Unauthorized",
    "UnsupportedMediaType",
    "ValidationError",
    "__version__",
    "models",
    "verify_webhook",
]
