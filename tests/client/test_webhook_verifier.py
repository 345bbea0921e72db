"""``verify_webhook`` decides as the ``standardwebhooks`` package does: on deliveries signed
as the service signs them, on every kind of tampering, on timestamps around the tolerance,
and on random inputs (Hypothesis)."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook, WebhookVerificationError

from feature_gateway.domain.webhooks import new_secret, signature
from feature_gateway_client import InvalidWebhook, verify_webhook

BODY = json.dumps({"id": "evt_7", "type": "feature.approve", "feature_name": "v:f:1"}).encode()


def _theirs(secret: str, headers: dict[str, str], body: bytes) -> object:
    try:
        return Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return "refused"


def _ours(secret: str, headers: dict[str, str], body: bytes) -> object:
    try:
        return verify_webhook(secret, headers, body)
    except InvalidWebhook:
        return "refused"


def _signed(secret: str, body: bytes = BODY, at: float | None = None) -> dict[str, str]:
    moment = datetime.fromtimestamp(time.time() if at is None else at, tz=UTC)
    signature = Webhook(secret).sign("evt_7", moment, body)
    return {"webhook-id": "evt_7", "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": signature}  # fmt: skip


def test_a_delivery_signed_by_the_service_is_accepted_by_both() -> None:
    secret = new_secret()
    now = int(time.time())
    headers = {"webhook-id": "evt_7", "webhook-timestamp": str(now),
               "webhook-signature": signature(secret, "evt_7", now, BODY)}  # fmt: skip
    assert _ours(secret, headers, BODY) == _theirs(secret, headers, BODY) == json.loads(BODY)


TAMPERINGS = {
    "body": lambda h, b: (h, b.replace(b"approve", b"reject!")),
    "id": lambda h, b: ({**h, "webhook-id": "evt_8"}, b),
    "timestamp": lambda h, b: (
        {**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)},
        b,
    ),
    "signature": lambda h, b: (
        {**h, "webhook-signature": h["webhook-signature"][:-4] + "AAA="},
        b,
    ),
    "version": lambda h, b: ({**h, "webhook-signature": "v2" + h["webhook-signature"][2:]}, b),
    "missing header": lambda h, b: ({k: v for k, v in h.items() if k != "webhook-id"}, b),
    "other secret": lambda h, b: (_signed(new_secret()), b),
    "not a number": lambda h, b: ({**h, "webhook-timestamp": "soon"}, b),
}


@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_any_tampering_is_refused_by_both(tampering: str) -> None:
    secret = new_secret()
    headers, body = TAMPERINGS[tampering](_signed(secret), BODY)
    assert _ours(secret, headers, body) == _theirs(secret, headers, body) == "refused"


@pytest.mark.parametrize("offset_s", [-3600, -301, -299, 0, 299, 301, 3600])
def test_the_timestamp_tolerance_is_the_same(offset_s: int) -> None:
    secret = new_secret()
    headers = _signed(secret, at=time.time() + offset_s)
    ours, theirs = _ours(secret, headers, BODY), _theirs(secret, headers, BODY)
    assert ours == theirs
    assert (ours == "refused") == (abs(offset_s) > 300)


def test_one_matching_signature_among_several_is_enough_and_headers_are_case_blind() -> None:
    secret = new_secret()
    headers = _signed(secret)
    headers["webhook-signature"] = "v1,bm9wZQ== " + headers["webhook-signature"]
    shouted = {name.upper(): value for name, value in headers.items()}
    assert _ours(secret, shouted, BODY) == _theirs(secret, shouted, BODY) == json.loads(BODY)


@settings(max_examples=200, deadline=None)
@given(
    key=st.binary(min_size=1, max_size=40),
    body=st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    message_id=st.text(min_size=1, max_size=10).filter(lambda s: " " not in s),
    skew=st.floats(min_value=-900, max_value=900),
    flip=st.sampled_from(["none", "body", "key", "signature", "timestamp"]),
)
def test_random_deliveries_get_the_same_decision(key, body, message_id, skew, flip) -> None:
    secret = "whsec_" + base64.b64encode(key).decode()
    raw = json.dumps(body).encode()
    moment = datetime.fromtimestamp(time.time() + skew, tz=UTC)
    headers = {"webhook-id": message_id, "webhook-timestamp": f"{moment.timestamp():.3f}",
               "webhook-signature": Webhook(secret).sign(message_id, moment, raw)}  # fmt: skip
    if flip == "body":
        raw += b" "
    elif flip == "key":
        secret = "whsec_" + base64.b64encode(key + b"x").decode()
    elif flip == "signature":
        headers["webhook-signature"] = headers["webhook-signature"].lower()
    elif flip == "timestamp":
        headers["webhook-timestamp"] = str(int(moment.timestamp()) - 1)
    assert _ours(secret, headers, raw) == _theirs(secret, headers, raw)
