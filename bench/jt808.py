"""JT/T 808 gateway throughput: location reports per second through one `civicgrid jt808-gateway` process.

Method (all on this machine, against a throwaway stack this script starts):
1. `--terminals` (5,000) vehicle terminals are provisioned; one `jt808-gateway` process starts.
2. Load processes (`--loaders`, 1) open the terminals' TCP connections, register and authenticate each (the
   simulated terminal's own codec, simulators/jt808_terminal.py), then every terminal keeps `--window` (4)
   location reports (0x0200, 2013 edition, mileage item) outstanding: it sends the next one when the platform's
   general response, written only after Kafka took the record, comes back.
3. After `--warmup-s`, the gateway's own counter of track records Kafka acknowledged
   (civicgrid_jt808_records_out_total{topic="cg.tracks"}) is read at the start and end of `--seconds`:
   reports_per_s is the difference over the time. The gateway's CPU over the window (from /proc) gives
   cpu_us_per_report.
4. Ceiling, same run, same load: a bare asyncio server that cuts frames at 0x7e and answers each with a fixed
   frame (no unescaping, check code, parsing, registry, validation or Kafka).

Holding 5,000 connections costs two descriptors per terminal on this machine (the load process's and the
gateway's socket): the script raises its soft RLIMIT_NOFILE to the hard limit (inherited by the load processes
and the gateway) and stops with a clear message when even that is short. `--profile DIR` samples the gateway
with py-spy over the measured window (bench/_profile.py) and adds its top functions to the JSON.

Last line: JSON with terminals, reports_per_s, ceiling_reports_per_s, ratio, cpu_us_per_report (docs/jt808.md).
The goal (issue 23): ≥ 10,000 reports/s per process with 5,000 connected terminals.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))
import _profile
from _measure import cpu_seconds, metric

from civicgrid.broker.provisioning import add_devices
from civicgrid.stack.ephemeral import ephemeral_settings, free_ports, throwaway_stack
from civicgrid.stack.services import spawn_jt808_gateway, stop_service
from simulators.jt808_terminal import LOCATION, Fix, Terminal, frame

FIXED_ANSWER = bytes.fromhex("7e8001000501380000000100010001020000008a7e")  # any well-formed 0x8001


def say(message: str) -> None:
    print(f"[jt808 bench] {message}", file=sys.stderr, flush=True)


async def _terminal(phone: str, host: str, port: int, window: int, stop_at: float, authenticate: bool,
                    ready: asyncio.Event, counts: list[int]) -> None:
    terminal = Terminal(phone, timeout_s=120)
    await terminal.connect(host, port)
    if authenticate:
        await terminal.authenticate(await terminal.register())
    reader, writer = terminal.streams()
    counts[1] += 1
    await ready.wait()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    serial, sent, flags = 100, 0, 0
    while time.monotonic() < stop_at:
        while sent - flags // 2 < window:  # each answer is one frame: two 0x7e, none inside (escaped)
            serial = (serial + 1) & 0xFFFF
            fix = Fix(116.9 + (sent % 1000) * 1e-5, 31.4, start + timedelta(seconds=sent), speed_kmh=40,
                      mileage_km=1000 + sent / 100)
            writer.write(frame(LOCATION, phone, serial, fix.body()))
            sent += 1
        try:
            chunk = await reader.read(65536)
        except ConnectionError:
            return
        if not chunk:
            return
        before = flags // 2
        flags += chunk.count(b"\x7e")
        counts[0] += flags // 2 - before
    writer.close()


def load(phones: list[str], host: str, port: int, window: int, run_s: float, authenticate: bool,
         connected: multiprocessing.Value, go: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    """One load process: its terminals, connected, authenticated, then reporting until `run_s` after `go`."""

    async def main() -> None:
        counts = [0, 0]
        ready = asyncio.Event()
        deadline = time.monotonic() + 10 * run_s + 600
        tasks = []
        for i in range(0, len(phones), 200):  # connect in waves, not 5,000 handshakes at once
            tasks += [asyncio.create_task(_terminal(p, host, port, window, deadline, authenticate, ready, counts))
                      for p in phones[i:i + 200]]
            while counts[1] < min(i + 200, len(phones)):  # noqa: ASYNC110 - a count, polled
                await asyncio.sleep(0.05)
        connected.value += counts[1]
        while not go.is_set():  # noqa: ASYNC110 - a multiprocessing event
            await asyncio.sleep(0.05)
        ready.set()
        await asyncio.sleep(run_s)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())


def run_load(phones: list[str], port: int, loaders: int, window: int, run_s: float, authenticate: bool,
             ) -> tuple[list[multiprocessing.Process], multiprocessing.Event]:  # type: ignore[valid-type]
    connected = multiprocessing.Value("i", 0)
    go = multiprocessing.Event()
    procs = [multiprocessing.Process(target=load, args=(phones[i::loaders], "127.0.0.1", port, window, run_s,
                                                       authenticate, connected, go)) for i in range(loaders)]
    for p in procs:
        p.start()
    deadline = time.monotonic() + 600
    while connected.value < len(phones) and time.monotonic() < deadline:
        time.sleep(0.2)
    say(f"{connected.value} terminals connected{' and authenticated' if authenticate else ''}")
    go.set()
    return procs, go


def tracks_acked(metrics_port: int) -> float:
    return metric(metrics_port, 'civicgrid_jt808_records_out_total{topic="cg.tracks"}')


def produce_ms(metrics_port: int) -> float:
    """The gateway's mean time from produce to Kafka's acknowledgement so far."""
    total = metric(metrics_port, "civicgrid_jt808_kafka_produce_seconds_sum")
    count = metric(metrics_port, "civicgrid_jt808_kafka_produce_seconds_count")
    return total / count * 1000 if count else 0.0


def bare_server(port: int, answered: multiprocessing.Value) -> None:  # type: ignore[valid-type]
    """The ceiling: frames cut at 0x7e and each answered with a fixed frame, nothing else."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while chunk := await reader.read(65536):
            n = chunk.count(b"\x7e") // 2
            writer.write(FIXED_ANSWER * n)
            answered.value += n  # one process, one thread: no lock needed

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def measure_ceiling(phones: list[str], args: argparse.Namespace) -> float:
    """The same load against `bare_server`; its rate from the answers it wrote."""
    (port,) = free_ports(1)
    answered = multiprocessing.Value("q", 0, lock=False)
    server = multiprocessing.Process(target=bare_server, args=(port, answered), daemon=True)
    server.start()
    time.sleep(0.5)
    procs, _ = run_load(phones, port, args.loaders, args.window, args.warmup_s + args.seconds, False)
    time.sleep(args.warmup_s)
    t0, n0 = time.monotonic(), answered.value
    time.sleep(args.seconds)
    t1, n1 = time.monotonic(), answered.value
    for p in procs:
        p.join(60)
    server.terminate()
    return (n1 - n0) / (t1 - t0)


