"""Patrol coverage: track points/s per worker through cleaning + matching + coverage, and a day's coverage query.

Method (against a throwaway stack this script starts):
1. The county town (simulators.city.generate_city, seed 1: 25 km², 2,500 cells, 4,900 road segments,
   8 grids, 18 inspectors with plans) is loaded with `civicgrid.store.city.load_city`.
2. A backlog of N track records on cg.tracks (default 300,000): D devices (default 1,000) walking
   the inspectors' street routes at ~1.2 m/s, one fix every 5 s from 08:00 yesterday; the first 18
   are the inspectors' handhelds (coverage rows), the rest have no inspector (points, passes and
   cells only). 2 % of the fixes carry a bad HDOP (rejected, recorded in track_rejects).
3. Ceiling: a bare aiokafka consumer reads the backlog (no work).
4. Rules alone: `PatrolTracker.process` over the same fixes in this process, batches of 5,000
   (no Kafka, no database): the compute ceiling of the patrol path.
5. One worker with only the `patrol` role consumes the backlog; the rate is the records whose
   results committed (the consumer's positions in `kafka_positions`) per second, from the first
   committed batch to the last: cleaning, matching, passes, coverage upserts, track_points COPY,
   rejects and state, all in one transaction per batch.
6. Day coverage query: GET /patrol/coverage?day=… (all inspectors of the town) through the API
   in process (FastAPI TestClient), 50 calls after one warm-up; p50 and p99.

Figures are printed, never asserted. Last line: JSON with points_per_s, day_coverage_query_ms (p50)
and more (docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from confluent_kafka import Producer

from civicgrid.bus import records, topics
from civicgrid.domain.patrol import Fix, PatrolTracker
from civicgrid.settings import Settings
from civicgrid.stack.ephemeral import ephemeral_settings, throwaway_stack
from civicgrid.stack.services import spawn_service, stop_service
from civicgrid.store.city import load_city
from civicgrid.store.db import connect
from civicgrid.store.patrol import load_network
from simulators.city import generate_city, load_city_file
from simulators.mobile import Route

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _rates import consumer_ceiling, rate_until

_BENCH = Path(__file__).resolve().parent

CST = timezone(timedelta(hours=8))


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def backlog(city_dir: Path, inspector_ids: dict[str, int], devices: int, n: int) -> tuple[list[dict], str]:
    """The track records (device order interleaved, as devices report) and the day they fall on."""
    city = load_city_file(city_dir)
    handhelds = [d for d in city["devices"] if d["kind"] == "handheld"]
    rng = random.Random(1)
    day = datetime.now(CST).date() - timedelta(days=1)
    t0 = datetime(day.year, day.month, day.day, 8, 0, tzinfo=CST)
    walkers = []
    for k in range(devices):
        spec = handhelds[k % len(handhelds)]
        route = Route(spec["route"], loop=False)
        inspector = inspector_ids.get(spec["inspector"]) if k < len(handhelds) else None
        walkers.append((f"bench-hh-{k:04d}", route, rng.uniform(0, route.total), inspector))
    per_device = n // devices
    out = []
    for step in range(per_device):
        ts = t0 + timedelta(seconds=5 * step)
        for device, route, s0, inspector in walkers:
            lon, lat, heading = route.at(s0 + 1.2 * 5 * step)
            data = {"lon": round(lon, 7), "lat": round(lat, 7), "fix_valid": True, "speed_mps": 1.2,
                    "heading_deg": round(heading, 1), "hdop": 9.0 if rng.random() < 0.02 else 1.1}
            out.append(records.device_record(device_id=device, kind="handheld", profile="handheld", channel="track",
                                              seq=step + 1, ts=ts, received_at=ts, data=data,
                                              links={"component_code": None, "grid_cell_code": None,
                                                     "inspector_user_id": inspector}))
    return out, day.isoformat()


def produce(settings: Settings, recs: list[dict]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "linger.ms": 20,
                         "queue.buffering.max.messages": 1_000_000})
    for rec in recs:
        producer.produce(topics.TRACKS, records.dumps(rec), rec["device_id"].encode())
        producer.poll(0)
    producer.flush(120)


def _streams_patrol():
    """streams.patrol; run as a script, bench/ is on sys.path and bench/streams.py shadows the package."""
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _BENCH]
    if "streams.patrol" not in sys.modules:
        sys.modules.pop("streams", None)
    import streams.patrol

    return streams.patrol


def rules_rate(settings: Settings, recs: list[dict]) -> float:
    patrol = _streams_patrol()
    fix_of, rules_of = patrol.fix_of, patrol.rules_of
    with connect(settings.db, autocommit=True) as conn:
        network = load_network(conn)
    tracker = PatrolTracker(network, rules_of(settings.patrol))
    fixes: list[Fix] = [fix_of(records.loads(records.dumps(r))) for r in recs]
    t0 = time.perf_counter()
    for k in range(0, len(fixes), 5000):
        tracker.process(fixes[k:k + 5000])
    return len(fixes) / (time.perf_counter() - t0)


def worker_rate(settings: Settings, n: int, base: Path) -> float:
    streams = settings.streams.model_copy(update={"app_id": f"bench-patrol-{uuid.uuid4().hex[:4]}",
                                                  "roles": ("patrol",)})
    patrol = settings.patrol.model_copy(update={"offline_check_s": 0.0})
    worker = settings.model_copy(update={"streams": streams, "patrol": patrol})
    group = f"{streams.app_id}-patrol"
    proc = spawn_service("worker", worker, base / "patrol.log")
    try:
        with connect(settings.db, autocommit=True) as conn:
            return rate_until(lambda: conn.execute("SELECT coalesce(sum(next_offset), 0)::bigint FROM kafka_positions "
                                                   "WHERE consumer = %s", (group,)).fetchone()[0],
                              n, poll_s=0.25, timeout_s=900)
    finally:
        stop_service(proc)


def coverage_query(settings: Settings, day: str, calls: int = 50) -> tuple[list[float], int]:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.users import create_user

    with connect(settings.db, autocommit=True) as conn:
        create_user(conn, "bench-leader", "leader", password="bench-password-123")
    samples = []
    with TestClient(create_app(settings, background=False)) as client:
        token = client.post("/auth/token", data={"username": "bench-leader", "password": "bench-password-123"})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        rows = client.get("/patrol/coverage", params={"day": day}, headers=headers).json()  # warm-up
        for _ in range(calls):
            t0 = time.perf_counter()
            r = client.get("/patrol/coverage", params={"day": day}, headers=headers)
            samples.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200
    for row in sorted(rows, key=lambda r: r["inspector_name"]):
        say(f"  {row['inspector_name']:<8} {row['responsibility_grid_id']}  {row['plan_met_pct']:6.2f} %  "
            f"{row['segments_met']}/{row['segments_required']} segments  {row['distance_m'] / 1000:5.1f} km")
    return samples, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=300_000)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    settings = ephemeral_settings(prefix="civicgrid-bench-")
    base = settings.stack.var_dir.parent
    with throwaway_stack(settings, keep=args.keep, progress=lambda m: say(f"stack {m}")):
        city_dir = base / "city"
        generate_city(1, 25.0, city_dir)
        t0 = time.perf_counter()
        with connect(settings.db, autocommit=True) as conn:
            counts = load_city(conn, city_dir)
            inspector_ids = dict(conn.execute("SELECT username, id FROM users WHERE role = 'inspector'").fetchall())
        say(f"county town loaded in {time.perf_counter() - t0:.1f} s: {counts}")
        recs, day = backlog(city_dir, inspector_ids, args.devices, args.points)
        n = len(recs)
        t0 = time.perf_counter()
        produce(settings, recs)
        say(f"backlog: {n} track records from {args.devices} devices on {day} ({time.perf_counter() - t0:.1f} s)")
        ceiling = asyncio.run(consumer_ceiling(settings.kafka.bootstrap_servers, topics.TRACKS, n))
        say(f"ceiling: bare aiokafka consumer {ceiling:,.0f} records/s")
        rules = rules_rate(settings, recs[: min(n, 100_000)])
        say(f"rules alone (PatrolTracker.process, batches of 5,000): {rules:,.0f} points/s")
        rate = worker_rate(settings, n, base)
        say(f"patrol consumer, one worker: {rate:,.0f} points/s (clean + rejected, committed)")
        with connect(settings.db, autocommit=True) as conn:
            clean, rejected = conn.execute("SELECT (SELECT count(*) FROM track_points), "
                                           "(SELECT count(*) FROM track_rejects)").fetchone()
        say(f"stored: {clean} clean points, {rejected} rejects")
        samples, rows = coverage_query(settings, day)
        p50 = statistics.median(samples)
        p99 = sorted(samples)[min(len(samples) - 1, int(len(samples) * 0.99))]
        say(f"day coverage of {rows} inspectors: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(json.dumps({
        "points_per_s": round(rate), "day_coverage_query_ms": round(p50, 1), "day_coverage_query_p99_ms": round(p99, 1),
        "rules_points_per_s": round(rules), "ceiling_records_per_s": round(ceiling), "backlog_records": n,
        "devices": args.devices, "inspectors": rows, "clean_points": clean, "rejected_points": rejected,
        "road_segments": counts.get("road_segments"), "cores": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
