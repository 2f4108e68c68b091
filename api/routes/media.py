"""/media: photos and voice notes from handhelds, stored once under their SHA-256, served back with auth.

The type is decided from the file's first bytes, not from the client's Content-Type:
JPEG, PNG, WebP photos; AMR (the usual handheld voice format), MP3, M4A, Ogg, WAV, WebM
(a browser's recording: the handheld app's) voice. The size limit is `api.max_upload_bytes`
(enforced while the body streams in, api/body_limit.py); a photo whose header declares more than `api.max_photo_pixels`
pixels is refused before anything decodes it, and one whose header no library can read
is kept without being decoded. Reports and actions reference the
returned id (`media_ids`) and the case gets an evidence row per medium. A handheld
uploads with HTTP Basic (its device id and MQTT secret) and its report names the
returned ids in `photo_ids`. QR labels in a photo are read at upload (`labels`,
and the component ids they name): the case builder uses them to link a report
that names no component.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import psycopg
from fastapi import APIRouter, Depends, File, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from api.auth import ANY_ROLE, require, require_or_handheld
from api.deps import ApiContext, Ctx, Db
from api.errors import ApiError, not_found
from api.schemas.media import MediaPublic
from api.users import User
from civicgrid.domain.case_state import Role
from civicgrid.domain.components import component_ids_in_label
from civicgrid.labels import image_size, photo_labels
from civicgrid.store import media

log = logging.getLogger(__name__)

router = APIRouter(prefix="/media", tags=["media"])
CHUNK = 1 << 16
MediaIdPath = Annotated[str, PathParam(pattern=r"^[0-9a-f]{64}$", description="the file's SHA-256")]


# (test on the first 16 bytes, content type); the first match wins.
_MAGIC = (
    (lambda h: h.startswith(b"\xff\xd8\xff"), "image/jpeg"),
    (lambda h: h.startswith(b"\x89PNG\r\n\x1a\n"), "image/png"),
    (lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP", "image/webp"),
    (lambda h: h[:4] == b"RIFF" and h[8:12] == b"WAVE", "audio/wav"),
    (lambda h: h.startswith(b"#!AMR"), "audio/amr"),
    (lambda h: h.startswith(b"OggS"), "audio/ogg"),
    (lambda h: h.startswith(b"ID3") or h[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"), "audio/mpeg"),
    (lambda h: h[4:8] == b"ftyp" and h[8:11] == b"M4A", "audio/mp4"),
    # WebM (an EBML header): what a browser's MediaRecorder records, the handheld app's voice notes (Opus).
    (lambda h: h.startswith(b"\x1a\x45\xdf\xa3"), "audio/webm"),
)


def sniff(head: bytes) -> str | None:
    """Content type from magic bytes; None if not an accepted photo or voice format."""
    return next((kind for test, kind in _MAGIC if test(head)), None)


@router.post("", status_code=201, summary="Upload a photo or voice note (multipart field `file`)",
             responses={413: {"description": "larger than the limit"}, 415: {"description": "not a photo/voice"}})
def upload(ctx: Ctx, file: Annotated[UploadFile, File(description="JPEG/PNG/WebP or AMR/MP3/M4A/Ogg/WAV/WebM")],
           user: Annotated[User, Depends(require_or_handheld(Role.INSPECTOR, Role.OPERATOR, Role.DEPARTMENT,
                                                             Role.SHIFT_LEADER, Role.DISPATCHER, brief=True))],
           ) -> MediaPublic:
    # No pooled connection is held while the file is checked and its labels read (a second or more for a
    # large photo): one is borrowed for the row alone.
    limit = ctx.settings.api.max_upload_bytes
    media_dir = ctx.settings.api.media_dir
    digest, size = media.id_hasher(), 0
    with media.temp_file(media_dir) as tmp:
        try:
            head = b""
            while chunk := file.file.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, "too-large", f"upload exceeds {limit} bytes")
                if len(head) < 16:
                    head += chunk[:16]
                digest.update(chunk)
                tmp.write(chunk)
            content_type = sniff(head)
            if content_type is None:
                raise ApiError(415, "unsupported-media", "not an accepted photo (JPEG, PNG, WebP) or voice "
                                                         "(AMR, MP3, M4A, Ogg, WAV, WebM) file")
            readable = False
            if content_type.startswith("image/"):
                tmp.flush()
                readable = _header_within_limit(Path(tmp.name), ctx.settings.api.max_photo_pixels)
        except BaseException:
            tmp.close()
            Path(tmp.name).unlink(missing_ok=True)
            raise
    media_id = digest.hexdigest()
    target = media.place(media_dir, media_id, Path(tmp.name))  # same content, same name: a repeat is harmless
    labels = _labels(target) if readable else []
    with ctx.pool.connection() as db:
        media.record(db, media_id, content_type, size, uploaded_by=user.id, labels=labels)
    return MediaPublic(id=media_id, content_type=content_type, size_bytes=size, labels=labels,
                       component_ids=[c for text in labels for c in component_ids_in_label(text)])


def _header_within_limit(path: Path, max_pixels: int) -> bool:
    """From the photo's header alone: 415 when it declares more than `max_pixels`; False when no header can be
    read (the file is kept, but nothing will decode it: what a header hides could be a bomb); True to decode."""
    try:
        width, height = image_size(path.read_bytes())
    except ValueError as exc:
        log.warning("photo %s: %s; stored without reading labels", path.name, exc)
        return False
    if width * height > max_pixels:
        raise ApiError(415, "unsupported-media", f"the photo declares {width} × {height} pixels; at most "
                                                 f"{max_pixels:,} are accepted")
    return True


def _labels(path: Path) -> list[str]:
    """QR labels in a photo. A photo OpenCV cannot decode is still kept as evidence (a browser may show
    it), with no labels: reading labels helps locate a report, it is not a condition of accepting one."""
    try:
        return photo_labels(path.read_bytes())
    except ValueError:
        log.warning("photo %s: not decodable by OpenCV; stored without reading labels", path.name)
        return []


@router.get("/{media_id}", summary="Download a medium", response_class=FileResponse,
            responses={200: {"content": {"image/jpeg": {}, "audio/amr": {}}}, 404: {"description": "unknown id"}})
def download(ctx: Ctx, db: Db, media_id: MediaIdPath, user: Annotated[User, Depends(require(*ANY_ROLE))]) \
        -> FileResponse:
    return media_file(ctx, db, media_id)


def media_file(ctx: ApiContext, db: psycopg.Connection, media_id: str) -> FileResponse:
    """The stored file with its type (also the handheld's task photos, api/routes/handheld.py); 404 if unknown."""
    row = db.execute("SELECT content_type FROM media WHERE id = %s", (media_id,)).fetchone()
    path = media.media_path(ctx.settings.api.media_dir, media_id)
    if row is None or not path.is_file():
        raise not_found("media", media_id)
    return FileResponse(path, media_type=row[0], headers={"Cache-Control": "private, max-age=86400"})
