"""Open311 GeoReport v2 bodies, field names exactly as the spec writes them (including `long`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.open311.definitions import Attribute


class Service(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "service_code": "E0102", "service_name": "暴露垃圾", "description": "Exposed garbage", "metadata": False,
        "type": "realtime", "keywords": "exposed garbage", "group": "市容环境"}]})

    service_code: str
    service_name: str
    description: str
    metadata: bool = False
    type: str = "realtime"
    keywords: str
    group: str


class ServiceDefinition(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"service_code": "C0101", "attributes": [
        {"variable": True, "code": "cover_state", "datatype": "singlevaluelist", "required": True,
         "datatype_description": None, "order": 1, "description": "井盖情况 What is wrong with the cover?",
         "values": [{"key": "missing", "name": "丢失 missing"}]}]}]})

    service_code: str
    attributes: list[Attribute] = []


class Endpoint(BaseModel):
    """One endpoint of the discovery document (the spec's fields)."""

    specification: str = "http://wiki.open311.org/GeoReport_v2"
    url: str
    changeset: datetime
    type: str = "production"
    formats: list[str] = ["text/xml", "application/json"]


class Discovery(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "changeset": "2026-12-06T09:00:00Z", "contact": "12319 城管热线", "key_service": "向受理中心申请 api_key",
        "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2",
                       "url": "https://city.example/open311/v2", "changeset": "2026-12-06T09:00:00Z",
                       "type": "production", "formats": ["text/xml", "application/json"]}]}]})

    changeset: datetime
    contact: str
    key_service: str
    endpoints: list[Endpoint]


class RequestCreated(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "service_request_id": "20261124-0B9C1A52", "service_notice": "已受理 accepted", "account_id": None}]})

    service_request_id: str
    service_notice: str
    account_id: str | None = None


class ServiceRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, json_schema_extra={"examples": [{
        "service_request_id": "20261124-0B9C1A52", "status": "open", "status_notes": None,
        "service_name": "暴露垃圾", "service_code": "E0102", "description": "路边垃圾堆放",
        "agency_responsible": "sanitation", "service_notice": None, "requested_datetime": "2026-11-24T09:00:00+08:00",
        "updated_datetime": "2026-11-24T09:30:00+08:00", "expected_datetime": None, "address": "人民路 12 号",
        "address_id": None, "zipcode": None, "lat": 31.46, "long": 116.95, "media_url": None}]})

    service_request_id: str
    status: str = Field(description="open or closed")
    status_notes: str | None
    service_name: str | None
    service_code: str
    description: str | None
    agency_responsible: str | None
    service_notice: str | None = None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None
    address: str | None
    address_id: str | None = None
    zipcode: str | None = None
    lat: float | None
    long_: float | None = Field(alias="long", serialization_alias="long")
    media_url: str | None = None


class Open311Error(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"code": 400, "description": "service_code required"}]})

    code: int
    description: str
