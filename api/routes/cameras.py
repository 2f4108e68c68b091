"""/cameras: ONVIF cameras with their health, latest snapshot, regions of interest and detection history.

The registry rows are written by `civicgrid city load` (or an admin); health, snapshots and
detections arrive from the gateway's poller through Kafka and the streams
(streams/cameras.py). Editing the ROIs here reaches the poller at its next registry read
(`cameras.registry_refresh_s`). Credentials are never returned: a camera row holds a
reference to its password, not the password.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query
from fastapi.responses import Response

from api.auth import require
from api.deps import Ctx, Db
from api.errors import ApiError, not_found
from api.queries import cameras as q
from api.schemas.cameras import CameraDetail, CameraPublic, DetectionPublic, RoiIn, RoiPublic
from api.users import User
from civicgrid.domain.case_state import Role
from civicgrid.domain.catalogue import UnknownCategory
from civicgrid.store import cameras as store

MAX_ROIS = 32  # regions per camera: each is checked on every analysed frame

router = APIRouter(prefix="/cameras", tags=["cameras"])
Readers = Annotated[User, Depends(require(Role.OPERATOR, Role.DISPATCHER, Role.SHIFT_LEADER, Role.LEADER))]
Editors = Annotated[User, Depends(require(Role.OPERATOR))]
DeviceId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
NOT_FOUND = {404: {"description": "no such camera"}}


def _camera(db: Db, device_id: str) -> dict:
    rows = q.list_cameras(db, device_id)
    if not rows:
        raise not_found("camera", device_id)
    return rows[0]


@router.get("", summary="Cameras with their health (reachable, last snapshot, last event, last error)")
def list_cameras(db: Db, user: Readers) -> list[CameraPublic]:
    return [CameraPublic(**row) for row in q.list_cameras(db)]


@router.get("/{device_id}", summary="One camera with its regions of interest", responses=NOT_FOUND)
def get_camera(db: Db, device_id: DeviceId, user: Readers) -> CameraDetail:
    row = _camera(db, device_id)
    return CameraDetail(**row, rois=[RoiPublic(**r) for r in store.get_rois(db, device_id)])


@router.get("/{device_id}/snapshot", summary="The latest snapshot (JPEG)", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}}, 404: {"description": "no such camera or no snapshot"}})
def snapshot(db: Db, device_id: DeviceId, user: Readers) -> Response:
    _camera(db, device_id)
    jpeg = q.latest_snapshot(db, device_id)
    if jpeg is None:
        raise ApiError(404, "not-found", f"camera {device_id} has sent no snapshot yet")
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-cache"})


@router.get("/{device_id}/rois", summary="The camera's regions of interest", responses=NOT_FOUND)
def get_rois(db: Db, device_id: DeviceId, user: Readers) -> list[RoiPublic]:
    _camera(db, device_id)
    return [RoiPublic(**r) for r in store.get_rois(db, device_id)]


@router.put("/{device_id}/rois", summary="Replace the camera's regions of interest",
            responses={**NOT_FOUND, 422: {"description": "bad polygon or event code"}})
def put_rois(ctx: Ctx, db: Db, device_id: DeviceId, body: Annotated[list[RoiIn], Body(max_length=MAX_ROIS)],
             user: Editors) -> list[RoiPublic]:
    camera = _camera(db, device_id)
    width, height = camera["image_width"], camera["image_height"]
    ids = [r.id for r in body if r.id]
    if len(ids) != len(set(ids)):
        raise ApiError(422, "bad-roi", "region ids must be unique")
    catalogue = ctx.current_rules(db).catalogue
    for n, roi in enumerate(body):
        try:
            category = catalogue.get(roi.event_code)
        except UnknownCategory:
            raise ApiError(422, "bad-roi", f"region {n}: {roi.event_code} is not in the catalogue") from None
        if category.code.is_major:
            raise ApiError(422, "bad-roi", f"region {n}: {roi.event_code} is a major category; name a minor one")
        for x, y in roi.polygon:
            if (width and x > width) or (height and y > height):
                raise ApiError(422, "bad-roi", f"region {n}: point ({x}, {y}) is outside the {width}×{height} image")
        if len({tuple(p) for p in roi.polygon}) < 3:
            raise ApiError(422, "bad-roi", f"region {n}: a polygon needs at least 3 distinct points")
    saved = store.replace_rois(db, device_id, [r.model_dump() for r in body])
    return [RoiPublic(**r) for r in saved]


@router.get("/{device_id}/detections", summary="Detection history, newest first", responses=NOT_FOUND)
def detections(db: Db, device_id: DeviceId, user: Readers,
               limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[DetectionPublic]:
    _camera(db, device_id)
    return [DetectionPublic(**r) for r in q.detections(db, device_id, limit)]
