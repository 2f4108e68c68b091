"""/intake: what the supervision centre's operators file besides calls (POST /cases/calls) — a leader's instruction
(领导批示), a transfer from another body (转办), a capture from a camera's latest snapshot (视频抓拍) — the cases
waiting for a place (an address that did not resolve) and placing them, and the category list with its pinyin
search keys for the intake screen (docs/api.md, "Intake"; docs/console.md).

Every case filed here goes through the case service's `report`, as every other source does; an address without
a point is geocoded there (a candidate scoring at least RESOLVES_AT), and a report left without a place is
flagged unlocated.
"""

from __future__ import annotations

import functools
import uuid
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, Query, Response

from api.auth import require
from api.deps import ApiContext, Ctx, Db
from api.errors import ApiError, not_found
from api.queries import cameras as camera_q
from api.queries import intake as q
from api.routes.cases import case_detail, locate_address
from api.schemas.cases import CaseDetail
from api.schemas.intake import (
    CaptureIn,
    CategoryOption,
    InstructionIn,
    PlacedPublic,
    PlaceIn,
    TransferIn,
    UnlocatedCase,
)
from api.users import User
from civicgrid.cases.capture import BadRegion, check_region, mark_region, snapshot_size
from civicgrid.cases.intake import NewCase
from civicgrid.cases.referrals import instruction_evidence, transfer_caller, transfer_evidence
from civicgrid.domain.case_state import Role, Source
from civicgrid.domain.catalogue import Catalogue, UnknownCategory
from civicgrid.domain.pinyin_search import pinyin_keys
from civicgrid.store import media

router = APIRouter(prefix="/intake", tags=["intake"])
Operator = Annotated[User, Depends(require(Role.OPERATOR))]
Intake = Annotated[User, Depends(require(Role.OPERATOR, Role.SHIFT_LEADER))]
CREATED = {201: {"description": "filed"}, 200: {"description": "the same client_ref (or transfer) again: that case"},
           422: {"description": "bad category, cell, media, region; or the role may not report this source"}}


def _file(ctx: ApiContext, db: psycopg.Connection, user: User, new: NewCase, response: Response) -> CaseDetail:
    case_id, created = ctx.cases.report(db, user.role, user.username, new, ctx.clock.now(),
                                        cell_at=ctx.grid_index(db).lookup, locate_address=locate_address(ctx, db))
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/cases/{case_id}"
    return case_detail(ctx, db, user, case_id, ctx.clock.now(), scoped=False)


def _srid(user: User, kind: str, client_ref: str | None) -> str | None:
    return f"{kind}:{user.id}:{client_ref}" if client_ref else None


@router.post("/instructions", status_code=201, responses=CREATED,
             summary="领导批示: file a leader's instruction (source leader), by an operator or the leader")
def file_instruction(body: InstructionIn, ctx: Ctx, db: Db, response: Response,
                     user: Annotated[User, Depends(require(Role.OPERATOR, Role.LEADER))]) -> CaseDetail:
    extra = instruction_evidence(body.leader, body.instruction, user.username)
    return _file(ctx, db, user, NewCase(
        body.category_code, body.instruction, Source.LEADER, body.grid_cell_code, None, body.lon, body.lat,
        body.address, tuple(body.media_ids), _srid(user, "instruction", body.client_ref), extra_evidence=extra),
        response)


@router.post("/transfers", status_code=201, responses=CREATED,
             summary="转办: file a case another body transferred (source transfer); its body and reference are "
                     "the idempotency key")
def file_transfer(body: TransferIn, ctx: Ctx, db: Db, response: Response, user: Operator) -> CaseDetail:
    extra = transfer_evidence(body.from_body, body.reference)
    body_caller = transfer_caller(body.from_body, body.reference, body.contact_phone, client=user.username,
                                  callback=body.callback, description=body.description)
    return _file(ctx, db, user, NewCase(
        body.category_code, body.description, Source.TRANSFER, body.grid_cell_code, None, body.lon, body.lat,
        body.address, tuple(body.media_ids), f"transfer:{body.from_body}:{body.reference}", extra_evidence=extra,
        caller=body_caller), response)


