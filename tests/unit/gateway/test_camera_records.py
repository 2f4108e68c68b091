"""Camera records on Kafka (civicgrid.bus.camera_records) and camera password references."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from civicgrid.bus import camera_records, records
from civicgrid.bus.camera_records import DETECTION_KINDS
from gateway.cameras.credentials import CredentialError, resolve_password

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
LINKS = {"component_code": None, "grid_cell_code": "34152300100101", "inspector_user_id": None}


@pytest.mark.parametrize(("kind", "cleared", "event_type"), [
    ("occupancy", False, "roi_occupied"), ("occupancy", True, "roi_cleared"), ("tamper_covered", False, "tamper"),
    ("tamper_defocus", True, "tamper_cleared"), ("tamper_moved", False, "tamper"), ("motion", False, "motion"),
    ("qr", False, "qr_code")])
def test_every_detection_kind_round_trips_through_its_record(kind: str, cleared: bool, event_type: str) -> None:
    rec = records.loads(records.dumps(camera_records.camera_event(
        device_id="cam-1", seq=7, ts=NOW, received_at=NOW, kind=kind, cleared=cleared, links=LINKS, roi_id="stall",
        event_code="E0504")))
    assert rec["data"]["type"] == event_type and rec["kind"] == "camera"
    assert camera_records.detection_of(rec) == (kind, cleared)
    # A cleared region carries no category code: the case builder opens no case for it.
    assert ("category_code" in rec["data"]) == (not cleared)
    assert set(DETECTION_KINDS) >= {kind}


def test_the_snapshot_rides_beside_the_data_and_is_checked_against_its_id() -> None:
    jpeg = b"\xff\xd8\xff" + b"x" * 100
    snap = camera_records.snapshot_part(jpeg, NOW, 640, 360)
    rec = orjson.loads(records.dumps(camera_records.camera_event(
        device_id="cam-1", seq=8, ts=NOW, received_at=NOW, kind="occupancy", links=LINKS, roi_id="stall",
        event_code="E0504", snapshot=snap)))
    assert rec["data"]["snapshot_id"] == snap["id"] and "jpeg_b64" not in rec["data"]
    assert camera_records.snapshot_bytes(rec) == (snap["id"], jpeg)
    rec["snapshot"]["jpeg_b64"] = base64.b64encode(b"other").decode()
    with pytest.raises(ValueError, match="do not match"):
        camera_records.snapshot_bytes(rec)


def test_health_records_are_presence_records() -> None:
    rec = camera_records.camera_status(device_id="cam-1", ts=NOW, reachable=False, last_snapshot_at=None,
                                       last_event_at=None, last_error="unauthorized: connect")
    assert (rec["state"], rec["kind"], rec["source"]) == ("offline", "camera", "camera-poller")
    assert rec["detail"]["last_error"] == "unauthorized: connect"


def test_password_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CG_CAM_PW", "from-env")
    (tmp_path / "pw").write_text("from-file\n")
    (tmp_path / "secrets.json").write_bytes(orjson.dumps({"cam-1": "from-secrets"}))
    assert resolve_password("env:CG_CAM_PW", None) == "from-env"
    assert resolve_password(f"file:{tmp_path / 'pw'}", None) == "from-file"
    assert resolve_password("secrets:cam-1", tmp_path / "secrets.json") == "from-secrets"
    for bad, secrets in (("env:CG_CAM_NOPE", None), ("secrets:cam-2", tmp_path / "secrets.json"),
                         ("secrets:cam-1", None), ("vault:x", None), ("env:", None),
                         (f"file:{tmp_path / 'missing'}", None)):
        with pytest.raises(CredentialError) as err:
            resolve_password(bad, secrets)
        assert "from-" not in str(err.value)


def test_leases_split_the_cameras_stably() -> None:
    import zlib

    from gateway.cameras.leases import LEASE_PARTITIONS, lease_of

    ids = [f"sim-cam-{n:03d}" for n in range(1, 22)]
    leases = [lease_of(i) for i in ids]
    assert leases == [zlib.crc32(i.encode()) % LEASE_PARTITIONS for i in ids]  # the same in every process
    assert len(set(leases)) > 10  # the county town's 21 cameras spread over the leases, so over the pollers


def test_a_snapshot_uri_on_another_host_is_not_fetched() -> None:
    from gateway.cameras.onvif_client import _own_host

    assert _own_host("http://127.0.0.1:18201/onvif/snapshot", "127.0.0.1") == "http://127.0.0.1:18201/onvif/snapshot"
    assert _own_host("http://169.254.169.254/latest/meta-data", "127.0.0.1") is None
    assert _own_host("http://127.0.0.1.evil.example/x.jpg", "127.0.0.1") is None
    assert _own_host(None, "127.0.0.1") is None
