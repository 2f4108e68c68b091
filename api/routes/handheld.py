"""/handhelds: pairing an inspector's phone as a handheld device, and what the handheld web app reads over HTTP.

The app itself is static files at /handheld/ (api/console/handheld, built with the console). Its reports, tracks
and task answers go over MQTT like any handheld's (docs/handheld.md); over HTTP it only uploads photos
(POST /media) and reads the category list, who it belongs to, the cell it stands in, its inspector's patrol
plan and coverage today, authenticated with HTTP Basic (device id and secret) as its inspector, and the photos of
the tasks sent to it, authenticated as that device alone.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse

from api.auth import HandheldDevice, handheld_device, require, require_or_handheld
from api.deps import Ctx, Db
from api.errors import ApiError, not_found
from api.queries import patrol as patrol_queries
from api.routes.intake import _options as category_options
from api.routes.media import MediaIdPath, media_file
from api.routes.patrol import coverage_of, today
from api.schemas.handheld import HandheldMe, HandheldPatrol, HandheldPlace, HandheldPlan, PairingIn, PairingOut
from api.schemas.intake import CategoryOption
from api.users import User
from civicgrid.broker import provisioning
from civicgrid.cases.field_tasks import TASK_COMMANDS
from civicgrid.domain.case_state import Role
from civicgrid.handheld import Pairing, handheld_device_id, qr_svg
from civicgrid.store.addresses import NEAR_ADDRESS_M, reverse_geocode

router = APIRouter(prefix="/handhelds", tags=["handhelds"])
Supervisor = Annotated[User, Depends(require(Role.SHIFT_LEADER))]
Handheld = Annotated[User, Depends(require_or_handheld(Role.INSPECTOR))]
Device = Annotated[HandheldDevice, Depends(handheld_device)]
APP_PATH = "handheld/"


@router.post("/pairings", status_code=201, summary="Register a handheld for an inspector and return its pairing "
                                                    "link and QR code (the secret is shown this once)",
             responses={422: {"description": "no such enabled inspector"}})
def pair(request: Request, ctx: Ctx, db: Db, body: PairingIn, user: Supervisor) -> PairingOut:
    row = db.execute("SELECT id, role, enabled, coalesce(display_name, username) FROM users WHERE username = %s",
                     (body.inspector,)).fetchone()
    if row is None or not row[2] or row[1] != Role.INSPECTOR.value:
        raise ApiError(422, "not-an-inspector", f"{body.inspector!r} is not an enabled inspector")
    user_id, _, _, name = row
    done = provisioning.add_device(ctx.settings, handheld_device_id(user_id), "handheld", broker=ctx.broker,
                                   inspector_user_id=user_id)
    mqtt = ctx.settings.mqtt
    pairing = Pairing(done.device_id, done.secret, name, mqtt.ws_url, mqtt.ws_port)
    link = pairing.link(str(request.base_url) + APP_PATH)
    return PairingOut(device_id=done.device_id, inspector=name, link=link, qr_svg=qr_svg(link),
                      mqtt_url=mqtt.ws_url, ws_port=mqtt.ws_port)


@router.get("/me", summary="The handheld's own device id and inspector (the app's check that its pairing works)",
            responses={401: {"description": "not a handheld's device id and secret (HTTP Basic)"}})
def me(device: Device) -> HandheldMe:
    # The device's own credentials, checked: an inspector's login or API key is not a handheld, and a Basic header
    # beside it is not taken at its word.
    user = device.inspector
    return HandheldMe(device_id=device.device_id, inspector=user.display_name or user.username,
                      responsibility_grid_id=user.responsibility_grid_id)


@router.get("/categories", summary="The minor categories with their search keys (as the intake screen's), for "
                                   "the handheld's category search; the app keeps them for offline use")
def categories(ctx: Ctx, db: Db, user: Handheld) -> list[CategoryOption]:
    return category_options(ctx.current_rules(db).catalogue)


@router.get("/patrol", summary="The inspector's patrol plan for today and the coverage so far (the phone's patrol "
                               "card; the app keeps the last one for offline use)")
def patrol(db: Db, user: Handheld) -> HandheldPatrol:
    day = today()
    plan = patrol_queries.plan_on(db, day, user.id)
    mine = coverage_of(db, day, user.id, None)
    return HandheldPatrol(day=day, plan=HandheldPlan(**plan) if plan else None, coverage=mine[0] if mine else None)


@router.get("/place", summary="The unit grid cell and nearest address at the phone's position (shown before it "
                              "reports; offline the app shows none and the platform places the report)")
def place(ctx: Ctx, db: Db, user: Handheld, lon: Annotated[float, Query(ge=-180, le=180)],
          lat: Annotated[float, Query(ge=-90, le=90)]) -> HandheldPlace:
    near = reverse_geocode(db, lon, lat, radius_m=NEAR_ADDRESS_M)
    return HandheldPlace(grid_cell_code=ctx.grid_index(db).lookup(lon, lat), address=near.address)


@router.get("/media/{media_id}", summary="A photo of a task sent to this handheld (the case's photos on its task "
                                         "card), with the device's own credentials only",
            response_class=FileResponse, responses={200: {"content": {"image/jpeg": {}}},
                                                    404: {"description": "not a photo of a task sent to it"}})
def task_photo(ctx: Ctx, db: Db, media_id: MediaIdPath, device: Device) -> FileResponse:
    # A phone sees the photos of the cases it was sent, no other medium: not those of another handheld's tasks,
    # nor anything its inspector's login could read. 404 alike for an unknown id and another's photo.
    sent = db.execute("SELECT 1 FROM device_commands WHERE device_id = %s AND name = ANY(%s) "
                      "AND args -> 'photo_ids' ? %s LIMIT 1",
                      (device.device_id, list(TASK_COMMANDS.values()), media_id)).fetchone()
    if sent is None:
        raise not_found("media", media_id)
    return media_file(ctx, db, media_id)
