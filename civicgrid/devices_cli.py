"""``civicgrid devices``: the device registry from the command line: provisioning a device with its broker
account and secret, showing and listing it, its JT/T 808 code, GB/T 28181 password and carrier binding,
enabling, disabling and rotating its secret.

``devices_app`` is added by civicgrid/cli.py; provisioning (civicgrid/broker/) and the database are imported
inside the commands, so ``civicgrid --help`` stays fast.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from civicgrid import command_settings
from civicgrid.command_settings import fail

devices_app = typer.Typer(help="The device registry: provisioning, secrets, enabling.", no_args_is_help=True)
console = Console(stderr=True)


@devices_app.command("add")
def devices_add(
    device_id: Annotated[str, typer.Argument(help="Device id: the MQTT username and topic level cg/<id>/...")],
    kind: Annotated[str, typer.Option(help="Device kind: a profile in device-profiles/.")],
    profile: Annotated[str | None, typer.Option(help="Profile, if other than the kind.")] = None,
    component: Annotated[str | None, typer.Option(help="16-digit code of the component it is fitted to.")] = None,
    grid_cell: Annotated[str | None, typer.Option(help="Unit grid cell code where it is installed.")] = None,
    inspector: Annotated[int | None, typer.Option(help="User id of the inspector carrying it.")] = None,
    secret_stdin: Annotated[bool, typer.Option(help="Read the secret from stdin instead of generating one.")] = False,
) -> None:
    """Register a device and create its broker account; prints the generated secret once."""
    from civicgrid.broker.provisioning import add_device
    from civicgrid.broker.sync import wait_for_login
    from civicgrid.stack.mosquitto import local_broker
    from civicgrid.store.devices import DeviceExists

    secret = sys.stdin.readline().strip() if secret_stdin else None
    settings = command_settings.current()
    broker = local_broker(settings)
    try:
        done = add_device(settings, device_id, kind, broker=broker, profile=profile, secret=secret,
                          component_code=component, grid_cell_code=grid_cell, inspector_user_id=inspector)
    except (ValueError, DeviceExists) as exc:
        raise fail(str(exc)) from None
    console.print(f"device {device_id} registered; its MQTT username is {device_id}")
    if broker.running():  # the local stack's broker: wait until the new login works
        if wait_for_login(settings, broker, device_id, done.secret):
            console.print("the broker accepts its login")
        else:
            console.print("[yellow]warning:[/] the broker did not accept its login within 15 s; "
                          "`civicgrid stack status` shows whether Mosquitto is running")
    if not secret_stdin:
        console.print("secret (shown once; only its hash is kept):")
        print(done.secret)


@devices_app.command("list")
def devices_list(kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None) -> None:
    """List registered devices."""
    from civicgrid.store.db import connect
    from civicgrid.store.devices import list_devices

    with connect(command_settings.current().db) as conn:
        devices = list_devices(conn, kind=kind)
    table = Table(title=f"{len(devices)} devices")
    for column in ("id", "kind", "enabled", "component", "grid cell", "last seen"):
        table.add_column(column)
    for d in devices:
        table.add_row(d.id, d.kind, "yes" if d.enabled else "[red]no[/]", d.component_code or "",
                      d.grid_cell_code or "", str(d.last_seen_at or ""))
    Console().print(table)


@devices_app.command("show")
def devices_show(device_id: str) -> None:
    """Show one device's registry entry (never its secret)."""
    import dataclasses

    from civicgrid.store.db import connect
    from civicgrid.store.devices import DeviceNotFound, get_device

    with connect(command_settings.current().db) as conn:
        try:
            device = get_device(conn, device_id)
        except DeviceNotFound as exc:
            raise fail(str(exc)) from None
    for key, value in dataclasses.asdict(device).items():
        print(f"{key}: {value if value is not None else ''}")


@devices_app.command("jt808-code")
def devices_jt808_code(device_id: str) -> None:
    """Print a JT/T 808 terminal's authentication code (what its registration would answer; docs/jt808.md), for a
    terminal set up by hand or when jt808.allow_registration is off."""
    from gateway.jt808.auth import auth_code

    print(auth_code(device_id, _secret_hash(device_id)))


@devices_app.command("gb28181-password")
def devices_gb28181_password(device_id: str) -> None:
    """Print a GB/T 28181 device's SIP password (derived from its registry secret; docs/gb28181.md), to configure
    the camera with; `devices rotate-secret` changes it."""
    from gateway.gb28181.digest import sip_password

    print(sip_password(device_id, _secret_hash(device_id)))


def _secret_hash(device_id: str) -> str:
    """The registry's secret hash of a device, which the protocol gateways derive their credentials from."""
    from civicgrid.store.db import connect

    with connect(command_settings.current().db) as conn:
        row = conn.execute("SELECT secret_hash FROM devices WHERE id = %s", (device_id,)).fetchone()
    if row is None:
        raise fail(f"no device {device_id!r} in the registry")
    return str(row[0])


@devices_app.command("bind-carrier")
def devices_bind_carrier(device_id: str, platform: str = typer.Option(..., help="ctwing or onenet"),
                         carrier_id: str = typer.Option(..., help="the platform's device id (CTWing deviceId, "
                                                        "OneNET dev_id)"),
                         imei: str | None = typer.Option(None, help="the module's IMEI (15 digits): OneNET's "
                                                         "command API addresses a device by it")) -> None:
    """Name a device as the carrier platform's device id, so its pushes reach it and its commands go through the
    platform (docs/carriers.md)."""
    from civicgrid.store import carrier_devices
    from civicgrid.store.db import connect
    from civicgrid.store.devices import DeviceNotFound

    if platform not in carrier_devices.PLATFORMS:
        raise fail(f"platform must be one of {', '.join(carrier_devices.PLATFORMS)}")
    if imei is not None and not (len(imei) == 15 and imei.isdigit()):
        raise fail("--imei must be the module's 15 digits")
    with connect(command_settings.current().db) as conn:
        try:
            carrier_devices.bind(conn, platform, carrier_id, device_id, imei)
        except DeviceNotFound as exc:
            raise fail(str(exc)) from None
        conn.commit()
    console.print(f"{platform} device {carrier_id} → {device_id}")


def _set_enabled(device_id: str, enabled: bool) -> None:
    from civicgrid.broker.provisioning import set_device_enabled
    from civicgrid.stack.mosquitto import local_broker
    from civicgrid.store.devices import DeviceNotFound

    settings = command_settings.current()
    try:
        set_device_enabled(settings, device_id, enabled, broker=local_broker(settings))
    except DeviceNotFound as exc:
        raise fail(str(exc)) from None
    console.print(f"device {device_id} {'enabled' if enabled else 'disabled: the broker refuses its logins'}")


@devices_app.command("disable")
def devices_disable(device_id: str) -> None:
    """Disable a device: its broker account is removed and the gateway dead-letters its messages."""
    _set_enabled(device_id, False)


@devices_app.command("enable")
def devices_enable(device_id: str) -> None:
    """Enable a disabled device again."""
    _set_enabled(device_id, True)


@devices_app.command("rotate-secret")
def devices_rotate_secret(device_id: str) -> None:
    """Give a device a new secret (printed once); the old one stops working at once."""
    from civicgrid.broker.provisioning import rotate_secret
    from civicgrid.stack.mosquitto import local_broker
    from civicgrid.store.devices import DeviceNotFound

    settings = command_settings.current()
    try:
        done = rotate_secret(settings, device_id, broker=local_broker(settings))
    except DeviceNotFound as exc:
        raise fail(str(exc)) from None
    console.print("new secret (shown once; only its hash is kept):")
    print(done.secret)
