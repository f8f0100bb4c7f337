"""A throwaway PostgreSQL server for tests, started with ``initdb`` and ``pg_ctl``.

The cluster lives in a temporary directory, listens on 127.0.0.1 at a free port
(and on a Unix socket in that directory), trusts every local connection as the
``postgres`` superuser, and runs with ``fsync=off`` — fast, and gone at the end.

PostgreSQL refuses to run as root. When the tests run as root, the directory is
handed to the ``postgres`` system user and the binaries run through
``runuser -u postgres --``; otherwise they run as the current user.

The binaries are looked up on ``PATH``, then in ``/usr/lib/postgresql/<version>/bin``
(Debian's layout; the newest version wins). The Debian package ``postgresql``
provides them and the ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "postgres"
_START_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it


class PostgresUnavailable(Exception):
    """No PostgreSQL server binaries (or no user to run them as) on this machine."""


class PostgresCommandFailed(RuntimeError):
    """``initdb`` or ``pg_ctl`` failed; the message has its output."""


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    directory: Path

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL (psycopg 3 driver) for ``database`` on this server."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        """A libpq connection string, for ``psycopg.connect``."""
        return f"host={self.host} port={self.port} user={self.user} dbname={database}"


def find_bin_dir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or ``None`` if there is none."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    candidates += sorted(
        (Path(found).parent for found in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=_version_of,
        reverse=True,
    )
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Start a fresh cluster, yield where it listens, then stop it and delete its files.

    Raises ``PostgresUnavailable`` if it cannot be started on this machine at all.
    """
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable(
            "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in "
            "/usr/lib/postgresql/*/bin; install the Debian package 'postgresql'"
        )
    as_user = _run_as_prefix()
    directory = Path(tempfile.mkdtemp(prefix="wawindow-pg-"))
    try:
        if as_user:
            shutil.chown(directory, user=SUPERUSER, group=None)
        data = directory / "data"
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", SUPERUSER]
        _run([*as_user, *initdb], directory)
        port = _start(as_user, bin_dir, directory)
        try:
            yield PostgresServer("127.0.0.1", port, SUPERUSER, directory)
        finally:
            stop = [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
            _run([*as_user, *stop], directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _start(as_user: list[str], bin_dir: Path, directory: Path) -> int:
    data = directory / "data"
    for attempt in range(1, _START_ATTEMPTS + 1):
        port = _free_port()
        options = (
            f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        command = [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options]
        command += ["-l", str(directory / "server.log"), "-w", "start"]
        try:
            _run(command, directory)
        except PostgresCommandFailed as failure:
            if attempt == _START_ATTEMPTS:
                log = directory / "server.log"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise PostgresCommandFailed(f"{failure}\nserver.log:\n{tail}") from None
        else:
            return port
    raise AssertionError("unreachable")


def _run_as_prefix() -> list[str]:
    """``runuser -u postgres --`` when running as root, else nothing."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise PostgresUnavailable(
            "running as root, and PostgreSQL refuses to; but there is no 'postgres' "
            "system user to run it as (the Debian package 'postgresql' creates it)"
        ) from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresUnavailable("running as root, and 'runuser' is missing")
    return [runuser, "-u", SUPERUSER, "--"]


def _run(command: list[str], cwd: Path) -> None:
    # cwd: a folder the postgres user may enter (it may not enter the caller's).
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PostgresCommandFailed(
            f"{' '.join(command)} exited with {result.returncode}\n{result.stdout}{result.stderr}"
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _version_of(bin_dir: Path) -> tuple[int, ...]:
    name = bin_dir.parent.name  # /usr/lib/postgresql/<version>/bin
    return tuple(int(part) for part in name.split(".") if part.isdigit())
