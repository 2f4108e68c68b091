"""Bodies of /basedata (docs/basedata.md): imports, components and their history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Reason = Annotated[str, Field(min_length=1, max_length=500, description="why: kept in the component's history")]


class ImportError_(BaseModel):
    row: str
    field: str | None
    message: str


class ImportResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "kind": "components", "rows": 120, "added": 3, "updated": 17, "unchanged": 100, "crs": "EPSG:4548"}]})

    kind: str
    rows: int
    added: int
    updated: int
    unchanged: int
    crs: str


class ComponentPublic(BaseModel):
    code: str
    category_code: str
    name: str | None
    department_id: str | None
    owner: str | None
    maintainer: str | None
    grid_cell_code: str | None
    state: str
    lon: float | None
    lat: float | None
    data_source: str | None
    recorded_on: date | None
    attributes: dict[str, Any]
    retired_at: datetime | None
    state_case_id: str | None = None


class ComponentList(BaseModel):
    items: list[ComponentPublic]
    total: int


State = Literal["intact", "damaged", "missing", "occupied", "完好", "破损", "丢失", "占用"]


class ComponentFields(BaseModel):
    """The attributes a person may set (the point is set by add and move)."""

    model_config = ConfigDict(extra="forbid")

    category_code: Annotated[str, Field(pattern=r"^C[0-9]{4}$")] | None = None
    name: Annotated[str, Field(max_length=200)] | None = None
    department_id: Annotated[str, Field(max_length=100)] | None = None
    owner: Annotated[str, Field(max_length=200)] | None = None
    maintainer: Annotated[str, Field(max_length=200)] | None = None
    grid_cell_code: Annotated[str, Field(pattern=r"^[0-9]{14,15}$")] | None = None
    state: State | None = None
    data_source: Annotated[str, Field(max_length=100)] | None = None
    recorded_on: date | None = None
    attributes: dict[str, str | int | float | bool | None] | None = None

    def given(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude={"reason", "code", "lon", "lat", "crs", "easting",
                                                            "northing"})


class Point(BaseModel):
    """A point in WGS 84 (lon/lat), or in the city's CRS (crs with easting/northing, or lon/lat in CGCS2000)."""

    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    easting: float | None = None
    northing: float | None = None
    crs: Annotated[str, Field(max_length=40)] = "EPSG:4326"


class ComponentCreate(ComponentFields, Point):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "code": "3415230101000123", "name": "上水井盖", "easting": 495247.86, "northing": 3481977.18,
        "crs": "EPSG:4548", "department_id": "utilities", "reason": "新建道路竣工测量"}]})

    code: Annotated[str, Field(pattern=r"^[0-9]{16}$")]
    reason: Reason


class ComponentUpdate(ComponentFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "state": "damaged", "maintainer": "县市政养护所", "reason": "现场核查：井盖破损"}]})

    reason: Reason


class ComponentMove(Point):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "lon": 116.9412, "lat": 31.4605, "reason": "重新测量，原坐标偏差 6 米"}]})

    grid_cell_code: Annotated[str, Field(pattern=r"^[0-9]{14,15}$")] | None = None
    reason: Reason


class ComponentRetire(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "道路改造，井已填埋"}]})

    reason: Reason


class HistoryItem(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    reason: str | None
    before: dict[str, Any] | None
    after: dict[str, Any]
    case_id: str | None
    case_seq: int | None
    case_no: str | None


class HistoryList(BaseModel):
    code: str
    items: list[HistoryItem]
