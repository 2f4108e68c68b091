"""Item 10: the live feed checks its caller again while it runs, caps the streams a user may hold open, and
has one poller for all of them (api/feed_hub.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import orjson
import psycopg

from api.api_keys import new_api_key, revoke_api_key
from api.users import create_user
from civicgrid.settings import Settings
from tests.support.api import serve_api


def _settings(settings: Settings, recheck_s: float = 60.0) -> Settings:
    api = settings.api.model_copy(update={"feed_recheck_s": recheck_s, "feed_max_streams_per_user": 2})
    return settings.model_copy(update={"api": api})


def _token(base: str, db: psycopg.Connection) -> tuple[int, dict[str, str]]:
    user, password = create_user(db, f"feed-{uuid.uuid4().hex[:6]}", "operator")
    r = httpx.post(f"{base}/auth/token", data={"username": user.username, "password": password})
    assert r.status_code == 200, r.text
    return user.id, {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_a_user_may_hold_only_so_many_streams(settings: Settings, db: psycopg.Connection, tmp_path: Path) -> None:
    with serve_api(_settings(settings), tmp_path, background=False) as (base, _), \
            httpx.Client(base_url=base, timeout=10) as http:
        _, headers = _token(base, db)
        with http.stream("GET", "/feed", headers=headers) as one, http.stream("GET", "/feed", headers=headers) as two:
            assert (one.status_code, two.status_code) == (200, 200)
            third = http.get("/feed", headers=headers)
            assert third.status_code == 429 and "Retry-After" in third.headers, third.text
        deadline = time.monotonic() + 10  # closed streams are released when their responses end
        while True:
            with http.stream("GET", "/feed", headers=headers) as again, \
                    http.stream("GET", "/feed", headers=headers) as again2:
                if (again.status_code, again2.status_code) == (200, 200):
                    break
            assert time.monotonic() < deadline, "closed streams were never released"
            time.sleep(0.2)


def test_a_disabled_user_s_open_stream_ends(settings: Settings, db: psycopg.Connection, tmp_path: Path) -> None:
    with serve_api(_settings(settings), tmp_path, background=False) as (base, _), \
            httpx.Client(base_url=base, timeout=httpx.Timeout(5, read=20)) as http:
        user_id, headers = _token(base, db)
        with http.stream("GET", "/feed", headers=headers) as stream:
            assert stream.status_code == 200
            db.execute("UPDATE users SET enabled = false WHERE id = %s", (user_id,))
            started = time.monotonic()
            lines = list(stream.iter_lines())  # returns when the server ends the stream
        assert "event: end" in lines, lines[-5:]
        assert time.monotonic() - started < 15


def test_a_revoked_key_s_open_stream_ends_at_the_next_check(settings: Settings, db: psycopg.Connection,
                                                            tmp_path: Path) -> None:
    user, _ = create_user(db, f"feed-key-{uuid.uuid4().hex[:6]}", "operator")
    key_id, key = new_api_key(db, user.id, "wallboard", ("api",))
    with serve_api(_settings(settings, recheck_s=1.0), tmp_path, background=False) as (base, _), \
            httpx.Client(base_url=base, timeout=httpx.Timeout(5, read=20)) as http, \
            http.stream("GET", "/feed", headers={"X-Api-Key": key}) as stream:
        assert stream.status_code == 200
        revoke_api_key(db, key_id)
        lines = list(stream.iter_lines())
    assert "event: end" in lines, lines[-5:]


def _feed_scans(db: psycopg.Connection) -> int:
    """Index and sequential scans of feed_events so far, as PostgreSQL's statistics report them."""
    row = db.execute("SELECT coalesce(idx_scan, 0) + coalesce(seq_scan, 0) FROM pg_stat_user_tables "
                     "WHERE relname = 'feed_events'").fetchone()
    return int(row[0])


def test_open_streams_share_one_poller(settings: Settings, db: psycopg.Connection, tmp_path: Path) -> None:
    """Eight idle streams cost the database what one does: one read of feed_events per poll, not one per stream.
    Measured as the difference between a span with one stream open and one with eight (other servers of the
    session may read the table too, alike in both spans)."""
    def scans_in(seconds: float) -> int:
        time.sleep(1)
        before = _feed_scans(db)
        time.sleep(seconds)
        return _feed_scans(db) - before

    with serve_api(_settings(settings), tmp_path, background=False) as (base, _), \
            httpx.Client(base_url=base, timeout=httpx.Timeout(5, read=30)) as http, ExitStack() as streams:
        users = [_token(base, db)[1] for _ in range(4)]
        assert streams.enter_context(http.stream("GET", "/feed", headers=users[0])).status_code == 200
        one = scans_in(3)
        for headers in users:
            for _ in range(2 if headers is not users[0] else 1):
                assert streams.enter_context(http.stream("GET", "/feed", headers=headers)).status_code == 200
        eight = scans_in(3)
    # One poller every 0.5 s: about 6 in each span whatever the streams; a poll per stream would add about 42.
    assert eight - one <= 20, (one, eight)


def test_a_resumed_stream_gets_what_it_missed_then_what_is_new(settings: Settings, db: psycopg.Connection,
                                                                tmp_path: Path) -> None:
    """Catch-up from Last-Event-ID (its own scoped reads) hands over to the shared poller without a gap or
    a repeat, while another stream stays open on the poller all along."""
    def alarm(alarm_id: str) -> None:
        db.execute("INSERT INTO alarms (time, alarm_id, device_id, rule, action, category_code, urgency) "
                   "VALUES (now(), %s, 'hub-mh-1', 'cover_tilted', 'raise', 'C0114', 'A')", (alarm_id,))

    db.execute("INSERT INTO devices (id, kind, profile, secret_hash) VALUES ('hub-mh-1', 'manhole-sensor', "
               "'manhole-sensor', 'x') ON CONFLICT DO NOTHING")
    run = uuid.uuid4().hex[:6]
    with serve_api(_settings(settings), tmp_path, background=False) as (base, _), \
            httpx.Client(base_url=base, timeout=httpx.Timeout(5, read=30)) as http:
        _, headers = _token(base, db)
        with http.stream("GET", "/feed", params={"kinds": "alarm"}, headers=headers) as watcher:
            time.sleep(1)
            alarm(f"{run}-1")
            first = _alarm_events(watcher.iter_lines(), 1)
            with http.stream("GET", "/feed", params={"kinds": "alarm"}, headers=headers) as other:
                alarm(f"{run}-2")
                alarm(f"{run}-3")
                _alarm_events(other.iter_lines(), 2)
            resumed_headers = {**headers, "Last-Event-ID": first[0][0]}
            with http.stream("GET", "/feed", params={"kinds": "alarm"}, headers=resumed_headers) as resumed:
                lines = resumed.iter_lines()
                missed = _alarm_events(lines, 2)
                alarm(f"{run}-4")
                new = _alarm_events(lines, 1)
    assert [a for _, a in missed + new] == [f"{run}-2", f"{run}-3", f"{run}-4"]


def _alarm_events(lines: Iterator[str], n: int) -> list[tuple[str, str]]:
    """The next `n` alarm events of an open stream's lines: (event id, alarm id)."""
    out: list[tuple[str, str]] = []
    event_id = None
    for line in lines:
        if line.startswith("id:"):
            event_id = line[3:].strip()
        elif line.startswith("data:") and event_id:
            out.append((event_id, orjson.loads(line[5:])["alarm_id"]))
            event_id = None
            if len(out) == n:
                return out
    raise AssertionError(f"the stream ended after {out}")
