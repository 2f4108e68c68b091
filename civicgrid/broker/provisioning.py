"""Provisioning: registry changes that also update the broker (used by the CLI, the API and the city loader).

Choice: Mosquitto's password and ACL files regenerated from the registry and
reloaded with SIGHUP, rather than the dynamic-security plugin.  The registry
table stays the single source of truth (dynamic security keeps a second copy
of every account in its own JSON file that can drift from it), the files are
plain and diffable, a reload of a few thousand accounts takes milliseconds,
and the same generated files serve a production Mosquitto.  EMQX in production
would instead authenticate against the ``devices`` table directly.  Every function
takes the broker whose files to keep in step (``broker``, civicgrid/broker/sync.py;
None for such a broker): provisioning itself knows nothing of the local stack.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from civicgrid.broker.accounts import hash_secret
from civicgrid.broker.sync import BrokerFiles, sync_broker_accounts
from civicgrid.domain.devices import validate_device_id
from civicgrid.profiles import load_profiles
from civicgrid.settings import Settings
from civicgrid.store import devices as registry
from civicgrid.store.db import connect


@dataclass(frozen=True, slots=True)
class Provisioned:
    device_id: str
    secret: str  # shown once; only its hash is stored


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def add_device(settings: Settings, device_id: str, kind: str, *, broker: BrokerFiles | None,
               profile: str | None = None, secret: str | None = None, component_code: str | None = None,
               grid_cell_code: str | None = None, inspector_user_id: int | None = None) -> Provisioned:
    profiles = load_profiles(settings.profiles_dir)
    profile = profile or kind
    if profile not in profiles:
        raise ValueError(f"unknown device profile {profile!r}; profiles: {', '.join(sorted(profiles))}")
    _not_a_service_account(settings, [device_id])
    secret = secret or new_secret()
    with connect(settings.db, autocommit=True) as conn:
        registry.insert_device(conn, device_id, kind, profile, hash_secret(secret), component_code=component_code,
                               grid_cell_code=grid_cell_code, inspector_user_id=inspector_user_id)
    sync_broker_accounts(settings, broker)
    return Provisioned(device_id, secret)


def add_devices(settings: Settings, devices: list[tuple[str, str]], *, broker: BrokerFiles | None) -> list[Provisioned]:
    """Register many (device id, kind) pairs in one transaction and one broker reload (fleet roll-out)."""
    profiles = load_profiles(settings.profiles_dir)
    unknown = sorted({kind for _, kind in devices} - set(profiles))
    if unknown:
        raise ValueError(f"unknown device profile(s) {unknown}; profiles: {', '.join(sorted(profiles))}")
    _not_a_service_account(settings, [device_id for device_id, _ in devices])
    done = [Provisioned(device_id, new_secret()) for device_id, _ in devices]
    with connect(settings.db) as conn, conn.transaction():
        for (device_id, kind), provisioned in zip(devices, done, strict=True):
            registry.insert_device(conn, device_id, kind, kind, hash_secret(provisioned.secret))
    sync_broker_accounts(settings, broker)
    return done


def _not_a_service_account(settings: Settings, device_ids: list[str]) -> None:
    """A device id is an MQTT user name: one equal to the gateway's would share (or shadow) its account."""
    if settings.mqtt.username in device_ids:
        raise ValueError(f"device id {settings.mqtt.username!r} is the gateway's MQTT service account; choose another")


def set_device_enabled(settings: Settings, device_id: str, enabled: bool, *, broker: BrokerFiles | None) -> None:
    with connect(settings.db, autocommit=True) as conn:
        registry.set_enabled(conn, device_id, enabled)
    sync_broker_accounts(settings, broker)


def rotate_secret(settings: Settings, device_id: str, secret: str | None = None, *,
                  broker: BrokerFiles | None) -> Provisioned:
    secret = secret or new_secret()
    with connect(settings.db, autocommit=True) as conn:
        registry.set_secret_hash(conn, device_id, hash_secret(secret))
    sync_broker_accounts(settings, broker)
    return Provisioned(device_id, secret)


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """A device to register with its links (component, cell, inspector) and, optionally, a known secret."""

    device_id: str
    kind: str
    component_code: str | None = None
    grid_cell_code: str | None = None
    inspector_user_id: int | None = None
    secret: str | None = None


def upsert_linked_devices(settings: Settings, specs: list[DeviceSpec], *,
                          broker: BrokerFiles | None) -> list[Provisioned]:
    """Register or re-register many devices with their links in one transaction and one broker reload.

    Idempotent (city loads, simulated fleets): an existing device keeps its id, gets the
    spec's kind and links, is enabled, and its secret is set to the spec's secret (or a new one).
    """
    profiles = load_profiles(settings.profiles_dir)
    unknown = sorted({s.kind for s in specs} - set(profiles))
    if unknown:
        raise ValueError(f"unknown device profile(s) {unknown}; profiles: {', '.join(sorted(profiles))}")
    _not_a_service_account(settings, [s.device_id for s in specs])
    done = [Provisioned(s.device_id, s.secret or new_secret()) for s in specs]
    with connect(settings.db) as conn, conn.transaction():
        for spec, provisioned in zip(specs, done, strict=True):
            validate_device_id(spec.device_id)
            conn.execute(
                "INSERT INTO devices (id, kind, profile, secret_hash, component_code, grid_cell_code, "
                "inspector_user_id) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                "kind = excluded.kind, profile = excluded.profile, secret_hash = excluded.secret_hash, "
                "component_code = excluded.component_code, grid_cell_code = excluded.grid_cell_code, "
                "inspector_user_id = excluded.inspector_user_id, enabled = true, updated_at = now()",
                (spec.device_id, spec.kind, spec.kind, hash_secret(provisioned.secret), spec.component_code,
                 spec.grid_cell_code, spec.inspector_user_id))
            conn.execute("SELECT pg_notify(%s, %s)", (registry.CHANGE_CHANNEL, spec.device_id))
    sync_broker_accounts(settings, broker)
    return done
