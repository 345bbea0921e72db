"""The API accepts JWTs from the company's OpenID Connect provider beside API tokens
(SPEC §12): every invalid one is 401 like a bad API token, keys rotate without a restart,
an unreachable provider is 503 only for a key not cached, and groups map to roles."""

import base64
import hashlib
import hmac
import json

import pytest
from joserfc.jwk import RSAKey

from feature_gateway.services.identity_provider import KEY_REFETCH_INTERVAL_S
from tests.conftest import SEED_FEATURE, bearer
from tests.oidc_issuer import unsigned

DEVELOPER = ["ml-developers"]
CREATE = {k: v for k, v in SEED_FEATURE.items() if k not in ("user_role", "created_by")}


def _list(client, token):
    return client.get("/get_all_feature_metadata", headers=bearer(token))


def _assert_invalid_token(response):
    assert response.status_code == 401, response.get_json()
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="feature-gateway", error="invalid_token"'
    )
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 401 and body["title"] == "Unauthorized"
    return body


def test_a_valid_jwt_is_accepted_as_the_principal_its_claim_names(oidc_client, oidc_issuer):
    token = oidc_issuer.token(preferred_username="alice", groups=DEVELOPER)
    response = oidc_client.post("/create_feature_metadata", json=CREATE, headers=bearer(token))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["metadata"]["created_by"] == "alice"


@pytest.mark.parametrize("key_type", ["EC"])
def test_an_ec_signed_jwt_is_accepted(oidc_client, oidc_issuer, key_type):
    ec_key = oidc_issuer.__class__(key_type=key_type).key  # a P-256 key with its own kid
    oidc_issuer.keys.append(ec_key)
    token = oidc_issuer.token(key=ec_key, groups=DEVELOPER)
    assert _list(oidc_client, token).status_code == 200


