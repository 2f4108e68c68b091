"""Camera snapshots analysed per second per core (1280×720), and cameras one gateway process can poll.

1. **Analysis**: snapshots of the simulated street (1280×720 JPEG, the scripted incidents
   mixed in) through `FrameAnalyzer.analyse_jpeg` with two regions, in one thread, as the
   poller calls it: reduced-scale grey decode, tamper, occupancy, QR codes every 6th frame
   (the poller's default; read again only in the areas that changed since the last read,
   ``qr_area_reads``; the worst case, a whole read each time, costs ``stage_ms.qr_full_frame``
   / 6 more per snapshot). Ceilings in the same run: JPEG decoding alone, in colour at full
   size (what the analysis decoded before) and in grey at half scale (what it decodes now).
   Then the CPU milliseconds of each step on one frame (``stage_ms``), where the time goes.
2. **Polling**: `--cameras N` simulated ONVIF cameras (1280×720) in a separate process
   (frames pre-rendered so the simulator's drawing does not compete for the CPU), and the
   poller's `CameraWorker`s in this process, connected with onvif-zeep-async (WS-Security
   digest, PullPoint subscription), each taking a snapshot every 0.2 s and long-polling its
   PullPoint for 0.1 s at a time (the 10 s / 5 s operating point, 50× faster) for `--seconds`:
   every snapshot is fetched over HTTP Digest, decoded and analysed. The CPU time this
   process spends per snapshot gives the cameras one process can serve at one snapshot per
   10 s (``cameras_per_gateway`` = 10 s / CPU seconds per snapshot: one core's worth).
   Ceiling: bare HTTP snapshot fetches from the same simulators (aiohttp, no ONVIF, no analysis).
3. **Memory per camera**, and a larger fleet: the poller's resident memory (RSS) grows by
   this much per camera it polls: `--cameras` workers first, then `--memory-cameras` more (a
   snapshot every `--fleet-interval` s, PullMessages of half that, two ROIs each), each
   measured once every camera has analysed 3 snapshots (so its background models exist); the
   difference over the added cameras. One-off costs (WSDLs, libraries, thread pool) are in
   the first figure and not in the difference. Then the CPU per snapshot of that whole fleet
   over `--seconds` (``fleet_cpu_ms_per_snapshot``): the same figure as 2. at many cameras
   and a slower pace, so per-camera costs that do not scale with snapshots (timers, long
   polls, tasks) show; `--fleet-interval 10` is the real operating point. This phase runs in
   a process of its own (memory freed by the others would be reused and hide the growth), and
   so does a count of the analysis state alone: RSS growth per `FrameAnalyzer` (two regions,
   after 4 snapshots), ``analyzer_kb``.

No platform stack is needed: a camera sends a few Kafka records a minute, and what limits a
poller is fetching and analysing frames; the records go to a counter here.
Last line: one JSON object (docs/performance.md, "How the benchmarks report").
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import aiohttp
import cv2
import numpy as np

# Run as `python bench/cameras.py`, bench/ is first on sys.path and bench/gateway.py shadows the
# `gateway` package: put the repository root there instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from civicgrid.labels import read_qr_codes  # noqa: E402
from civicgrid.settings import CameraSettings, Settings  # noqa: E402
from civicgrid.store.cameras import CameraEntry  # noqa: E402
from gateway.cameras.analysis import FrameAnalyzer, Roi, normalise, rois_from_json, sharpness  # noqa: E402
from gateway.cameras.decoding import decode_grey, decode_jpeg  # noqa: E402
from gateway.cameras.onvif_client import snapshot_pool  # noqa: E402
from gateway.cameras.poller import CONNECTS_AT_ONCE, CameraWorker  # noqa: E402
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


ROIS = [{"id": "stall", "name": "stall", "event_code": "E0504", "dwell_s": 60.0,
         "polygon": [[179, 432], [563, 432], [563, 562], [179, 562]]},
        {"id": "kerb", "name": "kerb", "event_code": "E0505", "dwell_s": 60.0,
         "polygon": [[64, 590], [768, 590], [768, 705], [64, 705]]}]


def analysis_rate(seconds: float) -> dict:
    """Snapshots analysed per second of one thread, and the decoding ceilings (per second of CPU)."""
    frames = frames_for(1)
    scene = Scene(seed=1, width=W, height=H)
    rois = [Roi("stall", "stall", "E0504", tuple(map(tuple, scene.stall_roi())), 60.0),
            Roi("kerb", "kerb", "E0505", ((64, 590), (768, 590), (768, 705), (64, 705)), 60.0)]
    analyzer = FrameAnalyzer(rois)
    n, t0, now = 0, time.perf_counter(), 0.0
    while time.perf_counter() - t0 < seconds:
        now += 10.0
        analyzer.analyse_jpeg(frames[n % len(frames)], now)
        n += 1
    rate = n / (time.perf_counter() - t0)

    def per_s(decode) -> float:
        m, c0 = 0, time.process_time()
        while time.process_time() - c0 < seconds / 4:
            decode(frames[m % len(frames)])
            m += 1
        return m / (time.process_time() - c0)

    return {"frames_per_s": round(rate, 1), "frames_analysed": n, "orb_runs": analyzer.orb_runs,
            "qr_whole_reads": analyzer.labels.full_reads, "qr_area_reads": analyzer.labels.area_reads,
            "ceiling_decode_frames_per_s": round(per_s(decode_jpeg), 1),
            "ceiling_reduced_decode_frames_per_s": round(per_s(decode_grey), 1)}


def stage_costs(repeat: int = 30) -> dict[str, float]:
    """CPU ms of each step of one 1280×720 snapshot's analysis (process time: OpenCV's own threads count)."""
    jpeg = frames_for(1, 1)[0]
    full, _ = decode_grey(jpeg, full=True)
    grey, _ = decode_grey(jpeg)
    norm = normalise(grey)
    thumb = cv2.resize(norm, (320, 180), interpolation=cv2.INTER_AREA)
    ref, cur = thumb.astype(np.float32), thumb.astype(np.float32)
    window = cv2.createHanningWindow((320, 180), cv2.CV_32F)
    orb, matcher = cv2.ORB_create(nfeatures=500), cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
    _, desc = orb.detectAndCompute(norm, None)
    mog2 = cv2.createBackgroundSubtractorMOG2(history=500, varThreshold=36.0, detectShadows=False)
    mog2.setNMixtures(3)
    steps = {
        "decode_colour_full": lambda: decode_jpeg(jpeg),
        "decode_grey_half": lambda: decode_grey(jpeg),
        "decode_grey_full_qr_turn": lambda: decode_grey(jpeg, full=True),
        "stats_normalise_sharpness": lambda: (cv2.meanStdDev(grey), normalise(grey), sharpness(norm)),
        "steadiness_phase_correlation": lambda: cv2.phaseCorrelate(ref, cur, window),
        "orb_detect_match": lambda: matcher.match(desc, orb.detectAndCompute(norm, None)[1]),
        "mog2_two_regions": lambda: (mog2.apply(thumb[108:140, 32:384], learningRate=0.005),
                                     mog2.apply(thumb[108:140, 32:384], learningRate=0.005)),
        "qr_full_frame": lambda: read_qr_codes(full),
    }
    out = {}
    for name, step in steps.items():
        step()
        n = max(3, repeat // 6) if name == "qr_full_frame" else repeat
        c0 = time.process_time()
        for _ in range(n):
            step()
        out[name] = round((time.process_time() - c0) / n * 1000, 2)
    return out


def rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024


class Replay:
    """What a simulated camera needs of a `Scene`, replaying pre-rendered snapshots in a loop: the
    simulators' drawing must not compete with the poller for the CPU, and a fleet of hundreds shares
    8 cycles of frames rather than rendering (and holding) a street each."""

    def __init__(self, frames: list[bytes]) -> None:
        self.frames, self.n = frames, 0
        self.width, self.height, self.quality = W, H, 85
        self.incidents: list = []
        self.clock = time.time

    def jpeg(self, t: float | None = None) -> bytes:
        self.n += 1
        return self.frames[self.n % len(self.frames)]


def run_simulators(count: int, ports: mp.Queue, stop: mp.Event) -> None:
    async def main() -> None:
        cycles = [frames_for(n, 6) for n in range(min(count, 8))]
        cams = [CameraSim(f"bench-cam-{n}", "admin", PASSWORD, Replay(cycles[n % len(cycles)]))  # type: ignore[arg-type]
                for n in range(count)]
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
    http = snapshot_pool()  # one pool for every camera's snapshots, as CameraPoller does
    slots = asyncio.Semaphore(CONNECTS_AT_ONCE)
    workers = [CameraWorker(entry(n, port), settings, lambda topic, key, value: records.append(topic), http=http,
                            connect_slots=slots) for n, port in enumerate(ports)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    await asyncio.sleep(3.0)  # connect, subscribe, learn the background
    s0, c0, t0 = sum(w.health.snapshots for w in workers), time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    s1, c1, t1 = sum(w.health.snapshots for w in workers), time.process_time(), time.perf_counter()
    stop.set()
    await asyncio.gather(*tasks)
    await http.close()
    return (s1 - s0) / (t1 - t0), (c1 - c0) / max(s1 - s0, 1), len(records)


def entry(n: int, port: int) -> CameraEntry:
    return CameraEntry(f"bench-cam-{n}", "cam", f"http://127.0.0.1:{port}", "admin", "env:CG_BENCH_CAM_PASSWORD",
                       None, None, None, W, H, ROIS)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def fleet(ports: list[int], first: int, interval_s: float, seconds: float, sims_pid: int) -> dict:
    """RSS MB with `first` cameras polled, KB more per camera beyond them, then the whole fleet's CPU per
    snapshot."""
    os.environ["CG_BENCH_CAM_PASSWORD"] = PASSWORD
    settings = Settings(cameras=CameraSettings(snapshot_interval_s=interval_s, pull_timeout_s=interval_s / 2,
                                               health_every_s=30.0))
    http = snapshot_pool()
    slots = asyncio.Semaphore(CONNECTS_AT_ONCE)
    stop = asyncio.Event()
    workers: list[CameraWorker] = []
    tasks = []

    async def grow_to(count: int) -> float:
        for n in range(len(workers), count):
            workers.append(CameraWorker(entry(n, ports[n]), settings, lambda topic, key, value: None, http=http,
                                        connect_slots=slots))
            tasks.append(asyncio.create_task(workers[-1].run(stop)))
        deadline = time.monotonic() + 60 + 4 * interval_s
        while min(w.health.snapshots for w in workers) < 3 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.5)  # polled: the workers have no event for "analysed 3 snapshots"
        return rss_mb()

    try:
        base = await grow_to(first)
        grown = await grow_to(len(ports))
        per_camera = [w.health.snapshots for w in workers]
        s0, c0, t0 = sum(per_camera), time.process_time(), time.perf_counter()
        sim0 = cpu_s(sims_pid)
        await asyncio.sleep(seconds)
        s1, c1, t1 = sum(w.health.snapshots for w in workers), time.process_time(), time.perf_counter()
        sim1 = cpu_s(sims_pid)
        taken = sorted(w.health.snapshots - before for w, before in zip(workers, per_camera, strict=True))
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await http.close()
    return {"rss_mb_first_cameras": round(base), "memory_per_camera_kb": round((grown - base) * 1024 /
                                                                                max(len(ports) - first, 1)),
            "fleet_cameras": len(workers), "fleet_interval_s": interval_s,
            "fleet_snapshots_per_s": round((s1 - s0) / (t1 - t0), 1),
            "fleet_snapshots_per_s_due": round(len(workers) / interval_s, 1),
            # snapshots each camera took in the window: fewest, median, most (all alike: every camera late alike)
            "fleet_snapshots_per_camera_min_median_max": [taken[0], taken[len(taken) // 2], taken[-1]],
            "fleet_poller_cpu_share": round((c1 - c0) / (t1 - t0), 2),
            "fleet_simulators_cpu_share": round((sim1 - sim0) / (t1 - t0), 2),
            "fleet_cpu_ms_per_snapshot": round((c1 - c0) / max(s1 - s0, 1) * 1000, 1),
            "fleet_cameras_per_gateway": int(10.0 / max((c1 - c0) / max(s1 - s0, 1), 1e-6))}


def fleet_process(ports: list[int], first: int, interval_s: float, seconds: float, sims_pid: int,
                  out: mp.Queue) -> None:
    """`fleet` in a process of its own: the RSS it starts from holds no memory freed by the other phases
    (new cameras would reuse it, and the growth per camera would read low)."""
    logging.basicConfig(level=logging.WARNING)
    out.put(asyncio.run(fleet(ports, first, interval_s, seconds, sims_pid)))


def analyzer_memory(out: mp.Queue, count: int = 100) -> None:
    """RSS growth per `FrameAnalyzer` with two regions after 4 snapshots (its models and reference), in a process
    of its own: the analysis state alone, without the ONVIF client and the connection."""
    frames = frames_for(2, 4)
    keep = []

    def one() -> None:
        analyzer = FrameAnalyzer(rois_from_json(ROIS))
        for n, jpeg in enumerate(frames):
            analyzer.analyse_jpeg(jpeg, n * 10.0)
        keep.append(analyzer)

    for _ in range(5):
        one()
    before = rss_mb()
    for _ in range(count):
        one()
    out.put(round((rss_mb() - before) * 1024 / count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cameras", type=int, default=8, help="simulated cameras polled at once")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each measurement")
    parser.add_argument("--memory-cameras", type=int, default=56,
                        help="cameras added to --cameras to measure the memory each one costs (0: not measured)")
    parser.add_argument("--fleet-interval", type=float, default=2.0,
                        help="seconds between snapshots of a camera while measuring memory and the fleet's CPU")
    args = parser.parse_args()
    started = time.perf_counter()

    analysis = analysis_rate(args.seconds / 2)
    print(f"analysis (1 thread, {W}×{H}): {analysis['frames_per_s']:.1f} snapshots/s "
          f"(ORB ran on {analysis['orb_runs']} of {analysis['frames_analysed']}; QR turns read whole "
          f"{analysis['qr_whole_reads']}, in changed areas {analysis['qr_area_reads']}); JPEG decode alone (ceilings): "
          f"{analysis['ceiling_decode_frames_per_s']:.1f}/s in colour at full size, "
          f"{analysis['ceiling_reduced_decode_frames_per_s']:.1f}/s in grey at half scale")
    stages = stage_costs()
    print("CPU ms per step of one snapshot: " + ", ".join(f"{k} {v}" for k, v in stages.items()))

    ctx = mp.get_context("spawn")
    ports_q, stop = ctx.Queue(), ctx.Event()
    sims = ctx.Process(target=run_simulators, args=(args.cameras + args.memory_cameras, ports_q, stop), daemon=True)
    sims.start()
    try:
        ports = ports_q.get(timeout=300)
        polled = ports[:args.cameras]
        fetch_ceiling = asyncio.run(bare_fetch_rate(polled, args.seconds / 3))
        print(f"bare HTTP snapshot fetches from {len(polled)} simulated cameras (ceiling): {fetch_ceiling:.1f}/s")
        achieved, cpu_per_snapshot, records = asyncio.run(poll(polled, args.seconds))
        memory: dict = {}
        if args.memory_cameras:
            results: mp.Queue = ctx.Queue()
            for target, target_args in ((analyzer_memory, (results,)),
                                        (fleet_process, (ports, args.cameras, args.fleet_interval, args.seconds,
                                                         sims.pid, results))):
                child = ctx.Process(target=target, args=target_args)
                child.start()
                result = results.get(timeout=900)
                child.join(30)
                memory.update(result if isinstance(result, dict) else {"analyzer_kb": result})
    finally:
        stop.set()
        sims.join(15)
    per_gateway = 10.0 / cpu_per_snapshot
    print(f"poller, {len(polled)} cameras at one snapshot per 0.2 s: {achieved:.1f} snapshots/s, "
          f"{cpu_per_snapshot * 1000:.1f} ms CPU per snapshot (fetch + decode + analysis), {records} Kafka records")
    print(f"→ one gateway process (one core) polls about {per_gateway:.0f} cameras at one snapshot per 10 s "
          f"(measured rate × 10 s on this 2-core box, simulators included: {achieved * 10:.0f})")
    if memory:
        thousand_mb = memory["rss_mb_first_cameras"] + memory["memory_per_camera_kb"] * (1000 - args.cameras) / 1024
        print(f"memory: {memory['rss_mb_first_cameras']} MB resident with {args.cameras} cameras, "
              f"{memory['memory_per_camera_kb']} KB more per camera over {args.memory_cameras} more "
              f"(1,000 cameras: {thousand_mb:.0f} MB); the analysis state alone: {memory['analyzer_kb']} KB a camera")
        print(f"fleet of {memory['fleet_cameras']} cameras, one snapshot per {args.fleet_interval} s: "
              f"{memory['fleet_snapshots_per_s']} snapshots/s of {memory['fleet_snapshots_per_s_due']} due, "
              f"{memory['fleet_cpu_ms_per_snapshot']} ms CPU a snapshot; CPU share: poller "
              f"{memory['fleet_poller_cpu_share']}, simulators {memory['fleet_simulators_cpu_share']}")
    print(json.dumps({
        **analysis,
        "cameras_per_gateway": int(per_gateway),
        "cameras_measured_snapshots_per_s": round(achieved, 1),
        "cpu_ms_per_snapshot": round(cpu_per_snapshot * 1000, 1),
        **memory,
        "ceiling_fetch_snapshots_per_s": round(fetch_ceiling, 1),
        "cameras_simulated": len(polled),
        "memory_cameras": args.memory_cameras,
        "resolution": f"{W}x{H}",
        "stage_ms": stages,
        "wall_s": round(time.perf_counter() - started),
    }))


if __name__ == "__main__":
    main()
