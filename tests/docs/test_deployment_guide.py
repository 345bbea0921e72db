"""The production guide (docs/deployment.md) builds a host that serves in token mode."""

from __future__ import annotations

import re
import shlex
import subprocess

from markdown_it import MarkdownIt

from feature_gateway.config import PROJECT_ROOT, Settings
from feature_gateway.serving import require_serving, startup_warnings

GUIDE = PROJECT_ROOT / "docs" / "deployment.md"
ENV_FILE = "/etc/feature-gateway.env"


def _blocks(language: str) -> list[str]:
    tokens = MarkdownIt("commonmark").parse(GUIDE.read_text("utf-8"))
    return [t.content for t in tokens if t.type == "fence" and t.info.strip() == language]


def _environment_file() -> dict[str, str]:
    """The file the guide writes, as its shell writes it (the heredoc expanded by bash)."""
    heredoc = re.compile(rf"tee {re.escape(ENV_FILE)} >/dev/null <<(\w+)\n(.*?)\n\1\n", re.S)
    [(delimiter, body)] = [m.groups() for b in _blocks("bash") for m in heredoc.finditer(b)]
    written = subprocess.run(["bash", "-c", f"cat <<{delimiter}\n{body}\n{delimiter}\n"],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    lines = [line for line in written.splitlines() if line.strip() and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_the_guides_environment_file_serves_in_token_mode_with_a_secret_key() -> None:
    env = _environment_file()
    settings = Settings.from_env(env)
    assert settings.token_mode
    require_serving(settings)  # a SECRET_KEY long enough to serve with
    assert startup_warnings(settings) == []
    assert settings.trusted_proxy_count == 1  # behind the guide's nginx


def test_the_user_the_guides_unit_runs_as_is_created_by_one_of_its_steps() -> None:
    [unit] = [block for block in _blocks("ini") if "ExecStart=" in block]
    [user] = re.findall(r"^User=(\S+)$", unit, flags=re.M)
    created = [
        shlex.split(line)[-1]
        for block in _blocks("bash")
        for line in block.splitlines()
        if re.match(r"(sudo )?useradd ", line)
    ]
    assert user in created
    # The environment file holds the key and the database password: the service's group
    # may read it, nobody else.
    [install] = [line for b in _blocks("bash") for line in b.splitlines() if ENV_FILE in line
                 and line.startswith("sudo install")]  # fmt: skip
    assert "-m 640" in install and f"-g {user}" in install
