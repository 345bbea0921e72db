"""The CI and tooling files are valid, and GitHub's workflow runs what .ci/run runs.

The GitHub workflow cannot run here; it is checked against the GitHub workflow JSON schema
(vendored by check-jsonschema, from SchemaStore) and its make steps against .ci/run's.
"""

from __future__ import annotations

import json
import re
import shlex
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


def test_the_github_workflow_audits_the_installed_dependencies_with_pip_audit():
    [job] = _yaml(WORKFLOW)["jobs"].values()
    runs = [step.get("run", "") for step in job["steps"]]
    [audit] = [index for index, run in enumerate(runs) if "pip-audit " in run]
    assert runs.index("make install") < audit  # it audits what was installed
    command = runs[audit]
    assert ".venv/bin/pip freeze --exclude-editable" in command
    assert "--strict" in command and "--requirement" in command


def _nosec_lines() -> list[tuple[str, str, str]]:
    """(path, test id, the comment line above) of every bandit suppression in src."""
    found = []
    for path in sorted((PROJECT_ROOT / "src").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if "nosec" in line:
                [test_id] = re.findall(r"# nosec (B\d+)$", line) or [line]
                relative = str(path.relative_to(PROJECT_ROOT))
                found.append((relative, test_id, lines[number - 1].strip()))
    return found


def test_every_bandit_suppression_names_its_test_says_why_and_is_listed_in_the_docs():
    found = _nosec_lines()
    for path, test_id, above in found:
        assert re.fullmatch(r"B\d+", test_id), f"{path}: a nosec without one test id"
        assert above.startswith("#") and len(above) > 20, f"{path}: no reason above {test_id}"
    identity = (PROJECT_ROOT / "docs" / "identity.md").read_text(encoding="utf-8")
    listed = re.findall(r"^  - `(src/[^`]+)`, (B\d+):", identity, flags=re.MULTILINE)
    assert sorted(listed) == sorted((path, test_id) for path, test_id, _ in found)
    assert f"there are {_NUMBER_WORDS[len(found)]}" in identity


_NUMBER_WORDS = ["none", "one", "two", "three", "four", "five", "six", "seven", "eight"]


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


def _final_stage_environment(dockerfile: Path) -> dict[str, str]:
    """The ENV of the last stage (the default target), continuation lines joined."""
    text = dockerfile.read_text(encoding="utf-8").replace("\\\n", " ")
    last_stage = re.split(r"^FROM ", text, flags=re.M)[-1]
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV (.*)$", last_stage, flags=re.M):
        env.update(word.split("=", 1) for word in shlex.split(line))
    return env


def test_the_docker_image_serves_in_token_mode_unless_told_otherwise():
    assert _final_stage_environment(PROJECT_ROOT / "Dockerfile")["AUTH_MODE"] == "token"


def test_every_served_compose_service_is_in_token_mode_and_requires_a_secret_key():
    compose = _yaml(PROJECT_ROOT / "docker-compose.yaml")
    served = {name: s for name, s in compose["services"].items() if s.get("expose")}
    assert list(served) == ["app"]
    for service in served.values():
        assert service["environment"]["AUTH_MODE"] == "token"
        assert service["environment"]["SECRET_KEY"].startswith("${SECRET_KEY:?")
