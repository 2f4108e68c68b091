"""Regenerate the broker's accounts from the device registry and reload it."""

from __future__ import annotations

import logging
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
    gateway = service_account(settings.mqtt.username, hash_secret(settings.mqtt.password.get_secret_value()))
    return [gateway, *(device_account(d.device_id, d.secret_hash) for d in devices)]


def sync_broker_accounts(settings: Settings, broker_pid: int | None) -> int:
    """Write the password and ACL files from the registry, SIGHUP the broker; return the device count."""
    accounts = registry_accounts(settings)
    write_broker_files(mosquitto_dir(settings), accounts)
    reloaded = reload_broker(broker_pid)
    log.info("broker accounts written: %d devices%s", len(accounts) - 1, ", broker reloaded" if reloaded else "")
    return len(accounts) - 1
