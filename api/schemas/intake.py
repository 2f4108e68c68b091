"""Intake bodies: the sources, a leader's instruction, a transfer, capture and file, placing an unlocated case."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SourcePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "code": "camera", "name": "视频抓拍", "name_en": "Video capture",
        "description": "a camera's detection, or an operator's capture from the video wall"}]})

    code: str
    name: str
    name_en: str
    description: str
