"""The identity provider client the API and the console's sign-on share (SPEC §12): the
discovery fields, ID tokens' nonce, and the provider's own mistakes reported as 503."""

import threading
import time

import pytest
from joserfc.jwk import RSAKey

from feature_gateway.errors import AuthenticationError, IdentityProviderUnavailableError
from feature_gateway.services.identity_provider import Discovery, IdentityProvider
from tests.oidc_issuer import AUDIENCE


@pytest.fixture
def provider(oidc_issuer):
    return IdentityProvider(oidc_issuer.url)


def test_the_discovery_document_gives_the_endpoints_and_is_fetched_once(provider, oidc_issuer):
    assert provider.discovery() == Discovery(
        issuer=oidc_issuer.url,
        authorization_endpoint=f"{oidc_issuer.url}/authorize",
        token_endpoint=f"{oidc_issuer.url}/token",
        jwks_uri=f"{oidc_issuer.url}/jwks",
        end_session_endpoint=f"{oidc_issuer.url}/logout",
    )
    provider.discovery()
    assert oidc_issuer.discovery_fetches == 1


def test_a_provider_without_end_session_has_none(provider, oidc_issuer, monkeypatch):
    document = {k: v for k, v in oidc_issuer.discovery().items() if k != "end_session_endpoint"}
    monkeypatch.setattr(oidc_issuer, "discovery", lambda: document)
    assert provider.discovery().end_session_endpoint is None


def test_an_id_token_must_carry_the_nonce_asked_for(provider, oidc_issuer):
    token = oidc_issuer.token(nonce="n-0S6_WzA2Mj")
    assert provider.verify(token, audience=AUDIENCE, nonce="n-0S6_WzA2Mj")["nonce"] == (
        "n-0S6_WzA2Mj"
    )
    with pytest.raises(AuthenticationError):
        provider.verify(token, audience=AUDIENCE, nonce="another")
    with pytest.raises(AuthenticationError):
        provider.verify(oidc_issuer.token(), audience=AUDIENCE, nonce="n-0S6_WzA2Mj")


def test_claims_name_the_principal_its_groups_roles_and_the_provider(oidc_issuer):
    from feature_gateway.domain.lifecycle import Role

    provider = IdentityProvider(
        oidc_issuer.url,
        principal_claim="email",
        groups_claim="roles",
        role_map={"ml": frozenset({Role.DEVELOPER})},
    )
    token = oidc_issuer.token(email="ed@example.com", roles=["ml"])
    claims = provider.verify(token, audience=AUDIENCE)
    caller = provider.principal_of(claims)
    assert (caller.name, caller.roles, caller.groups) == (
        "ed@example.com",
        frozenset({Role.DEVELOPER}),
        frozenset({"ml"}),
    )
    assert caller.authenticated and caller.credential == f"oidc:{oidc_issuer.url}"


def test_a_discovery_document_naming_another_issuer_is_503(provider, oidc_issuer, monkeypatch):
    document = {**oidc_issuer.discovery(), "issuer": "https://elsewhere.example"}
    monkeypatch.setattr(oidc_issuer, "discovery", lambda: document)
    with pytest.raises(IdentityProviderUnavailableError, match="names the issuer"):
        provider.verify(oidc_issuer.token(), audience=AUDIENCE)


def test_an_unreachable_provider_is_503_with_retry_after(oidc_issuer):
    oidc_issuer.stop()
    provider = IdentityProvider(oidc_issuer.url)
    with pytest.raises(IdentityProviderUnavailableError) as refused:
        provider.discovery()
    assert refused.value.headers["Retry-After"] == "30"


def test_after_a_failed_discovery_the_provider_is_not_asked_again_for_a_few_seconds(oidc_issuer):
    # Each visit to the console's sign-in link asks for discovery: while the provider is down
    # that must not be an outgoing request (and its timeouts) per visit.
    oidc_issuer.stop()
    clock = [1_000.0]
    provider = IdentityProvider(oidc_issuer.url, clock=lambda: clock[0])
    with pytest.raises(IdentityProviderUnavailableError):
        provider.discovery()
    oidc_issuer.start()
    clock[0] += 2
    with pytest.raises(IdentityProviderUnavailableError) as paced:
        provider.discovery()
    assert paced.value.headers["Retry-After"] == "3"
    assert oidc_issuer.discovery_fetches == 0
    clock[0] += 3
    assert provider.discovery().issuer == oidc_issuer.url
    assert oidc_issuer.discovery_fetches == 1


def test_a_token_with_a_cached_key_does_not_wait_behind_a_slow_key_refetch(oidc_issuer):
    """An unknown kid (anyone can send one, every 30 s) makes the provider fetch its keys;
    a caller whose key is cached must not queue behind that fetch while the provider is
    slow to answer."""
    clock = [1_000.0]
    provider = IdentityProvider(oidc_issuer.url, clock=lambda: clock[0])
    good = oidc_issuer.token()
    provider.verify(good, audience=AUDIENCE)  # keys cached
    released = threading.Event()
    published = oidc_issuer.jwks
    oidc_issuer.jwks = lambda: (released.wait(10), published())[1]  # type: ignore[method-assign]
    clock[0] += 31
    stranger = oidc_issuer.token(key=RSAKey.generate_key(2048, auto_kid=True))
    refetching = threading.Thread(target=_refused, args=(provider, stranger), daemon=True)
    refetching.start()
    while oidc_issuer.jwks_fetches < 2:  # the refetch has reached the provider
        time.sleep(0.01)
    answered: list[str] = []
    cached = threading.Thread(
        target=lambda: answered.append(provider.verify(good, audience=AUDIENCE)["sub"]),
        daemon=True,
    )
    cached.start()
    cached.join(timeout=1.5)
    in_time = list(answered)  # before the provider answers the refetch
    released.set()
    refetching.join(timeout=10)
    assert in_time == ["user-0001"], "the cached key's caller waited for the refetch"


def _refused(provider: IdentityProvider, token: str) -> None:
    with pytest.raises(AuthenticationError):
        provider.verify(token, audience=AUDIENCE)
