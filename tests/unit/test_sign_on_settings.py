"""Single sign-on settings (SPEC §12): read from the environment, checked at start, and the
service refuses to start on a contradiction or a malformed role map, saying why."""

import pytest

from feature_gateway import create_app
from feature_gateway.config import ConfigError, Settings
from feature_gateway.domain.lifecycle import Role

ISSUER = "https://login.example.com/realms/ml"
TOKEN_MODE = {"AUTH_MODE": "token", "OIDC_ISSUER": ISSUER, "OIDC_CLIENT_ID": "feature-gateway"}


def test_oidc_settings_have_their_defaults_and_the_audience_defaults_to_the_client():
    settings = Settings.from_env(TOKEN_MODE)
    assert settings.oidc_enabled
    assert settings.oidc_api_audience == "feature-gateway"
    assert settings.oidc_principal_claim == "preferred_username"
    assert settings.oidc_groups_claim == "groups"
    assert settings.oidc_roles == {}
    assert not Settings.from_env({}).oidc_enabled


def test_the_role_map_gives_each_group_its_roles():
    settings = Settings.from_env(
        {
            **TOKEN_MODE,
            "OIDC_AUDIENCE": "gateway-api",
            "OIDC_ROLE_MAP": " ml-developers=developer, ml-leads=developer,ml-leads=approver,"
            "qa-bots=external_testing_system,platform-admins=admin",
        }
    )
    assert settings.oidc_api_audience == "gateway-api"
    assert settings.oidc_roles == {
        "ml-developers": {Role.DEVELOPER},
        "ml-leads": {Role.DEVELOPER, Role.APPROVER},
        "qa-bots": {Role.EXTERNAL_TESTING_SYSTEM},
        "platform-admins": {Role.ADMIN},
    }


def test_the_client_secret_is_never_shown():
    settings = Settings.from_env({**TOKEN_MODE, "OIDC_CLIENT_SECRET": "s3cr3t-value"})
    assert "s3cr3t-value" not in repr(settings)


@pytest.mark.parametrize(
    ("role_map", "message"),
    [
        ("ml=developer,ml-approvers", "'ml-approvers' is not one"),
        ("ml=developer,,qa=approver", "'' is not one"),
        ("=developer", "'=developer' is not one"),
        ("ml=", "'ml=' is not one"),
        ("ml=superuser", "unknown role 'superuser'"),
        ("ml=Developer", "unknown role 'Developer'"),
        ("ml\u200bdev=developer", "not a name"),
    ],
)
def test_a_malformed_role_map_refuses_to_start_naming_the_pair(role_map, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({**TOKEN_MODE, "OIDC_ROLE_MAP": role_map})


def test_trust_mode_with_an_issuer_refuses_to_start_saying_why():
    with pytest.raises(ConfigError, match="OIDC_ISSUER is set but AUTH_MODE is trust"):
        Settings.from_env({"OIDC_ISSUER": ISSUER})
    with pytest.raises(ConfigError, match="AUTH_MODE is trust"):
        create_app({"oidc_issuer": ISSUER, "TESTING": True})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OIDC_ISSUER": "login.example.com"}, "OIDC_ISSUER must be an https:// URL"),
        ({"OIDC_ISSUER": "http://login.example.com"}, "http:// only for localhost"),
        ({"OIDC_ISSUER": f"{ISSUER}?x=1"}, "without query"),
        ({"OIDC_ISSUER": "https://x/" + "a" * 1000}, "at most 1000 characters"),
        ({"OIDC_CLIENT_ID": ""}, "neither OIDC_AUDIENCE nor OIDC_CLIENT_ID"),
        ({"PUBLIC_BASE_URL": "gateway.example.com"}, "PUBLIC_BASE_URL must be an https://"),
    ],
)
def test_unusable_oidc_settings_refuse_to_start(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({**TOKEN_MODE, **env})


def test_a_loopback_issuer_may_be_plain_http():
    settings = Settings.from_env({**TOKEN_MODE, "OIDC_ISSUER": "http://127.0.0.1:8080/realms/x"})
    assert settings.oidc_issuer == "http://127.0.0.1:8080/realms/x"
