"""Session fixtures: the real Mosquitto, Apache Kafka and PostgreSQL+TimescaleDB, started once per run.

The stack starts only when a test asks for it (unit tests never do), on free
ports in a throwaway directory, and is stopped at the end of the session.
Its logs are kept when a test failed, and the path is printed.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest

from civicgrid.broker.provisioning import add_device
from civicgrid.broker.sync import wait_for_login
from civicgrid.settings import Settings
from civicgrid.stack import LocalStack
from civicgrid.stack.mosquitto import local_broker
from civicgrid.store.db import connect
from gateway.service import Gateway
from tests.support.stack import free_ports, test_settings

# The API's session fixtures (an organisation, users, tokens, the app in process and under uvicorn).
pytest_plugins = ["tests.support.api_fixtures"]


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


def gateway_settings(settings: Settings, name: str) -> Settings:
    (metrics_port,) = free_ports(1)
    gw = settings.gateway.model_copy(update={"client_id": f"gw-{name}-{uuid.uuid4().hex[:6]}",
                                             "share_group": f"g{uuid.uuid4().hex[:6]}",
                                             "metrics_port": metrics_port})
    return settings.model_copy(update={"gateway": gw})


@pytest.fixture
def gateway(settings: Settings) -> Iterator[Gateway]:
    """A gateway in a thread of the test process, subscribed before the test starts."""
    gw = Gateway(gateway_settings(settings, "t"))
    stop = threading.Event()
    thread = threading.Thread(target=gw.run, args=(stop,), daemon=True)
    thread.start()
    assert gw.subscribed.wait(10), "gateway did not subscribe"
    yield gw
    stop.set()
    thread.join(20)


@pytest.fixture
def provision(settings: Settings) -> Callable[..., tuple[str, str]]:
    """Register a device of a kind and wait until the broker accepts its login."""

    def make(kind: str, **links) -> tuple[str, str]:
        device_id = f"{kind}-{uuid.uuid4().hex[:8]}"
        broker = local_broker(settings)
        secret = add_device(settings, device_id, kind, broker=broker, **links).secret
        if wait_for_login(settings, broker, device_id, secret):  # Mosquitto reloads its files asynchronously
            return device_id, secret
        raise AssertionError(f"{device_id} cannot log in after provisioning")

    return make
