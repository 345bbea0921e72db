"""Webhooks (SPEC §9): secrets, the Standard Webhooks signature, and when to retry.

The signature is Standard Webhooks' ``v1``: base64 of HMAC-SHA256 over
``"<webhook-id>.<webhook-timestamp>.<body>"`` keyed with the bytes the secret encodes
(the base64 after ``whsec_``). The receiver recomputes it with the secret it was shown at
creation, so the service must keep the key itself (unlike an API token, of which only a
hash is stored).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import secrets
from collections.abc import Sequence
from enum import StrEnum

from feature_gateway.domain.events import ALL_EVENT_TYPES, EVENT_TYPES

# The public prefix of every secret (Standard Webhooks'); bandit takes it for a password.
SECRET_PREFIX = "whsec_"  # nosec B105
_SECRET_BYTES = 32  # SPEC: at least 24
WEBHOOK_ID_PREFIX = "wh_"
WEBHOOK_ID_PATTERN = f"^{WEBHOOK_ID_PREFIX}[0-9a-f]{{16}}$"
SIGNATURE_VERSION = "v1"
# The jitter: each delay is drawn from [1 - JITTER, 1 + JITTER] times the nominal one, so
# that many deliveries failing together (a receiver outage) do not retry in lockstep.
JITTER = 0.2
# Receivers answer this to say the endpoint is gone for good: the webhook is deactivated.
GONE = 410


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def new_webhook_id() -> str:
    return f"{WEBHOOK_ID_PREFIX}{secrets.token_hex(8)}"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def signing_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one attempt."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def normalised_event_types(event_types: Sequence[str]) -> list[str]:
    """Known event types, each once, in declaration order; or ``["*"]`` alone when ``*``
    is among them (it means every type, the others included).

    ValueError (with the message for the client) for no types or unknown ones.
    """
    wanted = list(dict.fromkeys(event_types))
    if not wanted:
        raise ValueError('Give one or more event types, or ["*"] for all.')
    unknown = [name for name in wanted if name not in (*EVENT_TYPES, ALL_EVENT_TYPES)]
    if unknown:
        raise ValueError(
            f"Unknown event types: {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}."
        )
    if ALL_EVENT_TYPES in wanted:
        return [ALL_EVENT_TYPES]
    return [name for name in EVENT_TYPES if name in wanted]


def retry_delay_s(attempts: int, base_s: float, rng: random.Random | None = None) -> float:
    """How long after its ``attempts``-th failed attempt a delivery is tried again:
    ``base * 2**(attempts - 1)``, with jitter."""
    nominal: float = base_s * 2 ** max(attempts - 1, 0)
    # Jitter, guessable without harm; bandit takes any use of random for cryptography.
    factor: float = (rng or random).uniform(1 - JITTER, 1 + JITTER)  # nosec B311
    return nominal * factor
