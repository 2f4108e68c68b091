"""Open311 GeoReport v2, every endpoint in both formats (XML, the spec's required one, and JSON), the service
definitions' attributes, media_url, empty optional parameters, and the spec's error array everywhere."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable

import psycopg
import pytest
from fastapi.testclient import TestClient

Headers = Callable[[str], dict[str, str]]
V2 = "/open311/v2"


@pytest.fixture(scope="module")
def api_key(client: TestClient, as_user: Headers, org: dict[str, int]) -> str:
    r = client.post("/api-keys", headers=as_user("api-admin"),
                    json={"user_id": org["api-operator"], "name": f"open311-formats-{uuid.uuid4().hex[:6]}"})
    assert r.status_code == 201, r.text
    return str(r.json()["api_key"])


def _xml(r) -> ET.Element:
    assert r.headers["content-type"].startswith("text/xml"), r.headers["content-type"]
    return ET.fromstring(r.content)


def _post(client: TestClient, api_key: str, fmt: str = "json", **form: str):
    # Far from the other API tests' points, and one place per call: no open case of the same kind nearby.
    form.setdefault("lat", f"{31.4700 + uuid.uuid4().int % 1000 * 0.00002:.6f}")
    form.setdefault("long", f"{116.9500 + uuid.uuid4().int % 1000 * 0.00002:.6f}")
    return client.post(f"{V2}/requests.{fmt}", data={"api_key": api_key, **form})


def test_discovery_names_the_endpoint_and_both_formats(client: TestClient) -> None:
    for path in ("/open311/discovery", f"{V2}/discovery"):
        doc = client.get(f"{path}.json").json()
        (endpoint,) = doc["endpoints"]
        assert endpoint["url"] == "http://testserver/open311/v2"
        assert endpoint["formats"] == ["text/xml", "application/json"]
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert doc["contact"] and doc["key_service"] and doc["changeset"].endswith("Z")
        root = _xml(client.get(f"{path}.xml"))
        assert root.tag == "discovery"
        assert [f.text for f in root.iterfind("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]
        assert root.findtext("endpoints/endpoint/url") == "http://testserver/open311/v2"


def test_services_in_both_formats_with_metadata_for_the_categories_that_ask_details(client: TestClient) -> None:
    listed = client.get(f"{V2}/services.json").json()
    by_code = {s["service_code"]: s for s in listed}
    assert by_code["E0102"]["metadata"] is False
    assert by_code["C0101"]["metadata"] is True and by_code["E0401"]["metadata"] is True
    assert "E01" not in by_code  # majors are groups, not services
    root = _xml(client.get(f"{V2}/services.xml"))
    assert root.tag == "services"
    services = {s.findtext("service_code"): s for s in root.iterfind("service")}
    assert set(services) == set(by_code)
    cover = services["C0101"]
    assert (cover.findtext("service_name"), cover.findtext("metadata"), cover.findtext("type"),
            cover.findtext("group")) == ("上水井盖", "true", "realtime", "公用设施")


def test_service_definitions_in_both_formats_and_unknown_codes_answered_404(client: TestClient) -> None:
    definition = client.get(f"{V2}/services/C0101.json").json()
    assert definition["service_code"] == "C0101"
    state = definition["attributes"][0]
    assert (state["code"], state["datatype"], state["required"], state["variable"], state["order"]) == \
        ("cover_state", "singlevaluelist", True, True, 1)
    assert {"key": "missing", "name": "丢失 missing"} in state["values"]
    root = _xml(client.get(f"{V2}/services/C0101.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "C0101"
    (first, second) = root.iterfind("attributes/attribute")
    assert (first.findtext("code"), first.findtext("required"), second.findtext("required")) == \
        ("cover_state", "true", "false")
    assert [v.findtext("key") for v in first.iterfind("values/value")] == ["missing", "damaged", "displaced",
                                                                           "sunken"]
    assert client.get(f"{V2}/services/E0102.json").json() == {"service_code": "E0102", "attributes": []}

    for code in ("X9999", "E01", "E0198"):  # not a code, a major (a group), a minor the catalogue lacks
        r = client.get(f"{V2}/services/{code}.json")
        assert r.status_code == 404 and r.json()[0]["code"] == 404, r.text
        r = client.get(f"{V2}/services/{code}.xml")
        assert r.status_code == 404
        assert _xml(r).findtext("error/code") == "404"


def test_post_and_read_back_in_xml_with_media_url_and_attributes(client: TestClient, api_key: str,
                                                                 db: psycopg.Connection) -> None:
    photo = "https://12319.example.cn/photos/cover-1.jpg"
    r = _post(client, api_key, "xml", service_code="C0101", description="井盖丢失", media_url=photo,
              **{"attribute[cover_state]": "missing", "attribute[component_code]": "3415230101000001"})
    assert r.status_code == 201, r.text
    root = _xml(r)
    assert root.tag == "service_requests"
    request_id = root.findtext("request/service_request_id")
    assert request_id and "已受理" in (root.findtext("request/service_notice") or "")
    (evidence,) = db.execute("SELECT e.data FROM case_evidence e JOIN cases c ON c.id = e.case_id "
                             "WHERE c.case_no = %s AND e.kind = 'note'", (request_id,)).fetchone()
    assert evidence["attributes"] == {"cover_state": "missing", "component_code": "3415230101000001"}

    (fetched,) = client.get(f"{V2}/requests/{request_id}.json").json()
    assert (fetched["media_url"], fetched["service_code"], fetched["status"]) == (photo, "C0101", "open")
    one = _xml(client.get(f"{V2}/requests/{request_id}.xml"))
    assert one.tag == "service_requests"
    assert (one.findtext("request/service_request_id"), one.findtext("request/media_url"),
            one.findtext("request/status"), one.findtext("request/status_notes")) == (request_id, photo, "open", "")
    listed = _xml(client.get(f"{V2}/requests.xml", params={"service_request_id": request_id}))
    assert [r.findtext("service_request_id") for r in listed.iterfind("request")] == [request_id]
    listed = _xml(client.get(f"{V2}/requests.xml", params={"service_code": "C0101", "status": "open"}))
    assert request_id in [r.findtext("service_request_id") for r in listed.iterfind("request")]


def test_attributes_are_checked_against_the_definition(client: TestClient, api_key: str) -> None:
    cases = [
        ({}, "attribute[cover_state] is required"),
        ({"attribute[cover_state]": "stolen"}, "'stolen' is not one of missing, damaged, displaced, sunken"),
        ({"attribute[cover_state]": "missing", "attribute[colour]": "red"}, "no attribute 'colour'"),
    ]
    for attrs, words in cases:
        r = _post(client, api_key, service_code="C0101", **attrs)
        assert r.status_code == 400 and words in r.json()[0]["description"], r.text
    r = _post(client, api_key, "xml", service_code="E0403", **{"attribute[smell]": "strong",
                                                               "attribute[people_nearby]": "many"})
    assert r.status_code == 400 and "'many' is not a number" in (_xml(r).findtext("error/description") or "")
    lights = client.post(f"{V2}/requests.json", data={  # a multivaluelist: the key repeated with []
        "api_key": api_key, "service_code": "C0118", "lat": "31.4731", "long": "116.9531",
        "attribute[light_fault][]": ["dark", "flickering"]})
    assert lights.status_code == 201, lights.text


def test_empty_optional_parameters_are_absent(client: TestClient, api_key: str) -> None:
    r = _post(client, api_key, service_code="E0507", description="乱堆物料", email="", phone="", media_url="")
    assert r.status_code == 201, r.text
    request_id = r.json()[0]["service_request_id"]
    everything = {"service_request_id": "", "service_code": "", "start_date": "", "end_date": "", "status": "",
                  "jurisdiction_id": ""}
    for fmt in ("json", "xml"):
        r = client.get(f"{V2}/requests.{fmt}", params=everything)
        assert r.status_code == 200, r.text
    assert request_id in {x["service_request_id"] for x in client.get(f"{V2}/requests.json", params=everything).json()}
    assert client.get(f"{V2}/services.json", params={"jurisdiction_id": ""}).status_code == 200
    assert client.get(f"{V2}/requests/{request_id}.xml", params={"jurisdiction_id": ""}).status_code == 200


def test_filters_by_date_and_status(client: TestClient, api_key: str) -> None:
    r = _post(client, api_key, service_code="E0506", description="非机动车乱停")
    request_id = r.json()[0]["service_request_id"]

    def ids(**params: str) -> set[str]:
        return {x["service_request_id"] for x in client.get(f"{V2}/requests.json", params=params).json()}

    assert request_id in ids(service_code="E0506,E0505", status="open")
    assert request_id in ids(service_code="E0506", status="open,closed")
    assert request_id not in ids(service_code="E0506", status="closed")
    assert request_id not in ids(service_code="E0506", end_date="2020-01-01T00:00:00Z")
    assert request_id in ids(service_code="E0506", start_date="2020-01-01T00:00:00+08:00")


def test_errors_are_the_specs_array_in_the_paths_format(client: TestClient, api_key: str) -> None:
    bad_requests = [
        ("GET", f"{V2}/requests.{{fmt}}", {"params": {"status": "pending"}}, 400, "status"),
        ("GET", f"{V2}/requests.{{fmt}}", {"params": {"start_date": "yesterday"}}, 400, "start_date"),
        ("GET", f"{V2}/requests/nope.{{fmt}}", {}, 404, "no service request nope"),
        ("POST", f"{V2}/requests.{{fmt}}", {"data": {"service_code": "E0102", "lat": "1", "long": "1"}}, 403,
         "api_key"),
        ("POST", f"{V2}/requests.{{fmt}}", {"data": {"api_key": api_key, "service_code": "E0102", "lat": "95",
                                                      "long": "1"}}, 400, "lat"),  # a validation error
        ("POST", f"{V2}/requests.{{fmt}}", {"data": {"api_key": api_key, "service_code": "E0102"}}, 400,
         "a location is required"),
        ("POST", f"{V2}/requests.{{fmt}}", {"data": {"api_key": api_key, "service_code": "E0102", "lat": "31.47",
                                                      "long": "116.95", "media_url": "javascript:alert(1)"}}, 400,
         "media_url"),
    ]
    for method, path, kwargs, status, words in bad_requests:
        r = client.request(method, path.format(fmt="json"), **kwargs)
        assert r.status_code == status, (path, r.text)
        (error,) = r.json()
        assert error["code"] == status and words in error["description"], (path, error)
        r = client.request(method, path.format(fmt="xml"), **kwargs)
        assert r.status_code == status, (path, r.text)
        root = _xml(r)
        assert root.tag == "errors" and root.findtext("error/code") == str(status), r.text
        assert words in (root.findtext("error/description") or ""), r.text
    wrong_format = client.get(f"{V2}/services.html")
    assert wrong_format.status_code == 400 and wrong_format.json()[0]["code"] == 400
