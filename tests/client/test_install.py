"""`pip install ./clients/python` works from what is committed: the client's folder as a
fresh clone has it, installed into a new virtualenv, imports from there with its types and
the service's version."""

from __future__ import annotations

import io
import subprocess
import sys
import sysconfig
import tarfile
import venv
from pathlib import Path

import pytest

import feature_gateway
from feature_gateway.config import PROJECT_ROOT

pytestmark = pytest.mark.slow
CLIENT = "clients/python"


def _committed_client(into: Path) -> Path:
    """The client's folder as ``git clone`` would give it (committed files only)."""
    archive = subprocess.run(["git", "archive", "--format=tar", "HEAD", CLIENT], cwd=PROJECT_ROOT,
                             capture_output=True, check=True, timeout=60).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / CLIENT


def test_pip_install_of_the_committed_client_folder_works(tmp_path: Path) -> None:
    source = _committed_client(tmp_path / "clone")
    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    # The client's one dependency (httpx) from this environment, so that --no-deps suffices.
    where_packages_go = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = subprocess.run([str(python), "-c", where_packages_go], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip
    Path(site, "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]
    probe = (
        "import importlib.metadata as m, pathlib, feature_gateway_client as c; "
        "print(c.__file__); print(m.version('feature-gateway-client')); "
        "print((pathlib.Path(c.__file__).parent / 'py.typed').exists())"
    )
    ran = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                         timeout=60)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    where, version, typed = ran.stdout.split()
    assert where.startswith(site) and version == feature_gateway.__version__ and typed == "True"
    assert sys.prefix not in where
