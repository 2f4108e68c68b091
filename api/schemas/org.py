"""Departments and the responsibility table (责任分解表)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from civicgrid.domain.centres import CentreLevel


class DepartmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "id": "sanitation", "name": "环卫处", "name_en": "Sanitation", "parent_id": None}]})

    id: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    name_en: Annotated[str, Field(max_length=200)] | None = None
    parent_id: Annotated[str, Field(max_length=100)] | None = None
    centre_id: Annotated[str, Field(max_length=100)] | None = Field(
        None, description="the centre that dispatches to it (docs/centres.md); omitted: the city level")


class Department(DepartmentIn):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "sanitation", "name": "环卫处", "name_en": "Sanitation", "parent_id": None}]})


class CentreIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "id": "tianning", "name": "天宁区数字城管指挥中心", "level": "district", "cell_prefix": "320402",
        "parent_id": "changzhou"}]})

    id: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    name_en: Annotated[str, Field(max_length=200)] | None = None
    level: CentreLevel
    cell_prefix: Annotated[str, Field(pattern=r"^[0-9]{0,12}$", description=(
        "the cells it covers: 6 digits a district (county-level code), 9 a street; '' the whole city"))]
    parent_id: Annotated[str, Field(max_length=100)] | None = None


class Centre(CentreIn):
    pass


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "category_code": "E0102", "grid_prefix": "341523001", "department_id": "sanitation", "note": "城关街道"}]})

    category_code: Annotated[str, Field(pattern=r"^[CE][0-9]{2}([0-9]{2})?$",
                                        description="a minor, or a major for all its minors")]
    grid_prefix: Annotated[str, Field(pattern=r"^[0-9]{0,15}$", description="cell-code prefix; '' = everywhere")] = ""
    department_id: Annotated[str, Field(min_length=1, max_length=100)]
    note: Annotated[str, Field(max_length=500)] | None = None


class Rule(RuleIn):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 1, "category_code": "E0102", "grid_prefix": "341523001", "department_id": "sanitation",
        "note": "城关街道", "created_at": "2026-11-24T01:00:00Z"}]})

    id: int
    created_at: datetime
