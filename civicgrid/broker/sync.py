"""Keep a broker's accounts in step with the device registry: regenerate them, have the broker re-read them.

Where the generated files go and how the running broker is told are not provisioning's business: a
`BrokerFiles` is passed in by whoever runs the broker. The local stack's Mosquitto
(`civicgrid.stack.mosquitto.local_broker`) writes them under its var directory and signals the pid it
started; a production Mosquitto would bring its own; a broker that authenticates against the `devices`
table itself (EMQX) needs none (None), and provisioning then changes the registry only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Protocol

from civicgrid.broker.accounts import BrokerAccount, device_account, hash_secret, service_account
from civicgrid.settings import Settings
from civicgrid.store.db import connect
from civicgrid.store.devices import enabled_credentials

log = logging.getLogger(__name__)


class BrokerFiles(Protocol):
    """A broker that takes its accounts from generated password and ACL files (Mosquitto)."""

    def write(self, accounts: Sequence[BrokerAccount]) -> None:
        """Write the password and ACL files where the broker reads them."""

    def reload(self) -> bool:
        """Ask the running broker to re-read them (Mosquitto: SIGHUP); True if a broker was asked."""


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


def sync_broker_accounts(settings: Settings, broker: BrokerFiles | None) -> int:
    """Write the broker's password and ACL files from the registry and have it re-read them; return the device
    count (0 without a broker: there is nothing to write)."""
    if broker is None:
        return 0
    accounts = registry_accounts(settings)
    broker.write(accounts)
    reloaded = broker.reload()
    log.info("broker accounts written: %d devices%s", len(accounts) - 1, ", broker reloaded" if reloaded else "")
    return len(accounts) - 1


def wait_for_login(settings: Settings, broker: BrokerFiles, device_id: str, secret: str,
                   timeout_s: float = 15.0) -> bool:
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
            broker.reload()
            next_signal = time.monotonic() + 1.0
        time.sleep(0.1)
    return False
