"""Item 9: API keys carry scopes (Open311 intake by default), expire, and can be listed and revoked; users can be
disabled (API and CLI), and a disabled user's token and keys stop working at once."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import psycopg
from fastapi.testclient import TestClient

from civicgrid.settings import Settings
from tests.support.stack import settings_env

OPEN311 = {"service_code": "E0102", "lat": "31.46", "long": "116.94", "description": "垃圾"}


def _user(client: TestClient, as_user, role: str = "operator") -> tuple[int, str, str]:
    name, password = f"sec-{role}-{uuid.uuid4().hex[:6]}", "a-long-enough-password"
    r = client.post("/users", headers=as_user("api-admin"), json={"username": name, "role": role, "password": password})
    assert r.status_code == 201, r.text
    token = client.post("/auth/token", data={"username": name, "password": password}).json()["access_token"]
    return r.json()["id"], name, token


def test_a_key_is_for_open311_intake_unless_given_the_api(client: TestClient, as_user) -> None:
    user_id, _, _ = _user(client, as_user)
    made = client.post("/api-keys", headers=as_user("api-admin"), json={"user_id": user_id, "name": "hotline"})
    assert made.status_code == 201 and made.json()["scopes"] == ["open311"], made.text
    key = made.json()["api_key"]
    assert client.post("/open311/v2/requests.json", data={**OPEN311, "api_key": key}).status_code == 201
    refused = client.get("/cases", headers={"X-Api-Key": key})
    assert refused.status_code == 403 and "open311" in refused.json()["detail"], refused.text
    full = client.post("/api-keys", headers=as_user("api-admin"),
                       json={"user_id": user_id, "name": "integration", "scopes": ["api"]}).json()["api_key"]
    assert client.get("/cases", headers={"X-Api-Key": full}).status_code == 200


def test_keys_are_listed_revoked_and_expire_at_once(client: TestClient, as_user, db: psycopg.Connection) -> None:
    user_id, _, _ = _user(client, as_user)
    made = client.post("/api-keys", headers=as_user("api-admin"),
                       json={"user_id": user_id, "name": "revocable", "scopes": ["api"], "expires_in_days": 30}).json()
    key, key_id = made["api_key"], made["id"]
    assert client.get("/cases", headers={"X-Api-Key": key}).status_code == 200
    listed = client.get("/api-keys", headers=as_user("api-admin")).json()
    (mine,) = [k for k in listed if k["id"] == key_id]
    assert mine["scopes"] == ["api"] and mine["expires_at"] and mine["last_used_at"] and key not in str(listed)
    assert client.post(f"/api-keys/{key_id}/revoke", headers=as_user("api-admin")).json()["revoked_at"]
    assert client.get("/cases", headers={"X-Api-Key": key}).status_code == 401

    other = client.post("/api-keys", headers=as_user("api-admin"),
                        json={"user_id": user_id, "name": "expiring", "scopes": ["api"]}).json()
    db.execute("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = %s", (other["id"],))
    assert client.get("/cases", headers={"X-Api-Key": other["api_key"]}).status_code == 401
    assert client.post("/api-keys/999999999/revoke", headers=as_user("api-admin")).status_code == 404


def test_a_disabled_user_is_locked_out_at_once_by_api_and_cli(client: TestClient, as_user,
                                                              settings: Settings) -> None:
    user_id, name, token = _user(client, as_user)
    key = client.post("/api-keys", headers=as_user("api-admin"),
                      json={"user_id": user_id, "name": "k", "scopes": ["api"]}).json()["api_key"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/cases", headers=bearer).status_code == 200
    r = client.patch(f"/users/{user_id}", headers=as_user("api-admin"), json={"enabled": False})
    assert r.status_code == 200, r.text
    assert client.get("/cases", headers=bearer).status_code == 401
    assert client.get("/cases", headers={"X-Api-Key": key}).status_code == 401
    assert client.patch(f"/users/{user_id}", headers=as_user("api-admin"), json={"enabled": True}).status_code == 200
    assert client.get("/cases", headers=bearer).status_code == 200

    env = {**os.environ, **settings_env(settings)}
    done = subprocess.run([sys.executable, "-m", "civicgrid.cli", "users", "disable", name], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert client.get("/cases", headers=bearer).status_code == 401
    missing = subprocess.run([sys.executable, "-m", "civicgrid.cli", "users", "disable", f"nobody-{name}"], env=env,
                             capture_output=True, text=True, timeout=60, check=False)
    assert missing.returncode == 1 and "no user" in missing.stderr
