"""Run platform services as real subprocesses for end-to-end and kill tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from civicgrid.settings import Settings
from civicgrid.stack.ephemeral import as_environment

T = TypeVar("T")


def start_service(command: str, settings: Settings, log: Path) -> subprocess.Popen:
    """`civicgrid <command>` with the test stack's settings, output appended to `log`."""
    env = {**os.environ, **as_environment(settings)}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "civicgrid.cli", command], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def stop_service(proc: subprocess.Popen, timeout_s: float = 30) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(probe: Callable[[], T | None], timeout_s: float = 60, what: str = "condition",
             proc: subprocess.Popen | None = None, log: Path | None = None) -> T:
    """Poll `probe` until it returns something truthy; fail with the service's log if it died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"service exited with {proc.returncode} while waiting for {what}:\n"
                                 f"{log.read_text()[-4000:] if log else ''}")
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached within {timeout_s} s"
                         + (f"; service log:\n{log.read_text()[-4000:]}" if log else ""))
