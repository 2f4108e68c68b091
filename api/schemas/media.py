"""Uploaded media."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MediaPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "content_type": "image/jpeg",
        "size_bytes": 183422, "labels": ["CG:3415230101000001"], "component_ids": ["3415230101000001"]}]})

    id: str
    content_type: str
    size_bytes: int
    labels: list[str] = Field(default_factory=list, description="texts of the QR labels read in a photo")
    component_ids: list[str] = Field(default_factory=list,
                                     description="valid 16-digit component ids those labels name")
