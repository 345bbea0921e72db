"""Verifying a webhook delivery's signature (Standard Webhooks), for receivers.

The service signs ``"<webhook-id>.<webhook-timestamp>.<body>"`` with HMAC-SHA256, the key
being the base64 part of the secret after ``whsec_``, and sends ``v1,<base64 signature>``
in ``webhook-signature`` (several, space-separated, are allowed). A delivery is accepted
only with all three headers, a timestamp within ``tolerance_s`` of now (a replayed old
delivery is refused) and a matching signature, compared in constant time: the same
decisions as the ``standardwebhooks`` package.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from feature_gateway_client.errors import FeatureGatewayError

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_S = 300


class InvalidWebhook(FeatureGatewayError):
    """The delivery is not signed with this secret, or is too old or too new."""


def verify_webhook(
    secret: str | bytes,
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> Any:
    """The delivery's event (parsed JSON) if ``body`` was signed with ``secret`` at a time
    within ``tolerance_s`` seconds of ``now``; else InvalidWebhook. Pass the body exactly as
    received (bytes), before any parsing."""
    key = _key(secret)
    payload = body.encode() if isinstance(body, str) else bytes(body)
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id")
    signatures = lowered.get("webhook-signature")
    sent_time = lowered.get("webhook-timestamp")
    if not (message_id and sent_time and signatures):
        raise InvalidWebhook("Missing required headers")
    seconds = _timestamp(sent_time, time.time() if now is None else now, tolerance_s)
    signed = f"{message_id}.{seconds}.".encode() + payload
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    expected = f"v1,{digest}".encode()
    if not any(hmac.compare_digest(expected, sent.encode()) for sent in signatures.split(" ")):
        raise InvalidWebhook("No matching signature found")
    return json.loads(payload)


def _key(secret: str | bytes) -> bytes:
    if isinstance(secret, str):
        # Padding added in case it was left off (extra padding is ignored).
        secret = base64.b64decode(secret.removeprefix(SECRET_PREFIX) + "==")
    if not secret:
        raise ValueError("the webhook secret is empty")
    return secret


def _timestamp(sent: str, now: float, tolerance_s: float) -> int:
    """The whole seconds signed (a fractional timestamp counts as its floor)."""
    try:
        value = float(sent)
        moment = datetime.fromtimestamp(value, tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidWebhook("Invalid Signature Headers") from None
    current = datetime.fromtimestamp(now, tz=UTC)
    if (current - moment).total_seconds() > tolerance_s:
        raise InvalidWebhook("Message timestamp too old")
    if (moment - current).total_seconds() > tolerance_s:
        raise InvalidWebhook("Message timestamp too new")
    return math.floor(moment.timestamp())