def _forged_hs256(issuer):
    """HS256 'signed' with the provider's public key as the secret: the classic confusion
    (made by hand, as an attacker would: joserfc refuses to use a public key as a secret)."""

    def part(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = part(json.dumps({"alg": "HS256", "kid": issuer.kid}).encode())
    payload = part(json.dumps(issuer.claims(groups=DEVELOPER)).encode())
    secret = issuer.key.as_pem(private=False)
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{part(signature)}"


INVALID = {
    "expired": lambda i: i.token(exp=i.now() - 61, iat=i.now() - 400, nbf=i.now() - 400),
    "not-yet-valid": lambda i: i.token(nbf=i.now() + 120),
    "issued-in-the-future": lambda i: i.token(iat=i.now() + 120),
    "no-exp": lambda i: i.token(exp=None),
    "wrong-issuer": lambda i: i.token(iss="https://evil.example"),
    "no-issuer": lambda i: i.token(iss=None),
    "wrong-audience": lambda i: i.token(aud="another-client"),
    "no-audience": lambda i: i.token(aud=None),
    "alg-none": lambda i: unsigned(i.claims(groups=DEVELOPER)),
    "hs256-with-the-public-key": _forged_hs256,
    "unknown-kid": lambda i: i.token(key=RSAKey.generate_key(2048, auto_kid=True)),
    "signed-by-another-key-with-the-same-kid": lambda i: i.token(
        key=RSAKey.generate_key(2048, parameters={"kid": i.kid})
    ),
    "tampered-payload": lambda i: _tampered(i),
    "missing-principal-claim": lambda i: i.token(preferred_username=None),
    "principal-not-a-string": lambda i: i.token(preferred_username=["alice"]),
    "invalid-principal-name": lambda i: i.token(preferred_username=" alice"),
    "invisible-character-in-name": lambda i: i.token(preferred_username="al\u200bice"),
    "not-a-jwt": lambda i: "not.a-jwt",
    "garbage": lambda i: "eyJhbGciOiJSUzI1NiJ9.!!!.###",
}


def _tampered(issuer):
    """alice's signed token with mallory's claims put in."""
    header, _, signature = issuer.token(groups=DEVELOPER).split(".")
    payload = issuer.token(preferred_username="mallory", groups=["platform-admins"]).split(".")[1]
    return f"{header}.{payload}.{signature}"


@pytest.mark.parametrize("variant", INVALID, ids=list(INVALID))
def test_every_invalid_jwt_is_401_invalid_token(oidc_client, oidc_issuer, variant):
    token = INVALID[variant](oidc_issuer)
    body = _assert_invalid_token(_list(oidc_client, token))
    assert token not in body["detail"]


def test_a_jwt_within_the_60_second_leeway_is_accepted(oidc_client, oidc_issuer):
    now = oidc_issuer.now()
    token = oidc_issuer.token(exp=now - 30, nbf=now + 30, iat=now + 30, groups=DEVELOPER)
    assert _list(oidc_client, token).status_code == 200


def test_an_audience_list_containing_ours_is_accepted(oidc_client, oidc_issuer):
    token = oidc_issuer.token(aud=["account", oidc_issuer.audience], groups=DEVELOPER)
    assert _list(oidc_client, token).status_code == 200


def test_without_a_bearer_the_challenge_names_both_credentials(oidc_client):
    response = oidc_client.get("/get_all_feature_metadata")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="feature-gateway"'
    assert "JWT" in response.get_json()["detail"]


def test_api_tokens_keep_working_beside_jwts(oidc_client, oidc_issuer, issue_token):
    token = issue_token("developer", principal="bot")
    assert _list(oidc_client, token).status_code == 200
    assert _list(oidc_client, oidc_issuer.token(groups=DEVELOPER)).status_code == 200
    bad = _assert_invalid_token(_list(oidc_client, "fmg_0123456789abcdef_" + "x" * 43))
    assert bad["detail"] == "The bearer token is not valid."


# -- keys: caching, rotation, the provider down ---------------------------------------------


def test_keys_are_fetched_once_and_cached(oidc_client, oidc_issuer):
    for _ in range(3):
        assert _list(oidc_client, oidc_issuer.token(groups=DEVELOPER)).status_code == 200
    assert (oidc_issuer.discovery_fetches, oidc_issuer.jwks_fetches) == (1, 1)


def test_a_rotated_key_is_picked_up_without_a_restart(oidc_client, oidc_issuer, oidc_clock):
    assert _list(oidc_client, oidc_issuer.token(groups=DEVELOPER)).status_code == 200
    oidc_clock.advance(KEY_REFETCH_INTERVAL_S)
    oidc_issuer.rotate()
    assert _list(oidc_client, oidc_issuer.token(groups=DEVELOPER)).status_code == 200
    assert oidc_issuer.jwks_fetches == 2


def test_unknown_kids_refetch_the_keys_at_most_once_every_30_seconds(
    oidc_client, oidc_issuer, oidc_clock
):
    assert _list(oidc_client, oidc_issuer.token(groups=DEVELOPER)).status_code == 200
    stranger = RSAKey.generate_key(2048, auto_kid=True)
    oidc_clock.advance(KEY_REFETCH_INTERVAL_S)
    for _ in range(5):  # the first refetches; the rest are refused from the cache
        _assert_invalid_token(_list(oidc_client, oidc_issuer.token(key=stranger)))
    assert oidc_issuer.jwks_fetches == 2
    # The provider rotates within those 30 s: its new key is fetched only once they pass.
    oidc_issuer.rotate(keep_old=True)
    oidc_clock.advance(KEY_REFETCH_INTERVAL_S - 1)
    _assert_invalid_token(_list(oidc_client, oidc_issuer.token(groups=DEVELOPER)))
    assert oidc_issuer.jwks_fetches == 2
    oidc_clock.advance(1)
    assert _list(oidc_client, oidc_issuer.token(groups=DEVELOPER)).status_code == 200
    assert oidc_issuer.jwks_fetches == 3


def test_with_the_provider_down_cached_keys_keep_working_and_api_tokens_too(
    oidc_client, oidc_issuer, oidc_clock, issue_token
):
    assert _list(oidc_client, oidc_issuer.token(groups=DEVELOPER)).status_code == 200
    oidc_issuer.stop()
    oidc_clock.advance(KEY_REFETCH_INTERVAL_S)
    assert _list(oidc_client, oidc_issuer.token(groups=DEVELOPER)).status_code == 200
    assert _list(oidc_client, issue_token("developer", principal="bot")).status_code == 200


def test_with_the_provider_down_an_uncached_key_is_503_with_retry_after(
    oidc_client, oidc_issuer, oidc_clock, issue_token
):
    token = oidc_issuer.token(groups=DEVELOPER)
    oidc_issuer.stop()
    response = _list(oidc_client, token)
    assert response.status_code == 503, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert int(response.headers["Retry-After"]) >= 1
    assert oidc_issuer.url in response.get_json()["detail"]
    # Within 30 s the provider is not tried again: 503 at once, with the time left.
    oidc_clock.advance(10)
    again = _list(oidc_client, token)
    assert again.status_code == 503 and int(again.headers["Retry-After"]) == 20
    # API tokens do not need the provider.
    assert _list(oidc_client, issue_token("developer", principal="bot")).status_code == 200
    # Back up, and 30 s later, the key is fetched and the same token works.
    oidc_issuer.start()
    oidc_clock.advance(20)
    assert _list(oidc_client, token).status_code == 200


def test_a_rotated_key_while_the_provider_is_down_is_503_not_401(
    oidc_client, oidc_issuer, oidc_clock
):
    assert _list(oidc_client, oidc_issuer.token(groups=DEVELOPER)).status_code == 200
    oidc_issuer.rotate()
    oidc_issuer.stop()
    oidc_clock.advance(KEY_REFETCH_INTERVAL_S)
    response = _list(oidc_client, oidc_issuer.token(groups=DEVELOPER))
    assert response.status_code == 503
    assert "Retry-After" in response.headers


def test_alg_none_and_hmac_are_refused_without_asking_the_provider(oidc_client, oidc_issuer):
    _assert_invalid_token(_list(oidc_client, unsigned(oidc_issuer.claims())))
    _assert_invalid_token(_list(oidc_client, _forged_hs256(oidc_issuer)))
    assert oidc_issuer.jwks_fetches == 0


# -- roles from groups --------------------------------------------------------------------


def test_roles_come_from_the_groups_through_the_role_map(oidc_client, oidc_issuer):
    token = oidc_issuer.token(groups=["ml-developers", "ml-approvers", "book-club"])
    body = oidc_client.get("/whoami", headers=bearer(token)).get_json()
    assert body["roles"] == ["developer", "approver"]
    assert body["groups"] == ["book-club", "ml-approvers", "ml-developers"]


def test_a_caller_without_a_mapped_role_is_authenticated_but_403_naming_the_role(
    oidc_client, oidc_issuer
):
    token = oidc_issuer.token(preferred_username="bob", groups=["book-club"])
    me = oidc_client.get("/whoami", headers=bearer(token))
    assert me.status_code == 200 and me.get_json()["roles"] == []
    created = oidc_client.post("/create_feature_metadata", json=CREATE, headers=bearer(token))
    assert created.status_code == 403
    assert "bob" in created.get_json()["detail"]
    assert "allowed roles: developer" in created.get_json()["detail"]
    read = _list(oidc_client, token)
    assert read.status_code == 403
    assert "carries: none" in read.get_json()["detail"]
    values = oidc_client.post(
        "/features",
        json={"features": ["v:f:1"], "entities": {"id": ["1"]}},
        headers=bearer(token),
    )
    assert values.status_code == 403, values.get_json()


def test_a_role_the_groups_do_not_give_is_403(oidc_client, oidc_issuer):
    token = oidc_issuer.token(groups=DEVELOPER)
    response = oidc_client.post(
        "/create_feature_metadata", json={**CREATE, "user_role": "approver"}, headers=bearer(token)
    )
    assert response.status_code == 403
    assert "does not carry the role 'approver'" in response.get_json()["detail"]


def test_a_groups_claim_that_is_not_a_list_of_names_gives_no_groups(oidc_client, oidc_issuer):
    for groups in ("ml-developers", {"ml-developers": True}, [1, None]):
        token = oidc_issuer.token(groups=groups)
        body = oidc_client.get("/whoami", headers=bearer(token)).get_json()
        assert (body["roles"], body["groups"]) == ([], [])
    mixed = oidc_issuer.token(groups=["ml-developers", " spaced", 7])
    body = oidc_client.get("/whoami", headers=bearer(mixed)).get_json()
    assert (body["roles"], body["groups"]) == (["developer"], ["ml-developers"])
