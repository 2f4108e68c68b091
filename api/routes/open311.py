"""Open311 GeoReport v2 (12319 / 12345 intake): services = categories, requests = hotline cases (docs/open311.md).

Exactly the spec's paths, each in both formats by its suffix (``.xml``, the spec's required format, and
``.json``), form-encoded POST, field names and error array (``<errors><error>`` / ``[{"code", "description"}]``,
validation errors included), so existing Open311 clients work unchanged. Reading is public, as the spec intends;
posting needs an ``api_key`` (form field, or X-Api-Key / Bearer) of an operator account. ``service_request_id`` is
the case number. An optional query parameter sent empty (``?status=``) counts as absent, as clients send them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from psycopg.rows import dict_row
from starlette.datastructures import FormData

from api.auth import Public, api_key_header, oauth2, user_for_credentials
from api.deps import Ctx, Db
from api.errors import ApiError, Open311Failure
from api.open311.definitions import InvalidAttributes, attributes_of, parse_attributes
from api.open311.formats import XML_ANSWER, Fmt, respond
from api.queries.cases import find_case_id
from api.schemas.open311 import (
    Discovery,
    Endpoint,
    Open311Error,
    RequestCreated,
    Service,
    ServiceDefinition,
    ServiceRequest,
)
from api.users import User
from civicgrid.cases.callers import Caller
from civicgrid.cases.intake import NewCase
from civicgrid.domain.case_state import Role, Source
from civicgrid.domain.catalogue import Catalogue
from civicgrid.store.addresses import resolve

router = APIRouter(prefix="/open311/v2", tags=["open311"])
discovery_router = APIRouter(prefix="/open311", tags=["open311"])
ERRORS: dict[int | str, dict[str, Any]] = {
    **XML_ANSWER,
    400: {"model": list[Open311Error], "description": "bad request"},
    403: {"model": list[Open311Error], "description": "api_key missing or not allowed"},
    404: {"model": list[Open311Error], "description": "no such request or service"},
}
CLIENT_ROLES = frozenset({Role.OPERATOR, Role.ADMIN})
# The spec's default window for GET requests, and its cap on the rows of one answer.
DEFAULT_WINDOW = timedelta(days=90)
MAX_REQUESTS = 1000
Jurisdiction = Annotated[str | None, Query(max_length=100, description="accepted and ignored: one jurisdiction")]


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


async def posted_form(request: Request) -> FormData:
    """The whole form (parsed once by Starlette): the ``attribute[code]`` fields have names no signature lists."""
    return await request.form()


def _blank(value: str | None) -> str | None:
    """An optional parameter sent empty is absent (clients send ``?start_date=&status=``)."""
    return value if value else None


def _when(name: str, value: str | None) -> datetime | None:
    value = _blank(value)
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.replace(" ", "+"))  # a '+' left unescaped in a query reads as a space
    except ValueError:
        raise Open311Failure(400, f"{name}: {value!r} is not a W3C date-time, e.g. 2026-12-01T00:00:00Z") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _is_minor(catalogue: Catalogue, code: str) -> bool:
    try:
        return not catalogue.get(code).code.is_major
    except ValueError:
        return False


# -- discovery and services ---------------------------------------------------------------------------------------

@discovery_router.get("/discovery.{fmt}", dependencies=[Public], response_model=Discovery, responses=XML_ANSWER,
                      summary="GET discovery: where the GeoReport v2 endpoint is and what it speaks")
@router.get("/discovery.{fmt}", dependencies=[Public], response_model=Discovery, responses=XML_ANSWER,
            summary="GET discovery (also at /open311/discovery.{fmt})")
def discovery(ctx: Ctx, db: Db, request: Request, fmt: Fmt) -> Response:
    row = db.execute("SELECT max(loaded_at) FROM rule_packs").fetchone()  # the catalogue's services change with it
    changeset = row[0] if row and row[0] else ctx.clock.now()
    url = str(request.base_url).rstrip("/") + router.prefix
    settings = ctx.settings.api
    body = Discovery(changeset=changeset, contact=settings.open311_contact, key_service=settings.open311_key_service,
                     endpoints=[Endpoint(url=url, changeset=changeset)])
    return respond(fmt, body, "discovery")


@router.get("/services.{fmt}", dependencies=[Public], response_model=list[Service], responses=XML_ANSWER,
            summary="GET services: the event and component categories")
def services(ctx: Ctx, db: Db, fmt: Fmt, jurisdiction_id: Jurisdiction = None) -> Response:
    catalogue = ctx.current_rules(db).catalogue  # a category loaded a moment ago is a service now
    out = []
    for cat in catalogue:
        if cat.code.is_major:
            continue
        group = catalogue.get(cat.code.major_code)
        out.append(Service(service_code=str(cat.code), service_name=cat.zh, description=cat.en,
                           metadata=bool(attributes_of(catalogue, str(cat.code))),
                           keywords=cat.en.casefold(), group=group.zh))
    return respond(fmt, out, "services", "service")


@router.get("/services/{service_code}.{fmt}", dependencies=[Public], response_model=ServiceDefinition,
            responses=ERRORS, summary="GET a service definition: the attributes a caller is asked for")
def service_definition(ctx: Ctx, db: Db, service_code: str, fmt: Fmt,
                       jurisdiction_id: Jurisdiction = None) -> Response:
    catalogue = ctx.current_rules(db).catalogue
    if not _is_minor(catalogue, service_code):
        raise Open311Failure(404, f"no service {service_code} (GET services.{fmt.value} lists them)")
    body = ServiceDefinition(service_code=service_code, attributes=list(attributes_of(catalogue, service_code)))
    return respond(fmt, body, "service_definition")


# -- posting a request --------------------------------------------------------------------------------------------

@router.post("/requests.{fmt}", status_code=201, response_model=list[RequestCreated], responses=ERRORS,
             summary="POST a service request (→ hotline case)")
def create_request(
    ctx: Ctx, db: Db, fmt: Fmt, client: Annotated[User, Depends(open311_client)],
    form: Annotated[FormData, Depends(posted_form)],
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
    media_url: Annotated[str | None, Form(max_length=1000, pattern=r"^https?://\S+$")] = None,
    jurisdiction_id: Annotated[str | None, Form(max_length=100)] = None,
    file_as_new: Annotated[bool, Form(description="extension: file even when an open request nearby is the same "
                                                  "problem (default: linked to it; docs/open311.md)")] = False,
) -> Response:
    catalogue = ctx.current_rules(db).catalogue
    if not _is_minor(catalogue, service_code):
        raise Open311Failure(400, f"service_code {service_code!r} is not a service (GET services.{fmt.value})")
    if (lat is None or long is None) and not address_string and not address_id:
        raise Open311Failure(400, "a location is required: lat and long, address_string or address_id")
    try:
        attributes = parse_attributes(attributes_of(catalogue, service_code),
                                      {k: form.getlist(k) for k in form})
    except InvalidAttributes as exc:
        raise Open311Failure(400, str(exc)) from None
    requester: dict[str, Any] = {k: v for k, v in {
        "channel": "open311", "email": email, "device_id": device_id, "account_id": account_id,
        "first_name": first_name, "last_name": last_name, "phone": phone, "media_url": media_url,
        "address_id": address_id, "attributes": attributes}.items() if v}
    if (lat is None or long is None) and address_string:  # an address alone: its point from the geocoder
        place = resolve(db, address_string, prefixes=ctx.settings.address_prefixes)
        requester["geocoded"] = ({"address": place.address, "score": place.score} if place is not None
                                 else "unresolved: an operator places it on the map")
        if place is not None:
            lat, long = place.lat, place.lon
    name = " ".join(n for n in (first_name, last_name) if n) or None
    # A caller who leaves a phone number or an e-mail address is told when the case closes (docs/notify.md).
    caller = Caller("open311", name, phone, email, account_id, client.username, callback=bool(phone or email),
                    description=description, media_url=media_url)
    now = ctx.clock.now()
    if lat is not None and long is not None and not file_as_new:
        nearby = ctx.cases.duplicates(db, service_code, long, lat, now)
        if nearby:  # the same problem, open, a few metres away: this caller joins that request
            linked = ctx.cases.link(db, client.role, client.username, nearby[0].case_id, caller, now)
            notice = (f"与已有请求 {linked.case_no} 相同，已合并 — the same problem as open request {linked.case_no} "
                      f"({nearby[0].distance_m:.0f} m away): linked to it")
            return respond(fmt, [RequestCreated(service_request_id=linked.case_no, service_notice=notice,
                                                account_id=account_id)], "service_requests", "request", status=201)
    case_id, _ = ctx.cases.report(db, client.role, client.username,
                                  NewCase(service_code, description, Source.HOTLINE, lon=long, lat=lat,
                                          address=address_string, extra_evidence=requester, caller=caller),
                                  now, cell_at=ctx.grid_index(db).lookup)
    row = db.execute("SELECT case_no FROM cases WHERE id = %s", (case_id,)).fetchone()
    assert row is not None
    created = RequestCreated(service_request_id=row[0], service_notice=f"已受理 accepted as case {row[0]}",
                             account_id=account_id)
    return respond(fmt, [created], "service_requests", "request", status=201)


# -- reading requests ---------------------------------------------------------------------------------------------

_REQUEST_SQL = (
    "SELECT c.case_no, c.state, c.category_code, c.category_name, c.description, c.department_id, c.reported_at, "
    "c.updated_at, c.disposal_deadline, c.address, c.lat, c.lon, "
    # Only notes written for the public (`public_note` of an action); internal notes and reasons never leave.
    "(SELECT e.payload -> 'data' ->> 'public_note' FROM case_events e WHERE e.case_id = c.id "
    " AND e.payload -> 'data' ->> 'public_note' IS NOT NULL ORDER BY e.seq DESC LIMIT 1) AS status_notes, "
    # The photo the first caller linked (a POST's media_url, kept with the report).
    "(SELECT v.data ->> 'media_url' FROM case_evidence v WHERE v.case_id = c.id AND v.data ? 'media_url' "
    " ORDER BY v.at, v.id LIMIT 1) AS media_url "
    # The hotline's cases, and any case an Open311 caller was linked to as a duplicate.
    "FROM cases c WHERE (c.source = 'hotline' OR EXISTS (SELECT 1 FROM case_callers k WHERE k.case_id = c.id "
    " AND k.channel = 'open311')) ")


def _request(row: dict[str, Any]) -> ServiceRequest:
    return ServiceRequest(
        service_request_id=row["case_no"], status="closed" if row["state"] in ("closed", "cancelled") else "open",
        status_notes=row["status_notes"], service_name=row["category_name"], service_code=row["category_code"],
        description=row["description"], agency_responsible=row["department_id"],
        requested_datetime=row["reported_at"], updated_datetime=row["updated_at"],
        expected_datetime=row["disposal_deadline"], address=row["address"], lat=row["lat"], long=row["lon"],
        media_url=row["media_url"])


def _fetch(db: psycopg.Connection, where: str, params: dict[str, Any]) -> list[ServiceRequest]:
    with db.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_REQUEST_SQL + where + f" ORDER BY c.reported_at DESC LIMIT {MAX_REQUESTS}",
                           params).fetchall()
    return [_request(r) for r in rows]


def _listed(fmt: Fmt, found: Sequence[ServiceRequest]) -> Response:
    return respond(fmt, found, "service_requests", "request")


@router.get("/requests.{fmt}", dependencies=[Public], response_model=list[ServiceRequest], responses=ERRORS,
            summary="GET service requests")
def list_requests(
    ctx: Ctx, db: Db, fmt: Fmt,
    service_request_id: Annotated[str | None, Query(max_length=2000, description="comma-separated ids")] = None,
    service_code: Annotated[str | None, Query(max_length=200, description="comma-separated codes")] = None,
    start_date: Annotated[str | None, Query(max_length=40, description="W3C date-time")] = None,
    end_date: Annotated[str | None, Query(max_length=40, description="W3C date-time")] = None,
    status: Annotated[str | None, Query(max_length=20, description="open, closed or both, comma-separated")] = None,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    ids = [i for i in (service_request_id or "").split(",") if i]
    if ids:
        return _listed(fmt, _fetch(db, "AND c.case_no = ANY(%(ids)s)", {"ids": ids}))
    statuses = {s for s in (status or "").split(",") if s}
    if statuses - {"open", "closed"}:
        raise Open311Failure(400, f"status: {status!r} is not open, closed or open,closed")
    end = _when("end_date", end_date) or ctx.clock.now()
    start = _when("start_date", start_date) or end - DEFAULT_WINDOW
    if start > end:
        raise Open311Failure(400, "start_date is after end_date")
    where, params = "AND c.reported_at >= %(start)s AND c.reported_at <= %(end)s", {"start": start, "end": end}
    codes = [c for c in (service_code or "").split(",") if c]
    if codes:
        where += " AND c.category_code = ANY(%(codes)s)"
        params["codes"] = codes
    if len(statuses) == 1:
        where += (" AND c.state IN ('closed', 'cancelled')" if statuses == {"closed"}
                  else " AND c.state NOT IN ('closed', 'cancelled')")
    return _listed(fmt, _fetch(db, where, params))


@router.get("/requests/{service_request_id}.{fmt}", dependencies=[Public], response_model=list[ServiceRequest],
            responses=ERRORS, summary="GET one service request")
def get_request(db: Db, service_request_id: str, fmt: Fmt, jurisdiction_id: Jurisdiction = None) -> Response:
    case_id = find_case_id(db, service_request_id)
    found = _fetch(db, "AND c.id = %(id)s", {"id": case_id}) if case_id else []
    if not found:
        raise Open311Failure(404, f"no service request {service_request_id}")
    return _listed(fmt, found)
