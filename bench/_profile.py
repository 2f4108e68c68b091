"""Sample a running service with py-spy and say where its CPU goes, by function (its own time and with callees).

Used by `bench/e2e.py --profile`: py-spy attaches to the gateway and the worker from outside (no code in
the services), samples for the step's hold, and writes raw collapsed stacks; this module reads them back
and ranks functions by the share of samples in which they are on the CPU themselves (self) and anywhere on
the stack (total). Idle samples (threads waiting in select/poll/sleep) are dropped (py-spy --idle is off).
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path


def start(pid: int, out: Path, seconds: float, rate_hz: int = 100, *, idle: bool = False) -> subprocess.Popen[bytes]:
    """py-spy record on `pid` (and its subprocesses) for `seconds`, raw collapsed stacks into `out`; `idle` keeps
    the samples of threads that wait (where wall time goes rather than CPU time), one stack per thread."""
    spy = Path(sys.executable).with_name("py-spy")
    extra = ["--idle", "--threads"] if idle else []
    return subprocess.Popen([str(spy), "record", "--pid", str(pid), "--duration", str(round(seconds)),
                             "--rate", str(rate_hz), "--format", "raw", "--output", str(out), "--subprocesses",
                             "--nonblocking", *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def top(collapsed: Path, n: int = 12) -> list[dict[str, object]]:
    """The `n` functions with the most self time: name, file:line-less place, self and total shares of samples."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_name(f) for f in stack.split(";")[1:]]  # the first frame is the process/thread
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    if not samples:
        return []
    return [{"function": name, "self": round(c / samples, 3), "total": round(total[name] / samples, 3)}
            for name, c in own.most_common(n)]


def _name(frame: str) -> str:
    """`func (path/to/module.py:123)` → `func (module.py)`: one entry per function, not per line."""
    func, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    return f"{func} ({'/'.join(Path(path).parts[-2:])})" if path else func
