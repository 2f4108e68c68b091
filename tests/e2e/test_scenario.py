"""A small synthetic city simulated at high speed through the real gateway and worker; invariants from the database.

Simulators → Mosquitto → gateway → Kafka → stream worker → PostgreSQL. The city is placed away
from the other e2e tests' random corners (east of lon 117.5, street codes from 060).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from pathlib import Path

import orjson
import psycopg
import pytest

from civicgrid.broker.probe import mqtt_login
from civicgrid.bus import topics
from civicgrid.settings import Settings
from civicgrid.store.city import load_city
from gateway.service import Gateway
from simulators.city import generate_city, load_city_file
from simulators.scenario import Scenario
from tests.support.kafka import KafkaTail
from tests.support.services import wait_for

pytestmark = pytest.mark.e2e

HEALTH_RULES = {"battery_low", "offline"}
SPEED = 600.0
WALL_S = 15.0  # 2.5 simulated hours, as 30 s at 300× were


@pytest.fixture(scope="module")
def city(stack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated and loaded before the module's worker starts, so its grid index has the city's cells."""
    settings: Settings = stack.settings
    out = tmp_path_factory.mktemp("city")
    prefix = f"t{uuid.uuid4().hex[:6]}"
    street = 60 + random.randrange(30)
    generate_city(11, 0.5, out, covers=20, bins=10, lights=5, trackers=2, inspectors=2, lon0=117.62, lat0=31.71,
                  street_base=street, serial_base=500_000 + random.randrange(400_000), device_prefix=prefix)
    _keep_out_of_other_tests(out, f"341523{street:03d}")
    load_city(settings, out, broker=stack.mosquitto.files)
    device = load_city_file(out)["devices"][0]["id"]
    secret = orjson.loads((out / "secrets.json").read_bytes())[device]
    wait_for(lambda: mqtt_login(settings.mqtt.host, settings.mqtt.port, device, secret) == "ok", 10,
             "the broker accepts the city's devices")
    return out


def _keep_out_of_other_tests(out: Path, street_prefix: str) -> None:
    """The database is shared: no responsibility grids (the API tests rank every grid with cases) and
    responsibility rules for this city's street only (the API tests expect their own county-wide rules)."""
    cells = orjson.loads((out / "cells.geojson").read_bytes())
    for f in cells["features"]:
        f["properties"].pop("responsibility_grid")
    (out / "cells.geojson").write_bytes(orjson.dumps(cells))
    city = load_city_file(out)
    city["grids"] = []
    for person in city["inspectors"]:
        person["responsibility_grid_id"] = None
    for rule in city["responsibility"]:
        rule["grid_prefix"] = street_prefix
    (out / "city.json").write_bytes(orjson.dumps(city))


def _ids(city_dir: Path) -> list[str]:
    return [d["id"] for d in load_city_file(city_dir)["devices"]]


def _stored(db: psycopg.Connection, ids: list[str]) -> dict[str, int]:
    q = "SELECT count(*) FROM {} WHERE device_id = ANY(%s)"
    counts = {ch: db.execute(q.format(table), (ids,)).fetchone()[0]
              for ch, table in (("telemetry", "telemetry"), ("event", "device_events"), ("track", "track_points"))}
    counts["track"] += db.execute(q.format("track_rejects"), (ids,)).fetchone()[0]  # clean + rejected = sent
    return counts


