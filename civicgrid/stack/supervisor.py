"""The platform's own services under ``civicgrid run``: started, watched, restarted with back-off when they die.

One service that dies (a crash, the kernel's OOM killer, a bug a hostile
payload found) must not stop the others: the supervisor starts it again after
``backoff_s``, doubling up to ``max_backoff_s`` while it keeps dying, and back
to the first wait once it has run ``stable_after_s``.  A service that exits 0
on its own (the simulated city's run is over) is done, not restarted.

What each service is doing is written to ``<var>/run/services.json`` at every
change, so ``civicgrid status`` in another terminal shows it: pid, state
(running, waiting to restart, done), restarts, last exit code.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

STATE_FILE = "services.json"


@dataclass
class ServiceState:
    name: str
    pid: int | None = None
    state: str = "starting"  # running | restarting | done | stopped
    restarts: int = 0
    last_exit: int | None = None
    started_at: float | None = None
    restart_at: float | None = None  # wall time of the next start while restarting


@dataclass
class _Child:
    argv: list[str]
    log: Path | None  # None: the terminal's (the simulated city's live summary)
    env: dict[str, str] | None
    state: ServiceState
    proc: subprocess.Popen[bytes] | None = None
    backoff_s: float = 0.0
    started_mono: float = 0.0
    restart_mono: float | None = None


@dataclass
class Supervisor:
    run_dir: Path
    report: Callable[[str], None] = print
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    stable_after_s: float = 60.0
    children: dict[str, _Child] = field(default_factory=dict)

    # -- start / watch ---------------------------------------------------------------
    def start(self, name: str, argv: list[str], log: Path | None, env: dict[str, str] | None = None) -> None:
        child = _Child(argv, log, env, ServiceState(name), backoff_s=self.backoff_s)
        self.children[name] = child
        self._spawn(child)

    def check(self) -> None:
        """Notice exits, restart what is due; call every second or two."""
        now = time.monotonic()
        for name, child in self.children.items():
            proc, state = child.proc, child.state
            if proc is not None and proc.poll() is not None:
                state.last_exit, child.proc, state.pid = proc.returncode, None, None
                if proc.returncode == 0:
                    state.state = "done"
                    self.report(f"{name} finished")
                else:
                    if now - child.started_mono >= self.stable_after_s:
                        child.backoff_s = self.backoff_s  # it had been running fine: a fresh failure
                    child.restart_mono = now + child.backoff_s
                    state.state, state.restart_at = "restarting", time.time() + child.backoff_s
                    where = f" (see {child.log})" if child.log else ""
                    self.report(f"{name} exited with code {proc.returncode}{where}; "
                                f"restarting in {child.backoff_s:g} s")
                    child.backoff_s = min(child.backoff_s * 2, self.max_backoff_s)
                self._write()
            elif state.state == "restarting" and child.restart_mono is not None and now >= child.restart_mono:
                state.restarts += 1
                self._spawn(child)
                self.report(f"{name} restarted (pid {state.pid}, restart {state.restarts})")

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGINT (the services' graceful stop) in reverse start order, SIGKILL after `timeout_s`."""
        for child in reversed(list(self.children.values())):
            if child.proc is not None and child.proc.poll() is None:
                child.proc.send_signal(signal.SIGINT)
                try:
                    child.proc.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    child.proc.kill()
                    child.proc.wait()
            child.state.state, child.state.pid = "stopped", None
        self._write()
        (self.run_dir / STATE_FILE).unlink(missing_ok=True)

    def pid(self, name: str) -> int | None:
        child = self.children.get(name)
        return None if child is None or child.proc is None else child.proc.pid

    # -- internals -----------------------------------------------------------------------
    def _spawn(self, child: _Child) -> None:
        env = None if child.env is None else {**os.environ, **child.env}
        # Each in its own session: a Ctrl-C in the terminal reaches only `civicgrid run`, which stops them in order.
        if child.log is None:
            child.proc = subprocess.Popen(child.argv, start_new_session=True, env=env)
        else:
            child.log.parent.mkdir(parents=True, exist_ok=True)
            with child.log.open("ab") as out:
                child.proc = subprocess.Popen(child.argv, stdout=out, stderr=subprocess.STDOUT,
                                              start_new_session=True, env=env)
        child.started_mono, child.restart_mono = time.monotonic(), None
        state = child.state
        state.pid, state.state, state.started_at, state.restart_at = child.proc.pid, "running", time.time(), None
        self._write()

    def _write(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        body = {"supervisor_pid": os.getpid(), "services": [asdict(c.state) for c in self.children.values()]}
        tmp = self.run_dir / f".{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(body, indent=1))
        tmp.replace(self.run_dir / STATE_FILE)


def read_states(run_dir: Path) -> list[ServiceState] | None:
    """The services of a running `civicgrid run` (None when none runs, or its state file is stale)."""
    try:
        body = json.loads((run_dir / STATE_FILE).read_text())
        os.kill(int(body["supervisor_pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return [ServiceState(**s) for s in body["services"]]
