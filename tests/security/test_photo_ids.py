"""Item 13: a handheld's report keeps only photo (and voice note) ids of media that exist and that its inspector
uploaded."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime

import orjson
import psycopg
import pytest

from api.users import create_user
from gateway.service import Gateway
from tests.e2e.conftest import Corner
from tests.support.mqtt import MqttTestClient
from tests.support.services import wait_for

pytestmark = pytest.mark.e2e


def test_foreign_and_invented_photo_ids_are_refused_with_a_reason(worker, gateway: Gateway, provision,
                                                                  corner: Corner, db: psycopg.Connection) -> None:
    settings, log = worker
    tag = uuid.uuid4().hex[:6]
    mine, _ = create_user(db, f"insp-own-{tag}", "inspector")
    other, _ = create_user(db, f"insp-other-{tag}", "inspector")
    own_photo, foreign_photo = (hashlib.sha256(f"{tag}-{n}".encode()).hexdigest() for n in ("own", "foreign"))
    own_voice, foreign_voice = (hashlib.sha256(f"{tag}-{n}".encode()).hexdigest() for n in ("ov", "fv"))
    for media_id, uploader, kind in ((own_photo, mine.id, "image/jpeg"), (foreign_photo, other.id, "image/jpeg"),
                                     (own_voice, mine.id, "audio/webm"), (foreign_voice, other.id, "audio/webm")):
        db.execute("INSERT INTO media (id, content_type, size_bytes, uploaded_by) VALUES (%s, %s, 1, %s)",
                   (media_id, kind, uploader))
    invented = "../../users?token=x"
    device_id, secret = provision("handheld", inspector_user_id=mine.id)
    client = MqttTestClient(settings.mqtt.host, settings.mqtt.port, device_id, secret, client_id=device_id)
    client.connect()
    try:
        body = {"seq": 1, "ts": datetime.now(UTC).isoformat(), "report_id": f"r-{tag}", "kind": "report",
                "category_code": "E0102", "description": "暴露垃圾", "lon": corner.lon, "lat": corner.lat,
                "photo_ids": [own_photo, foreign_photo, invented], "voice_ids": [foreign_voice, own_voice]}
        assert client.publish(f"cg/{device_id}/report", orjson.dumps(body)).value == 0
        case_id = wait_for(lambda: db.execute("SELECT id FROM cases WHERE source_record_id = %s",
                                              (f"report:{device_id}:r-{tag}",)).fetchone(), 60, "the case", log=log)[0]
        time.sleep(0.5)
    finally:
        client.close()
    photos = db.execute("SELECT data->>'media_id' FROM case_evidence WHERE case_id = %s AND kind = 'photo'",
                        (case_id,)).fetchall()
    assert photos == [(own_photo,)]
    (report,) = db.execute("SELECT data FROM case_evidence WHERE case_id = %s AND kind = 'report'",
                           (case_id,)).fetchone()
    assert report["photo_ids"] == [own_photo]
    assert report["photo_ids_refused"]["ids"] == [foreign_photo, invented]
    voices = db.execute("SELECT data->>'media_id' FROM case_evidence WHERE case_id = %s AND kind = 'voice'",
                        (case_id,)).fetchall()
    assert voices == [(own_voice,)]
    assert report["voice_ids"] == [own_voice] and report["voice_ids_refused"]["ids"] == [foreign_voice]
