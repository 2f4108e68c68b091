"""Fixtures of the case-layer tests: a unit grid cell and a department of their own, in the shared database."""

from __future__ import annotations

import random
import uuid

import orjson
import psycopg
import pytest


@pytest.fixture
def cell(db: psycopg.Connection) -> str:
    code = f"341523001{random.randrange(1, 1000):03d}{random.randrange(1, 100):02d}"  # sequences start at 1
    ring = [[117.0, 31.5], [117.001, 31.5], [117.001, 31.501], [117.0, 31.501], [117.0, 31.5]]
    db.execute("INSERT INTO grid_cells (code, geometry, area_m2) VALUES (%s, %s, 10000) ON CONFLICT DO NOTHING",
               (code, orjson.dumps({"type": "Polygon", "coordinates": [ring]}).decode()))
    return code


@pytest.fixture
def department(db: psycopg.Connection) -> str:
    dept = f"dept-{uuid.uuid4().hex[:6]}"
    db.execute("INSERT INTO departments (id, name) VALUES (%s, '市政')", (dept,))
    return dept
