"""Bodies of /basedata (docs/basedata.md): imports, components and their history."""

from __future__ import annotations

from typing import Annotated

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
