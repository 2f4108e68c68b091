"""Camera snapshots analysed per second per core (1280×720), and cameras one gateway process can poll.

1. **Analysis**: snapshots of the simulated street (1280×720 JPEG, the scripted incidents
   mixed in) through `FrameAnalyzer` with two regions, in one thread: JPEG decode, tamper,
   occupancy, QR codes every 6th frame (the poller's default). Ceiling in the same run:
   JPEG decoding alone, which no analysis can beat.
2. **Polling**: `--cameras N` simulated ONVIF cameras (1280×720) in a separate process
   (frames pre-rendered so the simulator's drawing does not compete for the CPU), and the
   poller's `CameraWorker`s in this process, connected with onvif-zeep-async (WS-Security
   digest, PullPoint subscription), each taking a snapshot every 0.2 s and long-polling its
   PullPoint for 0.1 s at a time (the 10 s / 5 s operating point, 50× faster) for `--seconds`:
   every snapshot is fetched over HTTP Digest, decoded and analysed. The CPU time this
   process spends per snapshot gives the cameras one process can serve at one snapshot per
   10 s (``cameras_per_gateway`` = 10 s / CPU seconds per snapshot: one core's worth).
   Ceiling: bare HTTP snapshot fetches from the same simulators (aiohttp, no ONVIF, no analysis).

No platform stack is needed: a camera sends a few Kafka records a minute, and what limits a
poller is fetching and analysing frames; the records go to a counter here.
Last line: one JSON object (docs/performance.md, "How the benchmarks report").
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import aiohttp

# Run as `python bench/cameras.py`, bench/ is first on sys.path and bench/gateway.py shadows the
# `gateway` package: put the repository root there instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from civicgrid.settings import CameraSettings, Settings  # noqa: E402
from civicgrid.store.cameras import CameraEntry  # noqa: E402
from gateway.cameras.analysis import FrameAnalyzer, Roi, decode_jpeg  # noqa: E402
from gateway.cameras.poller import CameraWorker  # noqa: E402
from simulators.camera import CameraFleet, CameraSim, Scene  # noqa: E402

W, H = 1280, 720
PASSWORD = "bench-pass"


def frames_for(seed: int, count: int = 12) -> list[bytes]:
    """Snapshots of one camera, quiet and with incidents, for reuse."""
    clock = [0.0]
    scene = Scene(seed=seed, width=W, height=H, car_every_s=20.0, clock=lambda: clock[0])
    out = []
    for n in range(count):
        clock[0] = n * 10.0
        if n == 6:
            scene.add("object_left")
        out.append(scene.jpeg())
    return out


def analysis_rate(seconds: float) -> tuple[float, float]:
    frames = frames_for(1)
    scene = Scene(seed=1, width=W, height=H)
    rois = [Roi("stall", "stall", "E0504", tuple(map(tuple, scene.stall_roi())), 60.0),
            Roi("kerb", "kerb", "E0505", ((64, 590), (768, 590), (768, 705), (64, 705)), 60.0)]
    analyzer = FrameAnalyzer(rois)
    n, t0, now = 0, time.perf_counter(), 0.0
    while time.perf_counter() - t0 < seconds:
        now += 10.0
        analyzer.analyse(decode_jpeg(frames[n % len(frames)]), now)
        n += 1
    rate = n / (time.perf_counter() - t0)
    m, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds / 2:
        decode_jpeg(frames[m % len(frames)])
        m += 1
    return rate, m / (time.perf_counter() - t0)


def run_simulators(count: int, ports: mp.Queue, stop: mp.Event) -> None:
    async def main() -> None:
        cams = []
        for n in range(count):
            cam = CameraSim(f"bench-cam-{n}", "admin", PASSWORD, Scene(seed=n, width=W, height=H))
            cycle = frames_for(n, 6)
            cam.scene.jpeg = lambda t=None, c=cycle, i=[0]: c[(i.__setitem__(0, i[0] + 1) or i[0]) % len(c)]
            cams.append(cam)
        fleet = CameraFleet(cams)
        await fleet.start()
        ports.put([c.port for c in cams])
        await asyncio.to_thread(stop.wait)
        await fleet.stop()

    asyncio.run(main())


async def bare_fetch_rate(ports: list[int], seconds: float) -> float:
    count = 0
    deadline = time.monotonic() + seconds
    headers = {"Authorization": "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()}

    async def loop(port: int) -> None:
        nonlocal count
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                async with session.get(f"http://127.0.0.1:{port}/snapshot.jpg", headers=headers) as r:
                    await r.read()
                count += 1

    await asyncio.gather(*(loop(p) for p in ports))
    return count / seconds


async def poll(ports: list[int], seconds: float) -> tuple[float, float, int]:
    os.environ["CG_BENCH_CAM_PASSWORD"] = PASSWORD
    # The operating point's shape, 50× faster: a snapshot every 10 s with 5 s PullMessages long polls
    # is one snapshot and two pulls per camera per period; here 0.2 s and 0.1 s.
    settings = Settings(cameras=CameraSettings(snapshot_interval_s=0.2, pull_timeout_s=0.1, health_every_s=5.0))
    records = []
    workers = []
    for n, port in enumerate(ports):
        rois = [{"id": "stall", "name": "stall", "event_code": "E0504", "dwell_s": 60.0,
                 "polygon": [[179, 432], [563, 432], [563, 562], [179, 562]]}]
        entry = CameraEntry(f"bench-cam-{n}", "cam", f"http://127.0.0.1:{port}", "admin", "env:CG_BENCH_CAM_PASSWORD",
                            None, None, None, W, H, rois)
        workers.append(CameraWorker(entry, settings, lambda topic, key, value: records.append(topic)))
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    await asyncio.sleep(3.0)  # connect, subscribe, learn the background
    s0, c0, t0 = sum(w.health.snapshots for w in workers), time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    s1, c1, t1 = sum(w.health.snapshots for w in workers), time.process_time(), time.perf_counter()
    stop.set()
    await asyncio.gather(*tasks)
    return (s1 - s0) / (t1 - t0), (c1 - c0) / max(s1 - s0, 1), len(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cameras", type=int, default=8, help="simulated cameras polled at once")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each measurement")
    args = parser.parse_args()

    rate, decode_rate = analysis_rate(args.seconds / 2)
    print(f"analysis (1 thread, {W}×{H}): {rate:.1f} snapshots/s; JPEG decode alone (ceiling): {decode_rate:.1f}/s")

    ctx = mp.get_context("spawn")
    ports_q, stop = ctx.Queue(), ctx.Event()
    sims = ctx.Process(target=run_simulators, args=(args.cameras, ports_q, stop), daemon=True)
    sims.start()
    try:
        ports = ports_q.get(timeout=120)
        fetch_ceiling = asyncio.run(bare_fetch_rate(ports, args.seconds / 3))
        print(f"bare HTTP snapshot fetches from {len(ports)} simulated cameras (ceiling): {fetch_ceiling:.1f}/s")
        achieved, cpu_per_snapshot, records = asyncio.run(poll(ports, args.seconds))
    finally:
        stop.set()
        sims.join(15)
    per_gateway = 10.0 / cpu_per_snapshot
    print(f"poller, {len(ports)} cameras at one snapshot per 0.2 s: {achieved:.1f} snapshots/s, "
          f"{cpu_per_snapshot * 1000:.1f} ms CPU per snapshot (fetch + decode + analysis), {records} Kafka records")
    print(f"→ one gateway process (one core) polls about {per_gateway:.0f} cameras at one snapshot per 10 s "
          f"(measured rate × 10 s on this 2-core box, simulators included: {achieved * 10:.0f})")
    print(json.dumps({
        "frames_per_s": round(rate, 1),
        "ceiling_decode_frames_per_s": round(decode_rate, 1),
        "cameras_per_gateway": int(per_gateway),
        "cameras_measured_snapshots_per_s": round(achieved, 1),
        "cpu_ms_per_snapshot": round(cpu_per_snapshot * 1000, 1),
        "ceiling_fetch_snapshots_per_s": round(fetch_ceiling, 1),
        "cameras_simulated": len(ports),
        "resolution": f"{W}x{H}",
    }))


if __name__ == "__main__":
    main()
