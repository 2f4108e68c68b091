"""Run platform services as real subprocesses for end-to-end and kill tests."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

from civicgrid.settings import Settings
from civicgrid.stack.services import spawn_service, stop_service

__all__ = ["start_api", "start_service", "stop_service", "wait_for"]

T = TypeVar("T")


start_service = spawn_service


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


def start_api(settings: Settings, log: Path) -> tuple[subprocess.Popen, str]:
    """`civicgrid api` as a process on `settings.api.port`, once it answers /healthz: (process, base URL)."""
    proc = start_service("api", settings, log)
    base = f"http://127.0.0.1:{settings.api.port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, 60, "the API answering /healthz", proc, log)
    except BaseException:
        stop_service(proc)
        raise
    return proc, base
