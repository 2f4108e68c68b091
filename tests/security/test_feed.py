"""Item 10: the live feed checks its caller again while it runs, and caps the streams a user may hold open."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
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
