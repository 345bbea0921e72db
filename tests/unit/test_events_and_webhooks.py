"""The pure rules of events and webhooks: cursors, event types, target checks, secrets,
signatures and the retry schedule (SPEC §9)."""

import base64
import hashlib
import hmac
import ipaddress
import random

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from feature_gateway.domain.events import (
    EVENT_TYPES,
    InvalidCursorError,
    decode_cursor,
    encode_cursor,
    matches,
)
from feature_gateway.domain.webhook_targets import (
    TargetRefusedError,
    check_addresses,
    embedded_ipv4,
    parse_target,
)
from feature_gateway.domain.webhooks import (
    SECRET_PREFIX,
    new_secret,
    normalised_event_types,
    retry_delay_s,
    signature,
)


@pytest.mark.parametrize("position", [0, 1, 7, 10**12, 2**63 - 1])
def test_a_cursor_decodes_to_the_position_it_was_made_from(position):
    cursor = encode_cursor(position)
    assert decode_cursor(cursor) == position
    assert len(cursor) == 16


@pytest.mark.parametrize(
    "cursor", ["", "!!", "8000000000000000", encode_cursor(1) + "0", "ABCDEF0123456789", "1"]
)
def test_anything_else_is_not_a_cursor(cursor):
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor)


def test_event_types_are_feature_dot_each_change_action():
    assert EVENT_TYPES[:3] == ("feature.create", "feature.import", "feature.create_version")
    assert "feature.approve" in EVENT_TYPES and len(EVENT_TYPES) == 13
    assert "feature.comment" in EVENT_TYPES
    assert matches(["*"], "feature.submit") and matches(["feature.submit"], "feature.submit")
    assert not matches(["feature.approve"], "feature.submit")


def test_event_types_are_deduplicated_ordered_and_star_means_all():
    assert normalised_event_types(["feature.test", "feature.create", "feature.test"]) == [
        "feature.create", "feature.test",
    ]  # fmt: skip
    assert normalised_event_types(["*", "*"]) == ["*"]
    assert normalised_event_types(["feature.test", "*"]) == ["*"]
    for bad in ([], ["feature.deploy"], ["*", "feature.deploy"]):
        with pytest.raises(ValueError):
            normalised_event_types(bad)


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example.com/in", "http://hooks.example.com:8080/a?b=c", "HTTPS://EXAMPLE.COM",
     "http://10.0.0.5/in", "http://[2001:db8::1]/"],
)  # fmt: skip
def test_public_and_private_network_targets_are_allowed(url):
    assert parse_target(url, allow_loopback=False)


def test_a_target_is_the_url_as_the_delivery_client_reads_it():
    target = parse_target("HTTPS://Bücher.Example:8443/in?x=1", allow_loopback=False)
    assert str(target.url) == "https://xn--bcher-kva.example:8443/in?x=1"
    assert (target.host, target.port, target.address) == ("xn--bcher-kva.example", 8443, None)
    literal = parse_target("http://[2001:db8::1]/", allow_loopback=False)
    assert (literal.host, literal.port, str(literal.address)) == ("2001:db8::1", 80, "2001:db8::1")


@pytest.mark.parametrize(
    ("address", "loopback_allowed"),
    [("169.254.169.254", False), ("169.254.0.1", True), ("fe80::1", True),
     ("::ffff:169.254.169.254", True), ("127.0.0.1", False), ("127.8.9.10", False),
     ("::1", False), ("0.0.0.0", False), ("::ffff:127.0.0.1", False), ("0.0.0.0", True),
     ("0.255.1.2", True), ("::", True), ("100.64.0.0", True), ("100.127.255.255", True),
     ("100.100.100.200", True), ("fd00:ec2::254", True), ("224.0.0.251", True),
     ("ff05::2", True), ("255.255.255.255", True), ("240.1.2.3", True), ("100::1", True),
     ("64:ff9b::a9fe:a9fe", True), ("64:ff9b::7f00:1", False), ("2002:a9fe:a9fe::", True),
     ("2002:6464:64c8:1::5", True), ("::a9fe:a9fe", True), ("::7f00:1", False),
     ("::ffff:100.100.100.200", True), ("fe80::1%eth0", True), ("2001:db8::1%eth0", True)],
)  # fmt: skip
def test_refused_addresses(address, loopback_allowed):
    with pytest.raises(TargetRefusedError):
        check_addresses([ipaddress.ip_address(address)], allow_loopback=loopback_allowed)


def test_one_refused_address_among_good_ones_refuses_the_name():
    good, bad = ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("169.254.169.254")
    check_addresses([good], allow_loopback=False)
    with pytest.raises(TargetRefusedError):
        check_addresses([good, bad], allow_loopback=True)


def test_loopback_is_allowed_only_when_configured():
    check_addresses([ipaddress.ip_address("127.0.0.1")], allow_loopback=True)
    assert parse_target("http://localhost:8000/x", allow_loopback=True).host == "localhost"
    with pytest.raises(TargetRefusedError, match="WEBHOOK_ALLOW_LOOPBACK"):
        parse_target("http://localhost:8000/x", allow_loopback=False)


@pytest.mark.parametrize(
    ("address", "carried"),
    [("::ffff:1.2.3.4", "1.2.3.4"), ("::1.2.3.4", "1.2.3.4"), ("64:ff9b::1.2.3.4", "1.2.3.4"),
     ("2002:102:304:5::6", "1.2.3.4"), ("::", None), ("::1", None), ("2001:db8::1", None),
     ("64:ff9b:1::1.2.3.4", None)],
)  # fmt: skip
def test_the_ipv4_address_an_ipv6_address_embeds(address, carried):
    found = embedded_ipv4(ipaddress.IPv6Address(address))
    assert (None if found is None else str(found)) == carried


def test_an_embedded_ipv4_address_is_judged_as_that_address_and_named():
    for allowed in ("64:ff9b::a00:1", "2002:a00:1::", "::ffff:10.0.0.1", "::10.0.0.1"):
        check_addresses([ipaddress.ip_address(allowed)], allow_loopback=False)
    with pytest.raises(
        TargetRefusedError, match=r"embedding 169\.254\.169\.254\) is a link-local"
    ):
        check_addresses([ipaddress.ip_address("2002:a9fe:a9fe::")], allow_loopback=True)


def test_a_secret_is_whsec_and_base64_of_32_random_bytes():
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith(SECRET_PREFIX)
        assert len(base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)) == 32


def test_the_signature_is_hmac_sha256_of_id_timestamp_and_body_as_standard_webhooks_says():
    secret, body = new_secret(), b'{"type":"feature.approve"}'
    header = signature(secret, "evt_42", 1_700_000_000, body)
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    expected = hmac.new(key, b"evt_42.1700000000." + body, hashlib.sha256).digest()
    assert header == "v1," + base64.b64encode(expected).decode()
    assert header == StandardWebhook(secret).sign("evt_42", _at(1_700_000_000), body.decode())


def _at(seconds):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, tz=UTC)


def test_retry_delays_double_from_the_base_with_bounded_jitter():
    rng = random.Random(7)
    for attempts, nominal in [(1, 10), (2, 20), (3, 40), (8, 1280)]:
        delays = [retry_delay_s(attempts, 10, rng) for _ in range(200)]
        assert nominal * 0.8 <= min(delays) and max(delays) <= nominal * 1.2
        assert max(delays) - min(delays) > nominal * 0.2  # jittered, not constant
