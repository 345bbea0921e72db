"""The identity provider client the API and the console's sign-on share (SPEC §12): the
discovery fields, ID tokens' nonce, and the provider's own mistakes reported as 503."""

import pytest

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
    claims = provider.verify(oidc_issuer.token(email="ed@example.com", roles=["ml"]), audience=AUDIENCE)
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
