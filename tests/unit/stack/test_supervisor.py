"""`civicgrid run`'s supervisor: a service that dies is started again with back-off; one that finishes is done."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from civicgrid.stack.supervisor import STATE_FILE, Supervisor, read_states


def until(predicate, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_a_dying_service_is_restarted_with_doubling_back_off(tmp_path: Path) -> None:
    said: list[str] = []
    sup = Supervisor(tmp_path / "run", report=said.append, backoff_s=0.2, max_backoff_s=0.8, stable_after_s=60)
    sup.start("crashy", [sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "crashy.log")
    try:
        until(lambda: (sup.check(), sup.children["crashy"].state.restarts >= 4)[1], timeout_s=30)
    finally:
        sup.stop()
    waits = [line.rsplit("restarting in ", 1)[1] for line in said if "exited with code 3" in line]
    assert waits[:4] == ["0.2 s", "0.4 s", "0.8 s", "0.8 s"], said
    assert sum("crashy restarted (pid " in line for line in said) >= 4, said


def test_a_service_that_finishes_is_done_and_the_state_is_readable(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path / "run", report=lambda _: None, backoff_s=0.1)
    sup.start("sim", [sys.executable, "-c", "pass"], None)
    sup.start("api", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "api.log")
    try:
        until(lambda: (sup.check(), sup.children["sim"].state.state == "done")[1])
        states = {s.name: s for s in read_states(tmp_path / "run")}
        assert states["sim"].state == "done" and states["sim"].last_exit == 0 and states["sim"].restarts == 0
        assert states["api"].state == "running" and states["api"].pid == sup.pid("api")
    finally:
        sup.stop(timeout_s=5)
    assert not (tmp_path / "run" / STATE_FILE).exists()
    assert read_states(tmp_path / "run") is None
