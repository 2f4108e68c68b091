"""A service process started by the stack: pid file, log file, liveness and stop.

Services run in their own session (``start_new_session``) so a Ctrl-C in the
terminal reaches only ``civicgrid``, which then stops them in order.  The pid
file records the pid and the executable; a pid file whose process is gone, or
whose pid now belongs to another program, is *stale* and is cleaned up
instead of trusted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class StackError(RuntimeError):
    """A service could not be started, checked or stopped; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class RunUser:
    """Who a service runs as (PostgreSQL refuses root; see docs/architecture.md)."""

    name: str
    uid: int
    gid: int


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_free_ports(host: str, ports: list[tuple[int, str]]) -> None:
    """Fail with the setting that moves a port when another program holds it; `ports`: (port, setting)."""
    for port, setting in ports:
        if not port_is_free(host, port):
            raise StackError(f"port {port} on {host} is taken by another program; choose another with {setting}")


def _exe_of(pid: int) -> str | None:
    try:
        return str(Path(f"/proc/{pid}/exe").readlink())
    except (FileNotFoundError, PermissionError, ProcessLookupError):
        return None


class ManagedProcess:
    """One long-running server process owned by the stack."""

    def __init__(self, name: str, run_dir: Path, log_path: Path) -> None:
        self.name = name
        self.pid_path = run_dir / f"{name}.pid"
        self.log_path = log_path

    # -- state -------------------------------------------------------------
    def pid(self) -> int | None:
        """The pid of the live process, or None; a stale pid file is removed."""
        try:
            pid_text, _, exe = self.pid_path.read_text().partition("\n")
            pid = int(pid_text)
        except (FileNotFoundError, ValueError):
            return None
        live_exe = _exe_of(pid)
        if live_exe is None or (exe.strip() and live_exe.removesuffix(" (deleted)") != exe.strip()):
            self.pid_path.unlink(missing_ok=True)
            return None
        return pid

    def has_stale_pid_file(self) -> bool:
        return self.pid_path.exists() and self.pid() is None

    # -- start / stop --------------------------------------------------------
    def start(self, argv: list[str], *, cwd: Path, user: RunUser | None = None,
              env: dict[str, str] | None = None) -> int:
        self.pid_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n--- civicgrid: starting {self.name}: {' '.join(argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **(env or {})},
                user=user.uid if user else None,
                group=user.gid if user else None,
                extra_groups=[] if user else None,
            )
        # The resolved executable guards against trusting a pid the kernel gave to another program.
        self.pid_path.write_text(f"{proc.pid}\n{os.path.realpath(argv[0])}\n")
        self._popen = proc
        return proc.pid

    def exited_early(self) -> int | None:
        """The exit code if the process we just started has already died."""
        proc = getattr(self, "_popen", None)
        return None if proc is None else proc.poll()

    def wait_ready(self, probe: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Poll `probe` until it answers; fail with the log's tail if the process dies or time runs out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            code = self.exited_early()
            if code is not None:
                self.pid_path.unlink(missing_ok=True)
                raise StackError(
                    f"{self.name} exited with code {code} while starting.\n"
                    f"Last lines of {self.log_path}:\n{tail(self.log_path)}"
                )
            if probe():
                return
            time.sleep(0.1)
        self.stop()
        raise StackError(
            f"{self.name} did not answer {what} within {timeout_s:.0f} s.\n"
            f"Last lines of {self.log_path}:\n{tail(self.log_path)}"
        )

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 15.0) -> bool:
        """Stop gracefully with `sig`, then SIGKILL after `timeout_s`; True if something was stopped."""
        pid = self.pid()
        if pid is None:
            self.pid_path.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if not self._wait_gone(pid, timeout_s):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            self._wait_gone(pid, 5.0)
        self.pid_path.unlink(missing_ok=True)
        return True

    def _wait_gone(self, pid: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        proc = getattr(self, "_popen", None)
        while time.monotonic() < deadline:
            if proc is not None and proc.pid == pid:
                if proc.poll() is not None:
                    return True
            elif _exe_of(pid) is None or _is_zombie(pid):
                return True
            time.sleep(0.05)
        return False


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:  # noqa: PTH123
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, IndexError):
        return True