def _bytes_written(pid: int) -> int:
    """Bytes a process wrote to its sockets (/proc/PID/io wchar counts every write())."""
    text = Path(f"/proc/{pid}/io").read_text()
    return int(re.search(r"wchar: (\d+)", text).group(1))  # type: ignore[union-attr]


def raise_fd_limit(terminals: int, loaders: int) -> int:
    """Soft RLIMIT_NOFILE up to the hard limit; each process of the run needs its share of the terminals'
    sockets plus a margin (Kafka, PostgreSQL, logs). Returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = terminals // max(loaders, 1) + terminals // max(loaders, 1) // 10 + 512
    target = need if hard == resource.RLIM_INFINITY else min(max(soft, need), hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < need + terminals // 10:
        raise SystemExit(f"open-file limit {target} is short of the {need} a process of this run needs for "
                         f"{terminals} terminals: raise the hard limit (ulimit -Hn, LimitNOFILE=) or use more "
                         "--loaders")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terminals", type=int, default=5000)
    parser.add_argument("--window", type=int, default=4, help="reports outstanding per terminal")
    parser.add_argument("--loaders", type=int, default=1, help="load-generating processes")
    parser.add_argument("--warmup-s", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--keep", action="store_true", help="keep the stack's directory for inspection")
    parser.add_argument("--no-ceiling", action="store_true")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy the gateway into this directory")
    args = parser.parse_args()
    say(f"open-file limit {raise_fd_limit(args.terminals, args.loaders)}")

    settings = ephemeral_settings(prefix="civicgrid-bench-")
    listen, metrics = free_ports(2)
    settings = settings.model_copy(update={"jt808": settings.jt808.model_copy(update={
        "listen_host": "127.0.0.1", "listen_port": listen, "metrics_port": metrics,
        "max_connections": max(20000, args.terminals + 100)})})
    phones = [f"1330{i:07d}" for i in range(args.terminals)]
    base = settings.stack.var_dir.parent
    with throwaway_stack(settings, keep=args.keep, progress=lambda m: say(f"stack {m}")):
        add_devices(settings, [(p, "vehicle-terminal") for p in phones], broker=None)
        say(f"provisioned {len(phones)} terminals")
        gateway = spawn_jt808_gateway(settings, base / "jt808-gateway.log")
        try:
            procs, _ = run_load(phones, listen, args.loaders, args.window, args.warmup_s + args.seconds, True)
            time.sleep(args.warmup_s)
            t0, n0, c0 = time.monotonic(), tracks_acked(metrics), cpu_seconds(gateway.pid)
            spy = None
            if args.profile is not None:
                args.profile.mkdir(parents=True, exist_ok=True)
                spy = _profile.start(gateway.pid, args.profile / "jt808-gateway.txt", args.seconds)
            time.sleep(args.seconds)
            t1, n1, c1 = time.monotonic(), tracks_acked(metrics), cpu_seconds(gateway.pid)
            kafka_ms = produce_ms(metrics)
            if spy is not None:
                spy.wait(60)
            for p in procs:
                p.join(120)
        finally:
            stop_service(gateway)
        rate = (n1 - n0) / (t1 - t0)
        cpu_us = (c1 - c0) / max(n1 - n0, 1) * 1e6
        say(f"gateway: {rate:,.0f} reports/s, {cpu_us:.1f} µs CPU per report, {kafka_ms:.1f} ms produce → ack")
    ceiling = None if args.no_ceiling else measure_ceiling(phones, args)
    if ceiling is not None:
        say(f"bare frame server: {ceiling:,.0f} reports/s")
    print(json.dumps({
        "terminals": args.terminals, "reports_per_s": round(rate),
        "ceiling_reports_per_s": None if ceiling is None else round(ceiling),
        "ratio": None if not ceiling else round(rate / ceiling, 3), "cpu_us_per_report": round(cpu_us, 1),
        "produce_ack_ms": round(kafka_ms, 1),
        "window": args.window, "loaders": args.loaders, "seconds": args.seconds, "cores": os.cpu_count(),
        **({"profile": _profile.top(args.profile / "jt808-gateway.txt")} if args.profile is not None
           and (args.profile / "jt808-gateway.txt").exists() else {}),
    }))


if __name__ == "__main__":
    main()
