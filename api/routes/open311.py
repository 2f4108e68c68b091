"""Open311 GeoReport v2 (12319 / 12345 intake): services = event categories, requests = hotline cases.

Exactly the spec's paths, form-encoded POST, field names and error shape
(``[{"code", "description"}]``), so existing Open311 clients work unchanged. Reading is
public, as the spec intends; posting needs an ``api_key`` (form field, or X-Api-Key /
Bearer) of an operator account. ``service_request_id`` is the case number.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, Form, Query
from psycopg.rows import dict_row

from api.auth import Public, api_key_header, oauth2, user_for_credentials
from api.deps import Ctx, Db
from api.errors import ApiError, Open311Failure
from api.queries.cases import find_case_id
from api.schemas.open311 import Open311Error, RequestCreated, Service, ServiceDefinition, ServiceRequest
from api.users import User
from civicgrid.cases.intake import NewCase
from civicgrid.domain.case_state import Role, Source
from civicgrid.store.addresses import resolve

router = APIRouter(prefix="/open311/v2", tags=["open311"])
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": list[Open311Error], "description": "bad request"},
    403: {"model": list[Open311Error], "description": "api_key missing or not allowed"},
    404: {"model": list[Open311Error], "description": "no such request or service"},
}
CLIENT_ROLES = frozenset({Role.OPERATOR, Role.ADMIN})


def open311_client(ctx: Ctx, db: Db, api_key: Annotated[str | None, Form(max_length=200)] = None,
                   token: Annotated[str | None, Depends(oauth2)] = None,
                   x_api_key: Annotated[str | None, Depends(api_key_header)] = None) -> User:
    """The posting client, from the spec's `api_key` field (or our usual credentials); operators only."""
    try:
        user = user_for_credentials(ctx, db, token, api_key or x_api_key, scope="open311")
    except ApiError as exc:
        raise Open311Failure(403, f"api_key: {exc.detail}") from None
    if user.role not in CLIENT_ROLES:
        raise Open311Failure(403, f"role {user.role.value} may not post service requests")
    return user


open311_client.roles = CLIENT_ROLES  # type: ignore[attr-defined]


@router.get("/services.json", dependencies=[Public], summary="GET services: the event and component categories")
def services(ctx: Ctx, jurisdiction_id: Annotated[str | None, Query(max_length=100)] = None) -> list[Service]:
    out = []
    for cat in ctx.catalogue:
        if cat.code.is_major:
            continue
        group = ctx.catalogue.get(cat.code.major_code)
        out.append(Service(service_code=str(cat.code), service_name=cat.zh, description=cat.en,
                           keywords=cat.en.casefold(), group=group.zh))
    return out


@router.get("/services/{service_code}.json", dependencies=[Public], responses=ERRORS,
            summary="GET a service definition (no extra attributes: metadata is false for every service)")
def service_definition(ctx: Ctx, service_code: str,
                       jurisdiction_id: Annotated[str | None, Query(max_length=100)] = None) -> ServiceDefinition:
    if not _is_minor(ctx, service_code):
        raise Open311Failure(404, f"no service {service_code}")
    return ServiceDefinition(service_code=service_code)


def _is_minor(ctx: Ctx, code: str) -> bool:
    try:
        return not ctx.catalogue.get(code).code.is_major
    except ValueError:
        return False


