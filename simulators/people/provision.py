"""The people's accounts, made through the API by an admin as a centre's administrator would.

One user per person and role (`<prefix>operator1`, `<prefix>leader1`, `<prefix>dispatcher1`, one
`<prefix>dept-<id>` per department, one `<prefix>inspector-<grid>` per responsibility grid) and the
12319 hotline system's account (`<prefix>12319`, an operator) with an Open311 API key, and, when the scenario
has a video wall, its operator (`<prefix>video1`). Passwords are
generated here, sent with `POST /users`, and kept in a state file (mode 0600) so that the next run logs
in with them; a user that exists without a kept password is an error that says so.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from simulators.people.client import Console
from simulators.people.scenario import PeopleScenario


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    role: str
    password: str
    department_id: str | None = None
    grid_id: str | None = None


@dataclass(frozen=True, slots=True)
class Staff:
    accounts: list[Account]
    hotline_api_key: str
    departments: list[str]
    cells: dict[str, Any]  # GeoJSON of the town's cells (GET /map/cells)


def read_state(path: Path) -> dict[str, Any]:
    return orjson.loads(path.read_bytes()) if path.exists() else {"users": {}}


def write_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(orjson.dumps(state, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    tmp.replace(path)


def _slug(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", value).lower()


def wanted_accounts(scenario: PeopleScenario, departments: list[str], grids: list[str]) -> list[tuple[str, ...]]:
    """(username, role, department, grid) of every simulated person; pure, for the tests."""
    p = scenario.user_prefix
    out: list[tuple[str, ...]] = []
    out += [(f"{p}operator{i + 1}", "operator", "", "") for i in range(scenario.operators.count)]
    out += [(f"{p}leader{i + 1}", "shift_leader", "", "") for i in range(scenario.shift_leaders.count)]
    out += [(f"{p}dispatcher{i + 1}", "dispatcher", "", "") for i in range(scenario.dispatchers.count)]
    out += [(f"{p}dept-{_slug(d)}", "department", d, "") for d in departments]
    out += [(f"{p}inspector-{_slug(g)}", "inspector", "", g) for g in grids]
    out.append((f"{p}12319", "operator", "", ""))
    if scenario.video.captures_per_day > 0:
        out.append((f"{p}video1", "operator", "", ""))  # the video wall's operator (视频抓拍)
    return out


async def provision(admin: Console, scenario: PeopleScenario, state_path: Path) -> Staff:
    """Create what is missing, through the API; return every account with its password."""
    state = read_state(state_path)
    departments = [d["id"] for d in await admin.request("GET", "/departments")]
    if scenario.scope.departments is not None:
        departments = [d for d in departments if d in scenario.scope.departments]
    cells = await admin.request("GET", "/map/cells")
    prefix = scenario.scope.cell_prefix or ""
    grids = scenario.scope.grids if scenario.scope.grids is not None else sorted(
        {f["properties"]["grid"] for f in cells["features"]
         if f["properties"].get("grid") and f["properties"]["code"].startswith(prefix)})
    users = {u["username"]: u for u in await admin.request("GET", "/users")}
    accounts = []
    for username, role, department, grid in wanted_accounts(scenario, departments, grids):
        password = state["users"].get(username)
        if username not in users:
            password = secrets.token_urlsafe(18)
            created = await admin.request("POST", "/users", json={
                "username": username, "role": role, "password": password, "department_id": department or None,
                "responsibility_grid_id": grid or None, "display_name": f"模拟 {username}"})
            users[username] = created
            state["users"][username] = password
            write_state(state_path, state)
        elif password is None:
            raise RuntimeError(f"user {username} exists but its password is not in {state_path}: disable it "
                               f"(`civicgrid users disable {username}`) and choose another user_prefix")
        accounts.append(Account(username, role, password, department or None, grid or None))
    key = state.get("hotline_api_key")
    if key is None:
        hotline = users[f"{scenario.user_prefix}12319"]
        created = await admin.request("POST", "/api-keys", json={"user_id": hotline["id"], "name": "12319 (simulated)",
                                                                 "scopes": ["open311"]})
        key = state["hotline_api_key"] = created["api_key"]
        write_state(state_path, state)
    return Staff(accounts, key, departments, cells)
