"""Start and stop platform services (`civicgrid <command>`) as subprocesses with given settings.

Used by `civicgrid run`'s children, the end-to-end tests and the benchmarks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from civicgrid.settings import Settings
from civicgrid.stack.ephemeral import as_environment


def spawn_service(command: str, settings: Settings, log: Path) -> subprocess.Popen:
    """`civicgrid <command>` with `settings` (as CIVICGRID_* variables), output appended to `log`."""
    env = {**os.environ, **as_environment(settings)}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "civicgrid.cli", command], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop_service(proc: subprocess.Popen, timeout_s: float = 30) -> None:
    """SIGINT (the services' graceful stop), then SIGKILL after `timeout_s`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
