"""The CI and tooling files are valid, and GitHub's workflow runs what .ci/run runs.

The GitHub workflow cannot run here; it is checked against the GitHub workflow JSON schema
(vendored by check-jsonschema, from SchemaStore) and its make steps against .ci/run's.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from pre_commit.clientlib import load_config
from ruamel.yaml import YAML

from feature_gateway.config import PROJECT_ROOT

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "ci.yml"


def _vendored_schema(name: str) -> dict[str, Any]:
    package = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((package / f"{name}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def test_the_github_workflow_is_valid_against_the_github_workflow_schema():
    jsonschema.validate(_yaml(WORKFLOW), _vendored_schema("github-workflows"))


def test_the_github_workflow_runs_the_make_steps_of_ci_run_in_order():
    script = (PROJECT_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci_run = re.findall(r"^(make [\w-]+)", script, flags=re.MULTILINE)
    [job] = _yaml(WORKFLOW)["jobs"].values()
    steps = [
        step["run"].strip() for step in job["steps"] if step.get("run", "").startswith("make")
    ]
    assert ci_run == steps == [
        "make install", "make lint", "make security", "make test-browser", "make test"
    ]  # fmt: skip


def test_the_github_workflow_tests_against_a_postgresql_service_with_ci_true():
    [job] = _yaml(WORKFLOW)["jobs"].values()
    assert job["services"]["postgres"]["image"].startswith("postgres:")
    assert job["env"]["CI"] == "true"
    assert job["env"]["TEST_PG_HOST"] == "postgres"
    installed = next(s["run"] for s in job["steps"] if "apt-get install" in s.get("run", ""))
    assert {"nginx", "chromium", "chromium-driver", "postgresql", "pgbouncer"} <= set(
        installed.split()
    )


def test_docker_compose_is_valid_and_runs_the_app_in_token_mode():
    compose = _yaml(PROJECT_ROOT / "docker-compose.yaml")
    jsonschema.validate(compose, _vendored_schema("compose-spec"))
    assert compose["x-app-environment"]["AUTH_MODE"] == "token"


def test_the_pre_commit_config_is_valid_and_runs_the_linters():
    config = load_config(str(PROJECT_ROOT / ".pre-commit-config.yaml"))
    hooks = {hook["id"] for repo in config["repos"] for hook in repo["hooks"]}
    assert hooks >= {"ruff", "black", "isort", "mypy"}
