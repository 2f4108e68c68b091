"""An independent GeoReport v2 client from PyPI (`georeport`, requests + xmltodict) reads our Open311 server over
real HTTP, in both of its formats, with no change to the client: services, a service definition, one request by
id, and filtered lists."""

from __future__ import annotations

import uuid

import httpx
import pytest
from georeport import GeoReport

from tests.integration.api.conftest import http
from tests.support.api_fixtures import PASSWORD


@pytest.fixture(scope="module")
def posted(server: str, org: dict[str, int]) -> tuple[str, str]:
    """A request posted with an operator's key (georeport cannot post): (its id, its service code)."""
    token = httpx.post(f"{server}/auth/token", data={"username": "api-admin", "password": PASSWORD}).json()
    with http(server, token["access_token"]) as admin:
        key = admin.post("/api-keys", json={"user_id": org["api-operator"],
                                            "name": f"georeport-{uuid.uuid4().hex[:6]}"}).json()["api_key"]
    r = httpx.post(f"{server}/open311/v2/requests.json", data={
        "api_key": key, "service_code": "E0503", "lat": "31.4752", "long": "116.9561",
        "description": "占道废品收购", "media_url": "https://12319.example.cn/p/1.jpg"})
    assert r.status_code == 201, r.text
    return r.json()[0]["service_request_id"], "E0503"


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_georeport_reads_services_requests_and_filtered_lists(server: str, posted: tuple[str, str],
                                                              output_format: str) -> None:
    request_id, code = posted
    client = GeoReport(f"{server}/open311/v2", output_format=output_format)

    services = client.get_service_list()
    by_code = {s["service_code"]: s for s in services}
    assert by_code[code]["service_name"] == "占道废品收购"
    assert str(by_code["C0101"]["metadata"]).lower() == "true"

    definition = client.get_service_definition("C0101")
    attributes = definition["attributes"]
    if output_format == "xml":  # xmltodict keeps the spec's wrapper element
        attributes = attributes["attribute"]
    assert attributes[0]["code"] == "cover_state"

    one = client.get_service_request(request_id)
    assert (one["service_request_id"], one["service_code"], one["status"]) == (request_id, code, "open")
    assert one["media_url"] == "https://12319.example.cn/p/1.jpg"
    assert float(one["lat"]) == 31.4752 and float(one["long"]) == 116.9561

    listed = client.get_service_requests(service_code=code, status="open")
    listed = listed if isinstance(listed, list) else [listed]  # xmltodict: one element is a dict
    assert request_id in {r["service_request_id"] for r in listed}
    by_id = client.get_service_requests(service_request_id=request_id)
    by_id = by_id if isinstance(by_id, list) else [by_id]
    assert [r["service_request_id"] for r in by_id] == [request_id]
    if output_format == "json":  # georeport fails on any server's empty XML list (<service_requests/> is None)
        assert client.get_service_requests(service_code=code, status="closed") == []
