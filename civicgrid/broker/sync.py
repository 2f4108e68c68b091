"""Regenerate the broker's accounts from the device registry and reload it."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from civicgrid.broker.accounts import BrokerAccount, device_account, hash_secret, service_account
from civicgrid.broker.mosquitto_files import reload_broker, write_broker_files
from civicgrid.settings import Settings
from civicgrid.store.db import connect
from civicgrid.store.devices import enabled_credentials

log = logging.getLogger(__name__)


def mosquitto_dir(settings: Settings) -> Path:
    return settings.stack.var_dir.resolve() / "mosquitto"


def mosquitto_pid(settings: Settings) -> int | None:
    """The pid of the stack's running Mosquitto, if any (read from its pid file)."""
    from civicgrid.stack.process import ManagedProcess

    var = settings.stack.var_dir.resolve()
    return ManagedProcess("mosquitto", var / "run", var / "log" / "mosquitto.log").pid()


def registry_accounts(settings: Settings) -> list[BrokerAccount]:
    """The gateway's service account plus one account per enabled device."""
    with connect(settings.db) as conn:
        devices = enabled_credentials(conn)
    gateway = service_account(settings.mqtt.username, hash_secret(settings.mqtt.password_value()))
    # A device registered (by SQL, say) under the service account's name must not replace its account.
    shadowing = [d.device_id for d in devices if d.device_id == settings.mqtt.username]
    if shadowing:
        log.error("device %s has the gateway's MQTT user name: no broker account for it", shadowing[0])
    return [gateway, *(device_account(d.device_id, d.secret_hash) for d in devices
                       if d.device_id != settings.mqtt.username)]


def sync_broker_accounts(settings: Settings, broker_pid: int | None) -> int:
    """Write the password and ACL files from the registry, SIGHUP the broker; return the device count."""
    accounts = registry_accounts(settings)
    write_broker_files(mosquitto_dir(settings), accounts)
    reloaded = reload_broker(broker_pid)
    log.info("broker accounts written: %d devices%s", len(accounts) - 1, ", broker reloaded" if reloaded else "")
    return len(accounts) - 1


def wait_for_login(settings: Settings, device_id: str, secret: str, timeout_s: float = 15.0) -> bool:
    """Wait until the broker accepts a newly provisioned account; True once it does.

    Mosquitto 2.0.11 drops a SIGHUP that arrives while it is still reloading for an
    earlier one (seen here: a city load of 900 devices, then one more device at once —
    the broker reloaded once and refused the new login until signalled again). So probe
    the login, and signal again every second until it is accepted.
    """
    from civicgrid.broker.probe import mqtt_login

    deadline = time.monotonic() + timeout_s
    next_signal = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        if mqtt_login(settings.mqtt.host, settings.mqtt.port, device_id, secret) == "ok":
            return True
        if time.monotonic() >= next_signal:
            reload_broker(mosquitto_pid(settings))
            next_signal = time.monotonic() + 1.0
        time.sleep(0.1)
    return False

