"""Settings: sensible defaults, WAWINDOW_* overrides, and errors that name the variable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from wawindow.config import ConfigError, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No WAWINDOW_* from the machine running the tests, and a cwd without a .env."""
    for name in list(os.environ):
        if name.upper().startswith("WAWINDOW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = Settings()
    assert settings.database_url == "sqlite:///./wawindow.db"
    assert settings.sqlite_synchronous == "NORMAL"
    assert settings.host == "127.0.0.1"
    assert settings.port == 8080
    assert settings.max_webhook_bytes == 3 * 1024 * 1024
    assert settings.migrate_on_start is True
    assert settings.log_level == "info"
    assert load_settings() == settings


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAWINDOW_DATABASE_URL", "postgresql+psycopg://u:p@db/wawindow")
    monkeypatch.setenv("WAWINDOW_SQLITE_SYNCHRONOUS", "full")
    monkeypatch.setenv("WAWINDOW_HOST", "0.0.0.0")
    monkeypatch.setenv("WAWINDOW_PORT", "9000")
    monkeypatch.setenv("WAWINDOW_MAX_WEBHOOK_BYTES", "1024")
    monkeypatch.setenv("WAWINDOW_MIGRATE_ON_START", "false")
    monkeypatch.setenv("wawindow_log_level", "DEBUG")
    settings = load_settings()
    assert settings.database_url == "postgresql+psycopg://u:p@db/wawindow"
    assert settings.sqlite_synchronous == "FULL"
    assert settings.host == "0.0.0.0"
    assert settings.port == 9000
    assert settings.max_webhook_bytes == 1024
    assert settings.migrate_on_start is False
    assert settings.log_level == "debug"


def test_a_dotenv_file_in_the_working_directory_is_ignored(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("WAWINDOW_PORT=1234\n")
    assert load_settings().port == 8080


def test_env_file_is_read_only_when_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env_file = tmp_path / "wawindow.env"
    env_file.write_text("WAWINDOW_PORT=1234\nWAWINDOW_HOST=10.0.0.1\nOTHER_APP=x\n")
    monkeypatch.setenv("WAWINDOW_ENV_FILE", str(env_file))
    monkeypatch.setenv("WAWINDOW_HOST", "10.0.0.2")  # the real environment wins
    settings = load_settings()
    assert settings.port == 1234
    assert settings.host == "10.0.0.2"


def test_named_env_file_that_does_not_exist_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WAWINDOW_ENV_FILE", str(tmp_path / "missing.env"))
    with pytest.raises(ConfigError, match="WAWINDOW_ENV_FILE"):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WAWINDOW_PORT", "eighty"),
        ("WAWINDOW_PORT", "70000"),
        ("WAWINDOW_SQLITE_SYNCHRONOUS", "OFF"),
        ("WAWINDOW_MAX_WEBHOOK_BYTES", "0"),
        ("WAWINDOW_MIGRATE_ON_START", "perhaps"),
        ("WAWINDOW_LOG_LEVEL", "loud"),
        ("WAWINDOW_DATABASE_URL", ""),
    ],
)
def test_invalid_value_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    field = variable.removeprefix("WAWINDOW_").lower()
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert [error["loc"] for error in raised.value.errors()] == [(field,)]
    with pytest.raises(ConfigError, match=f"^invalid configuration:\n  {variable}: ") as friendly:
        load_settings()
    assert isinstance(friendly.value.__cause__, ValidationError)


def test_error_message_does_not_echo_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAWINDOW_PORT", "s3cr3t-password")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "s3cr3t" not in str(raised.value)


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.port = 1
    assert settings.model_copy(update={"port": 0}).port == 0
