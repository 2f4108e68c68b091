"""Process supervision: pid files, stale detection, graceful stop, early exit with the log's tail."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest

from civicgrid.stack.process import ManagedProcess, StackError, port_is_free


def _proc(tmp_path: Path) -> ManagedProcess:
    return ManagedProcess("sleeper", tmp_path / "run", tmp_path / "log" / "sleeper.log")


def test_start_records_the_pid_and_stop_removes_it(tmp_path: Path) -> None:
    proc = _proc(tmp_path)
    pid = proc.start(["/bin/sleep", "60"], cwd=tmp_path)
    assert proc.pid() == pid
    assert proc.stop()
    assert proc.pid() is None
    assert not proc.pid_path.exists()


def test_a_killed_process_leaves_a_stale_pid_file_that_is_cleaned(tmp_path: Path) -> None:
    proc = _proc(tmp_path)
    pid = proc.start(["/bin/sleep", "60"], cwd=tmp_path)
    os.kill(pid, signal.SIGKILL)
    proc._popen.wait()
    assert proc.has_stale_pid_file()
    assert proc.pid() is None
    assert not proc.pid_path.exists()


def test_a_pid_reused_by_another_program_is_not_trusted(tmp_path: Path) -> None:
    proc = _proc(tmp_path)
    proc.pid_path.parent.mkdir(parents=True)
    proc.pid_path.write_text(f"{os.getpid()}\n/usr/sbin/mosquitto\n")  # our pid, someone else's program
    assert proc.pid() is None


def test_stop_escalates_to_sigkill_when_the_process_ignores_sigterm(tmp_path: Path) -> None:
    proc = _proc(tmp_path)
    proc.start(["/bin/sh", "-c", "trap '' TERM; sleep 60"], cwd=tmp_path)
    time.sleep(0.2)
    assert proc.stop(timeout_s=0.5)
    assert proc._popen.poll() is not None


def test_early_exit_fails_with_the_log_tail(tmp_path: Path) -> None:
    proc = _proc(tmp_path)
    proc.start(["/bin/sh", "-c", "echo 'config error on line 3' >&2; exit 3"], cwd=tmp_path)
    with pytest.raises(StackError, match=r"(?s)exited with code 3.*config error on line 3"):
        proc.wait_ready(lambda: False, timeout_s=5, what="anything")


def test_no_answer_in_time_stops_the_process_and_says_so(tmp_path: Path) -> None:
    proc = _proc(tmp_path)
    proc.start(["/bin/sleep", "60"], cwd=tmp_path)
    with pytest.raises(StackError, match="did not answer a greeting within"):
        proc.wait_ready(lambda: False, timeout_s=0.3, what="a greeting")
    assert proc.pid() is None


def test_port_is_free_sees_a_listener() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert not port_is_free("127.0.0.1", s.getsockname()[1])
