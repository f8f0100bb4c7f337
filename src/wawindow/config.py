"""Process configuration, read from ``WAWINDOW_*`` environment variables.

Environment variables only, on purpose: a service that silently picks up a
``.env`` from whatever directory it was started in is hard to reason about in
production. A ``.env``-style file is read only when ``WAWINDOW_ENV_FILE`` names
it explicitly (through ``load_settings``), and then a missing file is an error
rather than a silent fallback to defaults. Real environment variables still win
over the file.

With no configuration at all the defaults give a working single-process
install: SQLite at ``./wawindow.db``, migrated on start, listening on loopback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX: Final = "WAWINDOW_"
ENV_FILE_VARIABLE: Final = "WAWINDOW_ENV_FILE"

SqliteSynchronous = Literal["NORMAL", "FULL"]
LogLevel = Literal["critical", "error", "warning", "info", "debug", "trace"]


class ConfigError(ValueError):
    """The configuration cannot be used; the message names each offending variable."""


class Settings(BaseSettings):
    """Everything a ``serve``/``worker``/``migrate`` process needs to start.

    Frozen: settings are read once at start and passed down, so nothing can
    change them behind the back of the components that were built from them.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=None,
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    database_url: str = Field(
        default="sqlite:///./wawindow.db",
        min_length=1,
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user:pw@host/db.",
    )
    sqlite_synchronous: SqliteSynchronous = Field(
        default="NORMAL",
        description=(
            "SQLite PRAGMA synchronous under WAL. NORMAL survives a process crash "
            "(kill -9); FULL also survives a power loss, at a cost per commit."
        ),
    )
    database_pool_timeout: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Seconds a request waits for a free database connection; after that it is "
            "answered 503 with Retry-After."
        ),
    )
    host: str = Field(default="127.0.0.1", min_length=1, description="Interface to bind.")
    port: int = Field(default=8080, ge=0, le=65535, description="TCP port; 0 picks a free one.")
    max_webhook_bytes: int = Field(
        default=3 * 1024 * 1024,
        gt=0,
        description="Largest accepted webhook body; larger bodies get 413.",
    )
    migrate_on_start: bool = Field(
        default=True, description="Apply database migrations before serving."
    )
    log_level: LogLevel = Field(default="info", description="Log level (uvicorn's names).")
    graph_base_url: str = Field(
        default="https://graph.facebook.com",
        min_length=1,
        description="Where sends go when a line names no Graph base URL of its own.",
    )
    graph_api_version: str = Field(
        default="v23.0",
        pattern=r"^v[0-9]+\.[0-9]+$",
        description="The Graph API version of sends made through POST /v1/messages.",
    )
    send_connect_timeout: float = Field(
        default=5.0, gt=0, description="Seconds to open a connection to WhatsApp."
    )
    send_read_timeout: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Seconds to wait for WhatsApp's answer to a send; after that the outcome is "
            "unknown and the send is not repeated."
        ),
    )
    send_attempts: int = Field(
        default=4, ge=1, le=10, description="Attempts per send (retries when surely not sent)."
    )
    send_backoff: float = Field(
        default=0.5, ge=0, description="Seconds before the first retry; doubles each time."
    )
    send_backoff_limit: float = Field(
        default=8.0, ge=0, description="The longest wait between two attempts, in seconds."
    )
    pair_spacing: float = Field(
        default=6.0,
        ge=0,
        description="Seconds between sends to one user after WhatsApp's pair rate limit (131056).",
    )

    clock_url: str | None = Field(
        default=None,
        description=(
            "Follow the clock of a wawindow sandbox at this base URL instead of the system "
            "clock (demos and end-to-end tests only, so that time can jump ahead)."
        ),
    )
    worker: bool = Field(
        default=True,
        description=(
            "Run the background jobs (the scheduler) in each serve process too; "
            "0 leaves them to separate `wawindow worker` processes."
        ),
    )
    worker_idle_seconds: float = Field(
        default=0.5,
        gt=0,
        le=5,
        description="Seconds the worker sleeps when no job had work (how late a due event may go).",
    )
    scheduler_batch: int = Field(
        default=500, ge=1, le=10_000, description="Due events the scheduler takes per transaction."
    )

    @field_validator("sqlite_synchronous", mode="before")
    @classmethod
    def _upper_case(cls, value: Any) -> Any:
        """Accept ``normal``/``full`` too: PRAGMA values are case-insensitive in SQLite."""
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_case(cls, value: Any) -> Any:
        """Accept ``INFO`` as well as ``info``: both spellings are common in deployments."""
        return value.strip().lower() if isinstance(value, str) else value


def _describe(error: ValidationError) -> str:
    """One line per bad setting, named as the environment variable a user would fix.

    The offending value is left out on purpose: ``database_url`` carries a password.
    """
    lines = [
        f"{ENV_PREFIX}{'_'.join(str(part) for part in item['loc']).upper()}: {item['msg']}"
        for item in error.errors(include_input=False, include_url=False)
    ]
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load_settings() -> Settings:
    """Read the settings from the environment (and ``$WAWINDOW_ENV_FILE`` if set).

    Raises ``ConfigError`` with a message fit for a terminal, instead of pydantic's
    ``ValidationError``, so the command line can print it and exit.
    """
    env_file = os.environ.get(ENV_FILE_VARIABLE) or None
    if env_file is not None and not Path(env_file).is_file():
        raise ConfigError(f"{ENV_FILE_VARIABLE}={env_file}: no such file")
    # ``_env_file`` is a real keyword of ``BaseSettings.__init__`` that mypy cannot see
    # without the pydantic plugin (it synthesises ``__init__`` from the fields).
    options: dict[str, Any] = {"_env_file": env_file}
    try:
        return Settings(**options)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from error
