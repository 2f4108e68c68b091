"""A simulated person's console: their login to the public HTTP API and the few calls they make.

Only documented routes (docs/api.md): `POST /auth/token`, `GET /cases` with the API's own filters and
cursor, `GET /cases/{id}`, `POST /cases/{id}/<action>`, and the Open311 intake. A 401 (the token expired)
logs in again once; every other refusal is an `ApiRefused` with the status and the problem body, which
the person reads as a person would (409: somebody else moved the case first).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx

MAX_PAGES = 20  # 20 × 200 cases: more than a person's work list ever holds
LOGIN_TRIES = 30


class ApiRefused(Exception):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path}: {status} {body[:300]}")
        self.status, self.body = status, body


class Console:
    """One user's session (the user's own token), over a shared connection pool."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, username: str, password: str) -> None:
        self.http, self.base = http, base_url.rstrip("/")
        self.username, self._password = username, password
        self._token: str | None = None

    async def login(self) -> None:
        """Log in; when the login service is busy (429: many colleagues start their shift at once, and password
        hashing is bounded) wait as it says and try again."""
        for _ in range(LOGIN_TRIES):
            r = await self.http.post(f"{self.base}/auth/token",
                                     data={"username": self.username, "password": self._password})
            if r.status_code == 429:
                await asyncio.sleep(float(r.json().get("retry_after_s") or 1.0) * (0.5 + random.random()))
                continue
            if r.status_code != 200:
                raise ApiRefused("POST", "/auth/token", r.status_code, r.text)
            self._token = r.json()["access_token"]
            return
        raise ApiRefused("POST", "/auth/token", r.status_code, r.text)

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        for attempt in (1, 2):
            if self._token is None:
                await self.login()
            r = await self.http.request(method, f"{self.base}{path}",
                                        headers={"Authorization": f"Bearer {self._token}"}, **kwargs)
            if r.status_code == 401 and attempt == 1:
                self._token = None
                continue
            if r.status_code >= 400:
                raise ApiRefused(method, path, r.status_code, r.text)
            return r.json() if r.content else None
        raise AssertionError("unreachable")

    async def cases(self, states: list[str], **filters: Any) -> list[dict[str, Any]]:
        """Every case in these states that the user's scope shows (following the cursor)."""
        params: dict[str, Any] = {"state": states, "limit": 200,
                                  **{k: v for k, v in filters.items() if v is not None}}
        out: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            page = await self.request("GET", "/cases", params=params)
            out += page["items"]
            if not page.get("next_cursor"):
                break
            params["cursor"] = page["next_cursor"]
        return out

    async def case(self, case_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", f"/cases/{case_id}")
        return result

    async def act(self, case_id: str, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("POST", f"/cases/{case_id}/{action.replace('_', '-')}",
                                                    json=body or {})
        return result


async def open311_request(http: httpx.AsyncClient, base_url: str, api_key: str, form: dict[str, str]) -> str:
    """POST a GeoReport v2 service request as a 12319 hotline system does; the service_request_id."""
    r = await http.post(f"{base_url.rstrip('/')}/open311/v2/requests.json", data={**form, "api_key": api_key})
    if r.status_code != 201:
        raise ApiRefused("POST", "/open311/v2/requests.json", r.status_code, r.text)
    return str(r.json()[0]["service_request_id"])