def test_county_town_scenario_invariants(city: Path, worker, gateway: Gateway, db: psycopg.Connection) -> None:
    settings, log = worker
    ids = _ids(city)
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.DEADLETTER])
    sim = Scenario(city, settings.mqtt.host, settings.mqtt.port, speed=SPEED, seed=3, fault_rate=0.03,
                   report_rate=0.02, intervals={"gps-tracker": 30, "handheld": 30}, duration_s=WALL_S)
    t0 = time.monotonic()
    summary = asyncio.run(sim.run())
    assert not summary["errors"], summary
    sent = Counter(summary["sent"])
    assert sent["telemetry"] > 100 and sent["track"] > 50, summary

    # Every message the broker acknowledged is stored (the sinks are idempotent, the simulators send valid
    # payloads only, so there are no dead letters).
    want = {ch: sent[ch] for ch in ("telemetry", "event", "track")}
    wait_for(lambda: _stored(db, ids) == want, 60, f"rows {want} stored (have {_stored(db, ids)})", log=log)
    until = time.monotonic() + 3  # whatever the gateway refused has been produced by now
    dead = [r for r in tail.collect(lambda recs: time.monotonic() > until, 10) if r[2].get("device_id") in set(ids)]
    tail.close()
    assert dead == []

    # Every injected fault raised one of its alarms, in the readings it lasted.
    faults = [f for f in sim.faults if f.complete]  # a fault cut short by the end of the run may not have raised
    assert len(faults) >= 5, Counter(f.kind for f in faults)

    def missing_alarms() -> list:
        missing = []
        for f in faults:
            if f.kind == "silent":  # the Last Will's offline status carries the gateway's time
                row = db.execute("SELECT 1 FROM alarms WHERE device_id = %s AND rule = 'offline' AND "
                                 "action = 'raise'", (f.device_id,)).fetchone()
            else:
                row = db.execute("SELECT 1 FROM alarms WHERE device_id = %s AND rule = ANY(%s) AND action = 'raise' "
                                 "AND time >= %s AND time <= %s", (f.device_id, list(f.rules), f.at, f.last_at)
                                 ).fetchone()
            if row is None:
                missing.append(f)
        return missing

    try:
        wait_for(lambda: not missing_alarms(), 30, "an alarm for every fault")
    except AssertionError:
        detail = [(f, db.execute("SELECT time, rule, action FROM alarms WHERE device_id = %s ORDER BY time",
                                 (f.device_id,)).fetchall()) for f in missing_alarms()]
        raise AssertionError(f"faults without their alarm: {detail}") from None

    # Every problem alarm and every report is evidence on exactly one case; every such case has a cell.
    def unfiled() -> list:
        return db.execute(
            "SELECT a.alarm_id, a.rule FROM alarms a LEFT JOIN case_evidence e ON e.source_record_id = "
            "'alarm:' || a.alarm_id WHERE a.device_id = ANY(%s) AND a.action = 'raise' AND NOT a.rule = ANY(%s) "
            "AND a.rule NOT LIKE 'patrol%%' AND e.id IS NULL", (ids, list(HEALTH_RULES))).fetchall()

    wait_for(lambda: not unfiled(), 30, "every problem alarm on a case", log=log)
    report_keys = [f"report:{d}:{r}" for d, r in sim.ctx.reports]
    assert report_keys, "the handhelds filed no report"
    wait_for(lambda: db.execute("SELECT count(*) FROM case_evidence WHERE source_record_id = ANY(%s)",
                                (report_keys,)).fetchone()[0] == len(report_keys), 30, "every report on a case",
             log=log)
    cases = db.execute("SELECT c.id, c.grid_cell_code, c.outside_grid, c.source_record_id FROM cases c WHERE c.id IN "
                       "(SELECT case_id FROM case_evidence WHERE device_id = ANY(%s))", (ids,)).fetchall()
    assert cases
    assert [c for c in cases if c[1] is None or c[2]] == []  # every position is inside the city
    sources = [c[3] for c in cases if c[3] is not None]
    assert len(sources) == len(set(sources))
    dupes = db.execute("SELECT source_record_id FROM case_evidence WHERE device_id = ANY(%s) GROUP BY 1 "
                       "HAVING count(*) > 1", (ids,)).fetchall()
    assert dupes == []

    # Every inspector's handheld left a track.
    handhelds = [d.id for d in sim.devices if d.kind == "handheld"]
    tracks = dict(db.execute("SELECT device_id, count(*) FROM track_points WHERE device_id = ANY(%s) GROUP BY 1",
                             (handhelds,)).fetchall())
    assert set(tracks) == set(handhelds) and min(tracks.values()) > 5
    # ... and every handheld with points has its inspector's patrol coverage for the day.
    covered = {r[0] for r in db.execute("SELECT device_id FROM patrol_coverage WHERE device_id = ANY(%s)",
                                        (handhelds,)).fetchall()}
    assert covered == set(tracks)
    assert time.monotonic() - t0 < 150


def test_loader_reads_a_real_citys_exports_idempotently(db: psycopg.Connection, tmp_path: Path) -> None:
    """A city's own GeoJSON: cells with only a code, components without a cell or category."""
    street = 400 + random.randrange(100)
    lon, lat, d = 117.9 + random.random() * 0.05, 31.9, 0.001
    cells = [(f"341523{street:03d}00101", lon), (f"341523{street:03d}00102", lon + d)]
    ring = [[0, 0], [d, 0], [d, d], [0, d], [0, 0]]
    features = [{"type": "Feature", "properties": {"code": code, "name": f"cell {code}"},
                 "geometry": {"type": "Polygon", "coordinates": [[[x + a, lat + b] for a, b in ring]]}}
                for code, x in cells]
    (tmp_path / "cells.geojson").write_bytes(orjson.dumps({"type": "FeatureCollection", "features": features}))
    serial = random.randrange(1, 10**6)
    code = f"3415230103{serial:06d}"
    comps = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon + 1.5 * d, lat + d / 2]},
              "properties": {"code": code, "department_id": "no-such-department", "owner": "县排水公司",
                             "material": "球墨铸铁"}}]
    (tmp_path / "components.geojson").write_bytes(orjson.dumps({"type": "FeatureCollection", "features": comps}))
    for _ in range(2):
        counts = load_city(db, tmp_path)
        assert counts["grid_cells"] == 2 and counts["components"] == 1
    row = db.execute("SELECT category_code, grid_cell_code, department_id, owner, attributes FROM components "
                     "WHERE code = %s", (code,)).fetchone()
    attributes = {"material": "球墨铸铁", "department": "no-such-department"}
    assert row == ("C0103", cells[1][0], None, "县排水公司", attributes)
    areas = db.execute("SELECT area_m2 FROM grid_cells WHERE code = ANY(%s)", ([c for c, _ in cells],)).fetchall()
    assert len(areas) == 2 and all(9_000 < a < 11_000 for (a,) in areas)
