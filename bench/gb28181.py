"""GB/T 28181 gateway throughput: keepalive MESSAGEs per second through one `civicgrid gb28181-gateway` process.

Method (all on this machine, against a throwaway stack this script starts):
1. `--devices` (500) gb28181-camera devices are provisioned; one `gb28181-gateway` process starts.
2. One load process registers each (the simulated device's own SIP code, simulators/gb28181_device.py, through
   the Digest challenge, over UDP), then every device sends its next Keepalive as soon as the last is answered
   (one outstanding each). Each answered keepalive is also a `cg.status` record (docs/gb28181.md).
3. After `--warmup-s`, the gateway's own count of status records Kafka acknowledged
   (civicgrid_gb28181_records_out_total{topic="cg.status"}) is read at the start and end of `--seconds`:
   keepalives_per_s is the difference over the time; the gateway's CPU over the window (from /proc) gives
   cpu_us_per_keepalive. The load process shares the machine's two cores with the gateway, Kafka and
   PostgreSQL, so the figure is a floor of what the gateway alone could do.

Last line: JSON with devices, keepalives_per_s, cpu_us_per_keepalive, produce_ack_ms.
A real camera keeps alive every 60 s: 10,000 cameras are about 170 keepalives a second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

# Run as `python bench/gb28181.py`, bench/ is first on sys.path and bench/gateway.py shadows the gateway package
# (as in bench/cameras.py): the repository goes first, bench/ after it for _measure.
BENCH = Path(__file__).resolve().parent
sys.path[0] = str(BENCH.parent)
sys.path.append(str(BENCH))

from _measure import cpu_seconds, metric  # noqa: E402

from civicgrid.broker.provisioning import add_devices  # noqa: E402
from civicgrid.stack.ephemeral import ephemeral_settings, free_ports, throwaway_stack  # noqa: E402
from civicgrid.stack.services import _spawn_healthy, stop_service  # noqa: E402
from civicgrid.store.db import connect  # noqa: E402
from gateway.gb28181.digest import sip_password  # noqa: E402
from simulators.gb28181_device import Device  # noqa: E402


def say(message: str) -> None:
    print(f"[gb28181 bench] {message}", file=sys.stderr, flush=True)


def load(devices: list[tuple[str, str]], port: int, run_s: float, registered: multiprocessing.Value,
         go: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    """The load process: every device registered, then keeping alive back to back until `run_s` after `go`."""

    async def one(device_id: str, password: str, ready: asyncio.Event, stop_at: list[float]) -> None:
        device = Device(device_id, password, timeout_s=30)
        await device.connect("127.0.0.1", port)
        await device.register()
        registered.value += 1
        await ready.wait()
        while time.monotonic() < stop_at[0]:
            await device.keepalive()
        await device.close()

    async def main() -> None:
        ready, stop_at = asyncio.Event(), [0.0]
        tasks = []
        for i in range(0, len(devices), 100):  # register in waves
            tasks += [asyncio.create_task(one(d, p, ready, stop_at)) for d, p in devices[i:i + 100]]
            while registered.value < min(i + 100, len(devices)):  # noqa: ASYNC110 - a count, polled
                await asyncio.sleep(0.05)
        while not go.is_set():  # noqa: ASYNC110 - a multiprocessing event
            await asyncio.sleep(0.05)
        stop_at[0] = time.monotonic() + run_s
        ready.set()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())


def statuses_acked(metrics_port: int) -> float:
    return metric(metrics_port, 'civicgrid_gb28181_records_out_total{topic="cg.status"}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--warmup-s", type=float, default=3.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--keep", action="store_true", help="keep the stack's directory for inspection")
    args = parser.parse_args()

    settings = ephemeral_settings(prefix="civicgrid-bench-")
    listen, metrics = free_ports(2)
    env = {"CIVICGRID_GB28181__LISTEN_HOST": "127.0.0.1", "CIVICGRID_GB28181__LISTEN_PORT": str(listen),
           "CIVICGRID_GB28181__METRICS_PORT": str(metrics)}
    ids = [f"34020000001320{i:06d}" for i in range(args.devices)]
    base = settings.stack.var_dir.parent
    with throwaway_stack(settings, keep=args.keep, progress=lambda m: say(f"stack {m}")):
        add_devices(settings, [(d, "gb28181-camera") for d in ids], broker=None)
        with connect(settings.db) as conn:
            hashes = dict(conn.execute("SELECT id, secret_hash FROM devices WHERE id = ANY(%s)", (ids,)).fetchall())
        devices = [(d, sip_password(d, hashes[d])) for d in ids]
        say(f"provisioned {len(devices)} devices")
        gateway = _spawn_healthy("gb28181-gateway", settings, base / "gb28181-gateway.log", metrics,
                                 "the gb28181 gateway", 30, env)
        try:
            registered, go = multiprocessing.Value("i", 0), multiprocessing.Event()
            proc = multiprocessing.Process(target=load, args=(devices, listen, args.warmup_s + args.seconds,
                                                              registered, go))
            proc.start()
            deadline = time.monotonic() + 600
            while registered.value < len(devices) and time.monotonic() < deadline:
                time.sleep(0.2)
            say(f"{registered.value} devices registered")
            go.set()
            time.sleep(args.warmup_s)
            t0, n0, c0 = time.monotonic(), statuses_acked(metrics), cpu_seconds(gateway.pid)
            time.sleep(args.seconds)
            t1, n1, c1 = time.monotonic(), statuses_acked(metrics), cpu_seconds(gateway.pid)
            total = metric(metrics, "civicgrid_gb28181_kafka_produce_seconds_sum")
            count = metric(metrics, "civicgrid_gb28181_kafka_produce_seconds_count")
            proc.join(120)
        finally:
            stop_service(gateway)
        rate = (n1 - n0) / (t1 - t0)
        cpu_us = (c1 - c0) / max(n1 - n0, 1) * 1e6
        produce_ms = total / count * 1000 if count else 0.0
        say(f"gateway: {rate:,.0f} keepalives/s, {cpu_us:.1f} µs CPU per keepalive, {produce_ms:.1f} ms "
            "produce → ack")
    print(json.dumps({"devices": args.devices, "keepalives_per_s": round(rate), "cpu_us_per_keepalive":
                      round(cpu_us, 1), "produce_ack_ms": round(produce_ms, 1), "seconds": args.seconds,
                      "cores": os.cpu_count()}))


if __name__ == "__main__":
    main()
