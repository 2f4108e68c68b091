"""/devices: the registry (on the gateway's provisioning functions), status, and downlink commands.

Registering, enabling and rotating go through civicgrid.broker.provisioning, which also
regenerates the broker's accounts, so a device can connect (or is shut out) at once. A
command is a record on cg.commands (civicgrid.bus.commands); its fate arrives on
cg.command-acks and is stored by the API's ack reader (api.background), so
GET …/commands/{id} follows it: queued → sent → acked | failed | timed_out.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from api.auth import require
from api.deps import Ctx, Db
from api.errors import ApiError, not_found
from api.queries import devices as q
from api.schemas.devices import CommandIn, CommandStatus, DeviceCreate, DeviceSecret, DeviceStatus, DeviceUpdate
from api.users import User
from civicgrid.broker import provisioning
from civicgrid.bus.commands import send_command
from civicgrid.domain.case_state import Role
from civicgrid.profiles import load_profiles
from civicgrid.store import device_commands
from civicgrid.store.devices import DeviceExists

router = APIRouter(prefix="/devices", tags=["devices"])
Readers = Annotated[User, Depends(require(Role.OPERATOR, Role.DISPATCHER, Role.SHIFT_LEADER, Role.LEADER))]
Admin = Annotated[User, Depends(require())]
DeviceId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
NOT_FOUND = {404: {"description": "no such device"}}


def _status(ctx: Ctx, db: Db, device_id: str) -> DeviceStatus:
    rows = q.device_status(db, load_profiles(ctx.settings.profiles_dir), datetime.now(UTC), device_id=device_id)
    if not rows:
        raise not_found("device", device_id)
    return DeviceStatus(**rows[0])


@router.get("", summary="Devices with their status (online, last seen, battery, open alarms)")
def list_devices(ctx: Ctx, db: Db, user: Readers,
                 kind: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9-]*$", max_length=64)] = None,
                 ) -> list[DeviceStatus]:
    rows = q.device_status(db, load_profiles(ctx.settings.profiles_dir), datetime.now(UTC), kind=kind)
    return [DeviceStatus(**r) for r in rows]


@router.post("", status_code=201, summary="Register a device; returns its MQTT secret once",
             responses={409: {"description": "already registered"}, 422: {"description": "unknown profile/link"}})
def register(ctx: Ctx, db: Db, body: DeviceCreate, admin: Admin) -> DeviceSecret:
    for table, column, value in (("components", "code", body.component_code),
                                 ("grid_cells", "code", body.grid_cell_code),
                                 ("users", "id", body.inspector_user_id)):
        if value is not None and db.execute(f"SELECT 1 FROM {table} WHERE {column} = %s", (value,)).fetchone() is None:
            raise ApiError(422, "unknown-link", f"unknown {table[:-1].replace('_', ' ')} {value}")
    try:
        done = provisioning.add_device(ctx.settings, body.id, body.kind, broker=ctx.broker, profile=body.profile,
                                       component_code=body.component_code, grid_cell_code=body.grid_cell_code,
                                       inspector_user_id=body.inspector_user_id)
    except DeviceExists:
        raise
    except ValueError as exc:
        raise ApiError(422, "bad-device", str(exc)) from None
    return DeviceSecret(device_id=done.device_id, secret=done.secret)


@router.get("/{device_id}", summary="One device's status", responses=NOT_FOUND)
def get_device(ctx: Ctx, db: Db, device_id: DeviceId, user: Readers) -> DeviceStatus:
    return _status(ctx, db, device_id)


@router.patch("/{device_id}", summary="Enable or disable (a disabled device loses its broker account)",
              responses=NOT_FOUND)
def update_device(ctx: Ctx, db: Db, device_id: DeviceId, body: DeviceUpdate, admin: Admin) -> DeviceStatus:
    provisioning.set_device_enabled(ctx.settings, device_id, body.enabled, broker=ctx.broker)
    return _status(ctx, db, device_id)


@router.post("/{device_id}/secret", summary="Rotate the device's MQTT secret; returns the new one once",
             responses=NOT_FOUND)
def rotate_secret(ctx: Ctx, device_id: DeviceId, admin: Admin) -> DeviceSecret:
    done = provisioning.rotate_secret(ctx.settings, device_id, broker=ctx.broker)
    return DeviceSecret(device_id=done.device_id, secret=done.secret)


@router.post("/{device_id}/commands", status_code=202, summary="Send a downlink command (follow it with GET)",
             responses={**NOT_FOUND, 409: {"description": "device disabled"}, 503: {"description": "Kafka down"}})
def command(request: Request, ctx: Ctx, db: Db, device_id: DeviceId, body: CommandIn,
            user: Annotated[User, Depends(require(Role.OPERATOR))]) -> CommandStatus:
    row = db.execute("SELECT enabled FROM devices WHERE id = %s", (device_id,)).fetchone()
    if row is None:
        raise not_found("device", device_id)
    if not row[0]:
        raise ApiError(409, "device-disabled", f"device {device_id} is disabled")
    now = datetime.now(UTC)
    try:
        command_id = send_command(ctx.producer, device_id, body.name, body.args, timeout_s=body.timeout_s,
                                  issued_by=user.username, now=now)
    except TimeoutError as exc:
        raise ApiError(503, "kafka-unavailable", str(exc)) from None
    device_commands.record_command(db, command_id, device_id, body.name, body.args, user.username, now, body.timeout_s)
    request.app.state.metrics.command_step("queued")
    found = q.get_command(db, device_id, command_id)
    assert found is not None
    return CommandStatus(**found)


@router.get("/{device_id}/commands", summary="Recent commands of a device")
def commands(db: Db, device_id: DeviceId, user: Readers,
             limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[CommandStatus]:
    return [CommandStatus(**r) for r in q.list_commands(db, device_id, limit)]


@router.get("/{device_id}/commands/{command_id}", summary="One command and its latest status",
            responses={404: {"description": "no such command"}})
def get_command(db: Db, device_id: DeviceId, command_id: uuid.UUID, user: Readers) -> CommandStatus:
    found = q.get_command(db, device_id, str(command_id))
    if found is None:
        raise not_found("command", command_id)
    return CommandStatus(**found)
