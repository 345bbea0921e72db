"""API token format, hashing and expiry rules (domain.tokens), and the AUTH_MODE setting."""

import re

import pytest

from feature_gateway.config import ConfigError, Settings
from feature_gateway.domain.identity import same_person
from feature_gateway.domain.tokens import (
    LAST_USED_REFRESH_MS,
    hash_token,
    is_expired,
    needs_last_used_refresh,
    new_token,
    token_id_of,
    token_matches,
)
from tests.conftest import token_secret


def test_a_token_starts_with_fmg_and_carries_its_id_and_256_random_bits():
    issued = new_token()
    assert issued.token.startswith(f"fmg_{issued.token_id}_")
    secret = issued.token.removeprefix(f"fmg_{issued.token_id}_")
    # URL-safe base64: 6 bits a character.
    assert re.fullmatch(r"[A-Za-z0-9_-]+", secret)
    assert len(secret) * 6 >= 256
    assert token_id_of(issued.token) == issued.token_id


def test_tokens_are_never_alike():
    issued = [new_token() for _ in range(200)]
    assert len({t.token for t in issued}) == len({t.token_id for t in issued}) == 200


def test_only_a_sha256_hash_is_kept_and_it_reveals_no_part_of_the_token():
    issued = new_token()
    assert issued.token_hash == hash_token(issued.token)
    assert len(issued.token_hash) == 64
    secret = token_secret(issued.token)
    assert secret not in issued.token_hash


def test_a_token_matches_its_hash_only():
    one, other = new_token(), new_token()
    assert token_matches(one.token, one.token_hash)
    assert not token_matches(other.token, one.token_hash)
    tampered = one.token[:-1] + ("A" if one.token[-1] != "A" else "B")
    assert not token_matches(tampered, one.token_hash)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "fmg_",
        "Bearer fmg_0123456789abcdef_" + "a" * 43,
        "fmg_0123456789ABCDEF_" + "a" * 43,  # the id is lower-case hex
        "fmg_0123456789abcdef_" + "a" * 42,
        "fmg_0123456789abcdef_" + "a" * 44,
        "xyz_0123456789abcdef_" + "a" * 43,
        "fmg_0123456789abcdef_" + "a" * 42 + "=",
    ],
)
def test_anything_but_a_well_formed_token_has_no_id(text):
    assert token_id_of(text) is None


def test_expiry_is_at_the_expiry_time_and_no_expiry_means_never():
    assert not is_expired(None, 10**15)
    assert not is_expired(1_000, 999)
    assert is_expired(1_000, 1_000)


def test_last_used_time_is_refreshed_at_most_once_a_minute():
    assert LAST_USED_REFRESH_MS == 60_000
    assert needs_last_used_refresh(None, 5)
    assert not needs_last_used_refresh(1_000, 1_000 + 59_999)
    assert needs_last_used_refresh(1_000, 1_000 + 60_000)


def test_people_are_the_same_whatever_the_case():
    assert same_person("Alice", "aLICE")
    assert same_person("STRASSE", "straße")  # case folding, not just lower()
    assert not same_person("alice", "alicia")
    assert not same_person(None, "alice")


def test_auth_mode_defaults_to_trust_and_accepts_token():
    assert Settings.from_env({}).auth_mode == "trust"
    assert not Settings.from_env({}).token_mode
    assert Settings.from_env({"AUTH_MODE": "token", "SECRET_KEY": "k" * 32}).token_mode


@pytest.mark.parametrize("value", ["TOKEN", "none", "oauth"])
def test_an_unknown_auth_mode_fails_at_start(value):
    with pytest.raises(ConfigError, match="AUTH_MODE must be one of trust, token"):
        Settings.from_env({"AUTH_MODE": value})
