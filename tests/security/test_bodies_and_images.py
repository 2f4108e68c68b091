"""Items 3 and 4: request bodies are bounded per route while they stream in, before authentication; photos
are checked from their header before anything decodes them, and a decoder's error is a 4xx with nothing left
behind."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

import cv2
import httpx
import numpy as np
from fastapi.testclient import TestClient

from civicgrid.settings import Settings


def test_an_oversized_upload_is_refused_413_before_authentication(server: str, api_settings: Settings) -> None:
    limit = api_settings.api.max_upload_bytes
    body = b"\xff\xd8\xff" + b"x" * (limit * 4)
    with httpx.Client(base_url=server, timeout=30) as http:  # no credentials at all
        declared = http.post("/media", files={"file": ("big.jpg", body, "image/jpeg")})
        assert declared.status_code == 413, declared.text

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted as the body streams
            boundary = b"--cgboundary\r\n"
            yield boundary + b'Content-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
            for _ in range(limit * 4 // 65536):
                yield b"y" * 65536

        streamed = http.post("/media", content=chunks(),
                             headers={"Content-Type": "multipart/form-data; boundary=cgboundary"})
        assert streamed.status_code == 413, streamed.text


def test_a_large_json_body_is_refused_413_before_authentication(server: str, api_settings: Settings) -> None:
    body = b'{"note": "' + b"z" * (api_settings.api.max_body_bytes + 1) + b'"}'
    with httpx.Client(base_url=server, timeout=30) as http:
        r = http.post("/cases", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"


def _png_declaring(width: int, height: int, rows: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = zlib.compress(b"\x00" * ((width + 1) * rows), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _jpeg_declaring(width: int, height: int) -> bytes:
    _, jpeg = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    data = bytearray(jpeg.tobytes())
    sof = data.index(b"\xff\xc0")  # baseline frame header: length, precision, height, width
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def test_a_decompression_bomb_is_refused_from_its_header(client: TestClient, as_user, api_settings: Settings,
                                                         db) -> None:
    bomb = _png_declaring(30_000, 30_000, rows=1000)
    assert len(bomb) < 200_000
    r = client.post("/media", headers=as_user("api-operator"), files={"file": ("bomb.png", bomb, "image/png")})
    assert r.status_code == 415, r.text
    assert "30000 × 30000" in r.json()["detail"]


def test_a_jpeg_claiming_60000_square_is_a_4xx_and_leaves_nothing(client: TestClient, as_user,
                                                                  api_settings: Settings, db) -> None:
    before = {p.name for p in api_settings.api.media_dir.rglob("*")}
    rows_before = db.execute("SELECT count(*) FROM media").fetchone()[0]
    r = client.post("/media", headers=as_user("api-operator"),
                    files={"file": ("huge.jpg", _jpeg_declaring(60_000, 60_000), "image/jpeg")})
    assert r.status_code == 415, r.text
    assert {p.name for p in api_settings.api.media_dir.rglob("*")} == before  # no file moved into place
    assert db.execute("SELECT count(*) FROM media").fetchone()[0] == rows_before
