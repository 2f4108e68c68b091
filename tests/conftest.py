"""Session fixtures: the real Mosquitto, Tansu and PostgreSQL+TimescaleDB, started once per run.

The stack starts only when a test asks for it (unit tests never do), on free
ports in a throwaway directory, and is stopped at the end of the session.
Its logs are kept when a test failed, and the path is printed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import psycopg
import pytest

from civicgrid.settings import Settings
from civicgrid.stack import LocalStack
from civicgrid.store.db import connect
from tests.support.stack import test_settings


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Iterator[LocalStack]:
    settings = test_settings()
    local = LocalStack(settings)
    try:
        local.up()
        yield local
    finally:
        local.down()
        base = settings.stack.var_dir.parent
        if request.session.testsfailed:
            print(f"\ncivicgrid test stack logs kept in {settings.stack.var_dir / 'log'}")
        else:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def settings(stack: LocalStack) -> Settings:
    return stack.settings


@pytest.fixture
def db(settings: Settings) -> Iterator[psycopg.Connection]:
    with connect(settings.db, autocommit=True) as conn:
        yield conn
