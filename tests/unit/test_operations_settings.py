"""Settings added for running in production: checked when the app starts, not at first use."""

from __future__ import annotations

from pathlib import Path

import pytest

from feature_gateway.config import ConfigError, Settings


def test_metrics_directory_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR"):
        Settings.from_env({"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "missing")})


def test_an_existing_metrics_directory_is_accepted(tmp_path: Path) -> None:
    settings = Settings.from_env({"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)})

    assert settings.prometheus_multiproc_dir == str(tmp_path)


def test_connect_timeout_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="DB_CONNECT_TIMEOUT_S"):
        Settings.from_env({"DB_CONNECT_TIMEOUT_S": "0"})
