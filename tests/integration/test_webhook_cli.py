"""feature-gateway webhooks create|list|delete: webhook management from the command line,
the only way in trust mode."""

import json

import pytest

from feature_gateway.domain.webhooks import SECRET_PREFIX


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args):
        return runner.invoke(args=["webhooks", *args])

    return run


def test_create_prints_the_secret_last_and_list_and_delete_follow(cli):
    created = cli("create", "--url", "https://hooks.example.com/in",
                  "--event-type", "feature.approve", "--event-type", "feature.submit")  # fmt: skip
    assert created.exit_code == 0, created.output
    *_, secret = created.stdout.splitlines()
    assert secret.startswith(SECRET_PREFIX)
    listed = json.loads(cli("list", "--json").stdout)["webhooks"]
    assert [(w["url"], w["event_types"], w["active"]) for w in listed] == [
        ("https://hooks.example.com/in", ["feature.submit", "feature.approve"], True)
    ]
    assert secret.removeprefix(SECRET_PREFIX) not in cli("list").stdout
    deleted = cli("delete", listed[0]["webhook_id"])
    assert deleted.exit_code == 0
    assert json.loads(cli("list", "--json").stdout) == {"webhooks": []}
    again = cli("delete", listed[0]["webhook_id"])
    assert again.exit_code != 0 and "does not exist" in again.output


def test_a_refused_target_is_an_error_naming_why(cli):
    result = cli("create", "--url", "http://169.254.169.254/", "--event-type", "*")
    assert result.exit_code != 0
    assert "link-local" in result.output
    assert json.loads(cli("list", "--json").stdout) == {"webhooks": []}