@router.post("/captures", status_code=201,
             responses={**CREATED, 404: {"description": "no such camera, or it has sent no snapshot yet"}},
             summary="视频抓拍: file a case from a camera's latest snapshot with the region drawn (source camera, "
                     "the camera's point and cell; the snapshot and a copy with the region marked as evidence)")
def capture(body: CaptureIn, ctx: Ctx, db: Db, response: Response, user: Operator) -> CaseDetail:
    ctx.current_rules(db).catalogue.get(body.category_code)  # refused (422) before any medium is kept
    cameras = camera_q.list_cameras(db, body.device_id)
    if not cameras:
        raise not_found("camera", body.device_id)
    camera = cameras[0]
    snap = q.latest_snapshot(db, body.device_id)
    if snap is None:
        raise ApiError(404, "not-found", f"camera {body.device_id} has sent no snapshot yet")
    jpeg, taken_at = snap
    try:
        width, height = snapshot_size(jpeg)
        check_region(body.region, width, height)
        marked = mark_region(jpeg, body.region)
    except BadRegion as exc:
        raise ApiError(422, "bad-region", str(exc)) from None
    except ValueError as exc:
        raise ApiError(422, "bad-snapshot", f"the camera's snapshot cannot be used: {exc}") from None
    media_dir = ctx.settings.api.media_dir
    ids = []
    for data in (marked, jpeg):
        mid = media.write_file(media_dir, data)
        media.record(db, mid, "image/jpeg", len(data), uploaded_by=user.id)
        ids.append(mid)
    extra: dict[str, Any] = {"capture": {
        "device_id": body.device_id, "camera": camera["name"], "snapshot_at": taken_at and taken_at.isoformat(),
        "region": body.region, "image_width": width, "image_height": height, "marked_media_id": ids[0],
        "snapshot_media_id": ids[1], "by": user.username}}
    return _file(ctx, db, user, NewCase(
        body.category_code, body.description, Source.CAMERA, camera["grid_cell_code"], None, camera["lon"],
        camera["lat"], None, tuple(ids), _srid(user, "capture", body.client_ref), extra_evidence=extra), response)


@router.get("/unlocated", summary="Open cases waiting for a place (the address did not resolve, or none was "
                                  "given), oldest first")
def unlocated(db: Db, user: Intake, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[UnlocatedCase]:
    return [UnlocatedCase(**row) for row in q.unlocated(db, limit)]


@router.post("/unlocated/{case_id}/place", summary="Place an unlocated case on the map: its point and the unit "
                                                  "grid cell there (no lifecycle step)",
             responses={404: {"description": "no such case"},
                        422: {"description": "not unlocated, closed, or a point outside every cell"}})
def place(case_id: uuid.UUID, body: PlaceIn, ctx: Ctx, db: Db, user: Intake) -> PlacedPublic:
    placed = ctx.cases.place(db, user.role, user.username, str(case_id), body.lon, body.lat, ctx.clock.now(),
                             ctx.grid_index(db).lookup, address=body.address)
    return PlacedPublic(case_id=placed.case_id, grid_cell_code=placed.grid_cell_code, lon=placed.lon,
                        lat=placed.lat)


@router.get("/categories", summary="The minor categories with their search keys (Chinese, English, code, pinyin "
                                   "initials and full pinyin) for the intake screen's category search")
def categories(ctx: Ctx, db: Db, user: Annotated[User, Depends(require(Role.OPERATOR, Role.SHIFT_LEADER, Role.LEADER,
                                                                 Role.INSPECTOR))]) -> list[CategoryOption]:
    return _options(ctx.current_rules(db).catalogue)


@functools.lru_cache(maxsize=4)
def _options(catalogue: Catalogue) -> list[CategoryOption]:
    """Per catalogue (a new rule pack has a new one): pypinyin runs once per name, not per request."""
    out = []
    for cat in catalogue:
        if cat.code.is_major:
            continue
        try:
            group: str | None = catalogue.get(cat.code.major_code).zh
        except UnknownCategory:
            group = None
        keys = pinyin_keys(cat.zh)
        out.append(CategoryOption(code=str(cat.code), name=cat.zh, name_en=cat.en, group=group,
                                  initials=list(keys.initials), pinyin=keys.full,
                                  disposal_class=cat.disposal_class.value))
    return out