@router.post("/requests.json", status_code=201, responses=ERRORS, summary="POST a service request (→ hotline case)")
def create_request(
    ctx: Ctx, db: Db, client: Annotated[User, Depends(open311_client)],
    service_code: Annotated[str, Form(max_length=10)],
    lat: Annotated[float | None, Form(ge=-90, le=90)] = None,
    long: Annotated[float | None, Form(ge=-180, le=180)] = None,
    address_string: Annotated[str | None, Form(max_length=500)] = None,
    address_id: Annotated[str | None, Form(max_length=100)] = None,
    email: Annotated[str | None, Form(max_length=200)] = None,
    device_id: Annotated[str | None, Form(max_length=100)] = None,
    account_id: Annotated[str | None, Form(max_length=100)] = None,
    first_name: Annotated[str | None, Form(max_length=100)] = None,
    last_name: Annotated[str | None, Form(max_length=100)] = None,
    phone: Annotated[str | None, Form(max_length=40)] = None,
    description: Annotated[str | None, Form(max_length=4000)] = None,
    media_url: Annotated[str | None, Form(max_length=1000)] = None,
    jurisdiction_id: Annotated[str | None, Form(max_length=100)] = None,
) -> list[RequestCreated]:
    if not _is_minor(ctx, service_code):
        raise Open311Failure(400, f"service_code {service_code!r} is not a service (GET services.json)")
    if (lat is None or long is None) and not address_string and not address_id:
        raise Open311Failure(400, "a location is required: lat and long, address_string or address_id")
    requester: dict[str, Any] = {k: v for k, v in {
        "channel": "open311", "email": email, "device_id": device_id, "account_id": account_id,
        "first_name": first_name, "last_name": last_name, "phone": phone, "media_url": media_url,
        "address_id": address_id}.items() if v}
    if (lat is None or long is None) and address_string:  # an address alone: its point from the geocoder
        place = resolve(db, address_string, prefixes=ctx.settings.address_prefixes)
        requester["geocoded"] = ({"address": place.address, "score": place.score} if place is not None
                                 else "unresolved: an operator places it on the map")
        if place is not None:
            lat, long = place.lat, place.lon
    case_id, _ = ctx.cases.report(db, client.role, client.username,
                                  NewCase(service_code, description, Source.HOTLINE, lon=long, lat=lat,
                                          address=address_string, extra_evidence=requester),
                                  ctx.clock.now(), cell_at=ctx.grid_index(db).lookup)
    row = db.execute("SELECT case_no FROM cases WHERE id = %s", (case_id,)).fetchone()
    assert row is not None
    return [RequestCreated(service_request_id=row[0], service_notice=f"已受理 accepted as case {row[0]}",
                           account_id=account_id)]


_REQUEST_SQL = (
    "SELECT c.case_no, c.state, c.category_code, c.category_name, c.description, c.department_id, c.reported_at, "
    "c.updated_at, c.disposal_deadline, c.address, c.lat, c.lon, "
    # Only notes written for the public (`public_note` of an action); internal notes and reasons never leave.
    "(SELECT e.payload -> 'data' ->> 'public_note' FROM case_events e WHERE e.case_id = c.id "
    " AND e.payload -> 'data' ->> 'public_note' IS NOT NULL ORDER BY e.seq DESC LIMIT 1) AS status_notes "
    "FROM cases c WHERE c.source = 'hotline' ")


def _request(row: dict[str, Any]) -> ServiceRequest:
    return ServiceRequest(
        service_request_id=row["case_no"], status="closed" if row["state"] in ("closed", "cancelled") else "open",
        status_notes=row["status_notes"], service_name=row["category_name"], service_code=row["category_code"],
        description=row["description"], agency_responsible=row["department_id"],
        requested_datetime=row["reported_at"], updated_datetime=row["updated_at"],
        expected_datetime=row["disposal_deadline"], address=row["address"], lat=row["lat"], long=row["lon"])


def _fetch(db: psycopg.Connection, where: str, params: dict[str, Any]) -> list[ServiceRequest]:
    with db.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_REQUEST_SQL + where + " ORDER BY c.reported_at DESC LIMIT 1000", params).fetchall()
    return [_request(r) for r in rows]


@router.get("/requests.json", dependencies=[Public], responses=ERRORS, summary="GET service requests")
def list_requests(
    db: Db,
    service_request_id: Annotated[str | None, Query(max_length=2000, description="comma-separated ids")] = None,
    service_code: Annotated[str | None, Query(max_length=200, description="comma-separated codes")] = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    status: Annotated[str | None, Query(pattern=r"^(open|closed)(,(open|closed))?$")] = None,
    jurisdiction_id: Annotated[str | None, Query(max_length=100)] = None,
) -> list[ServiceRequest]:
    if service_request_id:
        return _fetch(db, "AND c.case_no = ANY(%(ids)s)", {"ids": service_request_id.split(",")})
    end = end_date or datetime.now(UTC)
    start = start_date or end - timedelta(days=90)  # the spec's default window
    where, params = "AND c.reported_at >= %(start)s AND c.reported_at <= %(end)s", {"start": start, "end": end}
    if service_code:
        where += " AND c.category_code = ANY(%(codes)s)"
        params["codes"] = service_code.split(",")
    if status and "," not in status:
        where += (" AND c.state IN ('closed', 'cancelled')" if status == "closed"
                  else " AND c.state NOT IN ('closed', 'cancelled')")
    return _fetch(db, where, params)


@router.get("/requests/{service_request_id}.json", dependencies=[Public], responses=ERRORS,
            summary="GET one service request")
def get_request(db: Db, service_request_id: str,
                jurisdiction_id: Annotated[str | None, Query(max_length=100)] = None) -> list[ServiceRequest]:
    case_id = find_case_id(db, service_request_id)
    found = _fetch(db, "AND c.id = %(id)s", {"id": case_id}) if case_id else []
    if not found:
        raise Open311Failure(404, f"no service request {service_request_id}")
    return found
