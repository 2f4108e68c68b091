"""The platform clock (civicgrid/clock.py) through the real API and database: under a simulated clock every
case action is stamped with simulated time, a client cannot supply one, and a deadline passes in simulated
time (the list's overdue filter, the light and the deadline watch's query all see it)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from civicgrid.cases import repository
from civicgrid.clock import ClockSettings, PlatformClock
from civicgrid.clock_schedule import Schedule, write_schedule
from civicgrid.settings import Settings
from tests.integration.api.conftest import CELLS

pytestmark = pytest.mark.integration

Headers = Callable[[str], dict[str, str]]
# A Monday morning well in the past: simulated stamps cannot be mistaken for wall-clock ones.
START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC) - timedelta(hours=8)


def _app(api_settings: Settings, speed: float) -> tuple[TestClient, PlatformClock]:
    clock = ClockSettings(start=START, speed=speed, anchor=datetime.now(UTC))
    app = create_app(api_settings.model_copy(update={"clock": clock}), background=False)
    return TestClient(app, raise_server_exceptions=False), PlatformClock.from_settings(clock)


@pytest.fixture
def simulated(api_settings: Settings, org: dict[str, int]) -> Iterator[Callable[[float], tuple[TestClient,
                                                                                              PlatformClock]]]:
    opened: list[TestClient] = []

    def make(speed: float) -> tuple[TestClient, PlatformClock]:
        client, clock = _app(api_settings, speed)
        opened.append(client.__enter__())
        return client, clock

    yield make
    for c in opened:
        c.__exit__(None, None, None)


def _report(client: TestClient, as_user: Headers) -> dict:
    point = CELLS[5][1].representative_point()
    r = client.post("/cases", headers=as_user("api-inspector"),
                    json={"category_code": "E0102", "description": "模拟时钟", "lon": point.x, "lat": point.y})
    assert r.status_code == 201, r.text
    return r.json()


def _act(client: TestClient, as_user: Headers, case_id: str, who: str, action: str, body: dict | None = None) \
        -> dict:
    r = client.post(f"/cases/{case_id}/{action}", headers=as_user(who), json=body or {})
    assert r.status_code == 200, f"{action}: {r.status_code} {r.text}"
    return r.json()


def test_actions_are_stamped_with_simulated_time(simulated, as_user: Headers, db: psycopg.Connection) -> None:
    client, clock = simulated(60.0)
    wall_before = datetime.now(UTC)
    case = _report(client, as_user)
    _act(client, as_user, case["id"], "api-leader", "file")
    dispatched = _act(client, as_user, case["id"], "api-dispatcher", "dispatch")
    elapsed = (datetime.now(UTC) - wall_before).total_seconds() + 1
    latest = START + timedelta(seconds=elapsed * 60)
    stamps = [datetime.fromisoformat(e["at"]) for e in dispatched["timeline"]]
    assert [e["action"] for e in dispatched["timeline"]] == ["report", "file", "dispatch"]
    assert all(START <= t <= latest for t in stamps), (START, stamps, latest)
    assert stamps == sorted(stamps)
    assert START <= datetime.fromisoformat(dispatched["reported_at"]) <= latest
    # The deadline is counted from the simulated dispatch (working time on the calendar of March 2025).
    assert datetime.fromisoformat(dispatched["disposal_deadline"]) - stamps[2] < timedelta(days=7)
    rows = db.execute("SELECT time FROM case_events WHERE case_id = %s ORDER BY seq", (case["id"],)).fetchall()
    assert [r[0] for r in rows] == stamps
    assert clock.now() < wall_before  # the simulated clock is still years behind the wall clock


def test_a_client_cannot_supply_the_time(simulated, as_user: Headers) -> None:
    client, _ = simulated(60.0)
    case = _report(client, as_user)
    r = client.post(f"/cases/{case['id']}/file", headers=as_user("api-leader"), json={"at": "2020-01-01T00:00:00Z"})
    assert r.status_code == 422 and "at" in r.text


def test_a_deadline_passes_in_simulated_time(simulated, as_user: Headers, db: psycopg.Connection) -> None:
    client, clock = simulated(3600.0)  # an hour a second: class A's two natural hours pass in two seconds
    case = _report(client, as_user)
    _act(client, as_user, case["id"], "api-leader", "file", {"disposal_class": "A"})
    dispatched = _act(client, as_user, case["id"], "api-dispatcher", "dispatch")
    at = datetime.fromisoformat(dispatched["timeline"][-1]["at"])
    deadline = datetime.fromisoformat(dispatched["disposal_deadline"])
    assert deadline - at == timedelta(hours=2)
    assert dispatched["light"] in ("green", "yellow")
    while clock.now() <= deadline + timedelta(minutes=10):
        time.sleep(0.2)
    detail = client.get(f"/cases/{case['id']}", headers=as_user("api-dispatcher")).json()
    assert detail["light"] == "red"
    overdue = client.get("/cases", headers=as_user("api-dispatcher"),
                         params={"overdue": "true", "reported_from": (START - timedelta(days=1)).isoformat(),
                                 "reported_to": clock.now().isoformat(), "limit": 500}).json()
    assert case["id"] in {c["id"] for c in overdue["items"]}
    # The deadline watch's query, asked with the platform's simulated now.
    past = repository.open_cases_past(db, clock.now(), limit=100_000)
    assert (case["id"], "disposal", deadline) in past
    # Wall time since the dispatch is a few seconds: on the system clock the case would still be green.
    assert (datetime.now(UTC) - datetime.fromisoformat(dispatched["timeline"][-1]["at"])).days > 300


def test_the_api_follows_a_clock_schedule_changed_while_it_runs(api_settings: Settings, org: dict[str, int],
                                                                as_user: Headers, tmp_path) -> None:
    """`clock.schedule` (civicgrid/clock_schedule.py): a speed written to the file after the API started takes
    effect at the segment's wall time in the API as in the writer's own clock, with no jump."""
    path = tmp_path / "clock-schedule.json"
    schedule = Schedule.fixed(START, 60.0, datetime.now(UTC))
    write_schedule(path, schedule)
    first = schedule.first
    settings = ClockSettings(start=first.sim, speed=first.speed, anchor=first.wall, schedule=path)
    mine = PlatformClock.from_settings(settings)
    with TestClient(create_app(api_settings.model_copy(update={"clock": settings}), background=False)) as client:
        case = _report(client, as_user)
        reported = datetime.fromisoformat(case["reported_at"])
        assert START <= reported < START + timedelta(minutes=30)
        switch = datetime.now(UTC) + timedelta(seconds=1.2)
        write_schedule(path, schedule.then(36_000.0, switch))  # ten hours a second, from 1.2 s on
        filed_early = _act(client, as_user, case["id"], "api-leader", "file")["timeline"][-1]["at"]
        while datetime.now(UTC) < switch + timedelta(seconds=0.5):
            time.sleep(0.05)
        before = mine.now()
        dispatched = _act(client, as_user, case["id"], "api-dispatcher", "dispatch")
        after = mine.now()
    stamps = [datetime.fromisoformat(e["at"]) for e in dispatched["timeline"]]
    assert stamps == sorted(stamps) and datetime.fromisoformat(filed_early) < START + timedelta(minutes=30)
    assert before <= stamps[-1] <= after  # the API's now is the writer's: both switched at the same instant
    assert stamps[-1] - stamps[1] > timedelta(hours=4)  # at least 0.5 s at 36,000×


def test_clock_settings_refuse_naive_times_and_a_lone_anchor() -> None:
    with pytest.raises(ValueError, match="time zone"):
        ClockSettings(start=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="anchor without"):
        ClockSettings(anchor=datetime.now(UTC))
    clock = PlatformClock.simulated(START, 120.0, anchor=datetime.now(UTC) - timedelta(seconds=10))
    assert timedelta(minutes=19) < clock.now() - START < timedelta(minutes=21)
    env = clock.env()
    again = PlatformClock.from_settings(ClockSettings(start=env["CIVICGRID_CLOCK__START"],
                                                      speed=env["CIVICGRID_CLOCK__SPEED"],
                                                      anchor=env["CIVICGRID_CLOCK__ANCHOR"]))
    assert abs((again.now() - clock.now()).total_seconds()) < 60  # one clock in two processes
    catching = PlatformClock.simulated(datetime.now(UTC) - timedelta(minutes=1), 1000.0,
                                       anchor=datetime.now(UTC) - timedelta(seconds=5))
    assert catching.now() > datetime.now(UTC) + timedelta(minutes=1)
    assert PlatformClock(catching.start, 1000.0, catching.anchor, catch_up=True).now() <= datetime.now(UTC)
