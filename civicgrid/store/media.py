"""Media (photos, voice notes, camera snapshots): the file's name and place under `api.media_dir`, and its row.

A medium is named by the SHA-256 of its bytes, so the same photo uploaded twice, or a snapshot the camera
recorder keeps again after a restart, is one file and one `media` row; a client can check the id it gets
back (simulators/photos.py). Files sit in a sub-directory per first two hex digits so that no directory
grows to hundreds of thousands of entries. The upload and download routes (api/routes/media.py) and the
camera recorder (through `civicgrid.store.cameras.store_media`) run in different processes and share the
directory (docs/cameras.md), so the layout is written here once and every reader and writer goes through it.
A file appears under its name only complete: it is written beside it and renamed into place.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

import psycopg

if TYPE_CHECKING:
    from hashlib import _Hash


def id_hasher() -> _Hash:
    """The hash whose hex digest names a medium, for bytes that arrive in chunks (an upload)."""
    return hashlib.sha256()


def media_id(data: bytes) -> str:
    """The id (and file name) of these bytes."""
    return hashlib.sha256(data).hexdigest()


def media_path(media_dir: Path, media_id: str) -> Path:
    """Where the medium `media_id` lives (whether or not it has been stored)."""
    return media_dir / media_id[:2] / media_id


def temp_file(media_dir: Path) -> IO[bytes]:
    """An open file in `media_dir` for bytes whose id is not known yet; `place` moves it under its name.

    It is a dot file in the same directory (so the rename is atomic) that the caller deletes on refusal."""
    media_dir.mkdir(parents=True, exist_ok=True)
    return tempfile.NamedTemporaryFile(dir=media_dir, delete=False, prefix=".upload-")


def place(media_dir: Path, media_id: str, written: Path) -> Path:
    """Move a complete file (from `temp_file`) under its name; the same content twice is harmless."""
    target = media_path(media_dir, media_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    written.replace(target)
    return target


def write_file(media_dir: Path, data: bytes) -> str:
    """Keep bytes as a media file unless already kept; returns their id."""
    mid = media_id(data)
    target = media_path(media_dir, mid)
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{mid}.{uuid.uuid4().hex[:6]}")
        tmp.write_bytes(data)
        tmp.replace(target)
    return mid


def record(conn: psycopg.Connection, media_id: str, content_type: str, size_bytes: int, *,
           uploaded_by: int | None = None, labels: Sequence[str] = ()) -> None:
    """The `media` row of a kept file (idempotent: the first row of an id stays)."""
    conn.execute("INSERT INTO media (id, content_type, size_bytes, uploaded_by, labels) VALUES (%s, %s, %s, %s, %s) "
                 "ON CONFLICT (id) DO NOTHING", (media_id, content_type, size_bytes, uploaded_by, list(labels)))
