"""Sample the stack's Kafka with Java Flight Recorder and say where its CPU goes: by thread kind, by request type,
and by method.

Used by `bench/e2e.py --profile` beside py-spy's view of the Python services (bench/_profile.py): `jcmd` starts a
recording in the running broker for the step's hold (no option at the broker's start, no agent to install; JFR is
part of the JDK), and `jfr print --json` reads its execution samples back. A sample of a request handler thread
is put under the `KafkaApis.handle…` method on its stack (Produce, Fetch, OffsetCommit, …), so the shares say which
requests cost the broker its CPU; the thread kinds (network, request handlers, KRaft, purgatory reapers, group
coordinator) say the rest. JFR samples threads running Java code only: the JIT compiler's and the garbage
collector's own threads are not in these shares (their CPU is in /proc, per thread).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from pathlib import Path

_DIGITS = re.compile(r"\d+")


def start(pid: int, out: Path, seconds: float) -> None:
    """A recording of `seconds` in the JVM `pid`, written to `out` when it ends (the call returns at once)."""
    subprocess.run(["jcmd", str(pid), "JFR.start", f"name=bench-{out.stem}", f"duration={round(seconds)}s",
                    f"filename={out}", "settings=profile"], check=True, capture_output=True, timeout=60)


def summary(recording: Path, n: int = 12) -> dict[str, object]:
    """Shares of the execution samples by thread kind, by request type, and the `n` methods most on the CPU."""
    printed = subprocess.run(["jfr", "print", "--json", "--events", "jdk.ExecutionSample", "--stack-depth", "96",
                              str(recording)], check=True, capture_output=True, timeout=300).stdout
    events = json.loads(printed)["recording"]["events"]
    threads: Counter[str] = Counter()
    requests: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for event in events:
        values = event["values"]
        thread = _DIGITS.sub("N", (values.get("sampledThread") or {}).get("javaName") or "?")
        frames = [_method(f) for f in (values.get("stackTrace") or {}).get("frames", [])]
        threads[thread] += 1
        if frames:
            own[frames[0]] += 1
        handler = next((f for f in frames if f.startswith("KafkaApis.handle") and f != "KafkaApis.handle"), None)
        if handler is not None:
            requests[handler.removeprefix("KafkaApis.handle")] += 1
    total = len(events) or 1
    return {"samples": len(events),
            "threads": {name: round(c / total, 3) for name, c in threads.most_common(n)},
            "requests": {name: round(c / total, 3) for name, c in requests.most_common(n)},
            "methods": {name: round(c / total, 3) for name, c in own.most_common(n)}}


def _method(frame: dict) -> str:
    """`Class.method`, without the package: `KafkaApis.handleFetchRequest`."""
    method = frame.get("method") or {}
    cls = ((method.get("type") or {}).get("name") or "?").rsplit("/", 1)[-1]
    return f"{cls}.{method.get('name', '?')}"


def thread_cpu(pid: int) -> Counter[str]:
    """CPU seconds so far of the JVM's threads by kind (digits folded: `C2 CompilerThreN`, `GC Thread#N`), from
    /proc: the JIT's and the collector's threads too, which JFR does not sample."""
    ticks: Counter[str] = Counter()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
            name = (task / "comm").read_text().strip()
        except OSError:
            continue  # the thread ended meanwhile
        fields = stat.rsplit(")", 1)[1].split()
        ticks[_DIGITS.sub("N", name)] += int(fields[11]) + int(fields[12])  # utime, stime
    return Counter({name: t / 100 for name, t in ticks.items()})  # USER_HZ
