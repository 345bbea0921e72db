"""feature-gateway tokens create|list|revoke: how the first admin token is made."""

import json

import pytest
from sqlalchemy import text

from feature_gateway.domain.tokens import TOKEN_PATTERN
from tests.conftest import bearer, token_secret


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args):
        return runner.invoke(args=["tokens", *args])

    return run


def _create(cli, *args):
    result = cli("create", *args)
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()[-1]


def test_create_prints_the_token_alone_on_the_last_line_and_it_works(cli, token_client):
    token = _create(cli, "--principal", "root", "--role", "admin")
    assert TOKEN_PATTERN.fullmatch(token)
    response = token_client.get("/tokens", headers=bearer(token))
    assert response.status_code == 200
    [listed] = response.get_json()["tokens"]
    assert (listed["principal"], listed["roles"], listed["created_by"]) == (
        "root",
        ["admin"],
        "cli",
    )


def test_create_takes_several_roles_an_expiry_and_a_description(cli, connection):
    token = _create(
        cli,
        "--principal", "ci-bot", "--role", "external_testing_system", "--role", "developer",
        "--expires-in-days", "30", "--description", "nightly tests",
    )  # fmt: skip
    row = connection.execute(
        text("SELECT * FROM api_tokens WHERE token_id = :id"), {"id": token.split("_")[1]}
    ).one()
    assert row.roles == "developer,external_testing_system"
    assert row.description == "nightly tests"
    assert row.expires_time - row.created_time == 30 * 86_400_000


def test_create_takes_groups_and_list_shows_them(cli):
    token = _create(
        cli, "--principal", "ci-bot", "--role", "developer", "--group", "growth", "--group", "ml"
    )
    listed = json.loads(cli("list", "--json").stdout)["tokens"]
    [mine] = [t for t in listed if t["token_id"] == token.split("_")[1]]
    assert mine["groups"] == ["growth", "ml"]
    table = cli("list").stdout.splitlines()
    assert "groups" in table[0]
    assert any("growth,ml" in line for line in table[1:])


def test_create_refuses_a_group_name_that_breaks_the_name_rule(cli, connection):
    result = cli("create", "--principal", "ci-bot", "--role", "developer", "--group", " growth")
    assert result.exit_code != 0
    assert "groups" in result.output
    assert connection.execute(text("SELECT count(*) FROM api_tokens")).scalar_one() == 0


def test_list_never_shows_a_secret(cli):
    token = _create(cli, "--principal", "root", "--role", "admin")
    table = cli("list")
    assert table.exit_code == 0
    assert token.split("_")[1] in table.stdout and "root" in table.stdout
    assert token_secret(token) not in table.output
    as_json = cli("list", "--json")
    [listed] = json.loads(as_json.stdout)["tokens"]
    assert listed["token_id"] == token.split("_")[1]
    assert token_secret(token) not in as_json.output


def test_revoke_stops_the_token(cli, token_client):
    token = _create(cli, "--principal", "root", "--role", "admin")
    result = cli("revoke", token.split("_")[1])
    assert result.exit_code == 0, result.output
    assert "revoked" in result.stdout
    assert token_client.get("/tokens", headers=bearer(token)).status_code == 401
    assert cli("revoke", token.split("_")[1]).exit_code == 0  # again: nothing changes


def test_revoking_an_unknown_token_fails(cli):
    result = cli("revoke", "0123456789abcdef")
    assert result.exit_code == 1
    assert "does not exist" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("--principal", "root"),  # no role
        ("--principal", "root", "--role", "root"),
        ("--principal", "root", "--role", "admin", "--expires-in-days", "0"),
        ("--role", "admin"),
    ],
)
def test_create_refuses_bad_options(cli, connection, args):
    assert cli("create", *args).exit_code == 2
    assert connection.execute(text("SELECT count(*) FROM api_tokens")).scalar() == 0


def test_create_holds_the_principal_to_the_api_rules(cli, connection):
    result = cli("create", "--principal", "   ", "--role", "admin")
    assert result.exit_code == 1
    assert "principal" in result.output
    assert connection.execute(text("SELECT count(*) FROM api_tokens")).scalar() == 0
