"""The demo's child processes: ``wawindow serve`` and ``wawindow sandbox``.

Each child writes its output to a log file in the demo's log folder. A child that
exits, or does not answer within ``READY_TIMEOUT``, is a ``ChildFailed`` that carries
the end of its log, so the person running the demo sees why.

No child outlives the demo:

- each child runs in a session of its own, so a Ctrl-C in the terminal reaches only
  the demo, which then stops the children one by one (SIGTERM, then SIGKILL after
  ``STOP_TIMEOUT``);
- on Linux each child also asks the kernel for a SIGTERM when its parent dies
  (``PR_SET_PDEATHSIG``), which covers a demo killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

HOST: Final = "127.0.0.1"
READY_TIMEOUT: Final = 60.0  # seconds; serve migrates the database before it answers
STOP_TIMEOUT: Final = 10.0
LOG_TAIL: Final = 4000  # characters of a failed child's output to show
_PR_SET_PDEATHSIG: Final = 1
_LINUX: Final = sys.platform.startswith("linux")


class ChildFailed(RuntimeError):
    """A child did not start, or stopped on its own; the message ends with its output."""

    def __init__(self, child: Child, reason: str) -> None:
        super().__init__(f"wawindow {child.name} {reason}")
        self.child = child
        self.reason = reason

    def output(self) -> str:
        return self.child.output()


@dataclass
class Child:
    """One running child, where it logs and the URL that answers 200 once it is ready."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    ready_url: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self, limit: int = LOG_TAIL) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return text[-limit:]

    def answers(self) -> bool:
        try:
            return httpx.get(self.ready_url, timeout=2.0).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        """SIGTERM (both shut down gracefully), then SIGKILL if it is still there."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
                return
            except subprocess.TimeoutExpired:
                self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_TIMEOUT)


def wawindow_command() -> list[str]:
    """How to run ``wawindow``: the script installed beside this interpreter, if any."""
    script = Path(sys.executable).parent / "wawindow"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from wawindow.entrypoints.cli import main; main()"]


def port_taken(port: int) -> bool:
    """Something already accepts connections on ``HOST:port`` (another server would
    answer in place of the demo's child, which could not bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((HOST, port)) == 0


def start_child(
    name: str,
    args: Sequence[str],
    env: Mapping[str, str],
    log_dir: Path,
    ready_url: str,
) -> Child:
    """``wawindow NAME ARGS`` in the background, its output to ``log_dir/NAME.log``."""
    log_path = log_dir / f"{name}.log"
    parent = os.getpid()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*wawindow_command(), name, *args],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # the demo runs no threads of its own, so a preexec_fn is safe here
            preexec_fn=(lambda: _die_with(parent)) if _LINUX else None,
        )
    return Child(name, process, log_path, ready_url)


def _die_with(parent: int) -> None:
    """In the child, before exec: a SIGTERM when the parent dies (Linux only)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def wait_ready(children: Sequence[Child], timeout: float = READY_TIMEOUT) -> None:
    """Until every child answers its ready URL; ``ChildFailed`` when one exits or is late."""
    waiting = list(children)
    deadline = time.monotonic() + timeout
    while waiting:
        for child in list(waiting):
            if not child.alive():
                raise ChildFailed(child, f"exited with code {child.process.returncode}")
            if child.answers():
                waiting.remove(child)
        if waiting and time.monotonic() > deadline:
            raise ChildFailed(waiting[0], f"did not answer within {timeout:.0f} s")
        if waiting:
            time.sleep(0.1)


def check_alive(children: Sequence[Child]) -> None:
    for child in children:
        if not child.alive():
            raise ChildFailed(child, f"stopped unexpectedly with code {child.process.returncode}")


def stop_all(children: Sequence[Child]) -> None:
    """Stop the children, the last started first."""
    for child in reversed(children):
        child.stop()
