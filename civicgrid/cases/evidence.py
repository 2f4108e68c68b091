"""Evidence on a case: media attached to an action, a handheld report's photos, and which photos a
handheld may name (only media its own inspector uploaded)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import psycopg

from civicgrid.cases import repository as store
from civicgrid.cases.errors import UnknownReference
from civicgrid.cases.problem import Locator, Problem
from civicgrid.domain.case_state import Action
from civicgrid.domain.components import component_ids_in_label

log = logging.getLogger(__name__)

Media = list[tuple[str, str]]  # (media id, content type)


def media_of(conn: psycopg.Connection, media_ids: tuple[str, ...]) -> Media:
    """The named media, in order without repeats; every id must exist."""
    if not media_ids:
        return []
    rows: dict[str, str] = dict(conn.execute("SELECT id, content_type FROM media WHERE id = ANY(%s)",
                                             (list(media_ids),)).fetchall())
    missing = [m for m in media_ids if m not in rows]
    if missing:
        raise UnknownReference("media", ", ".join(missing), "upload with POST /media")
    return [(m, rows[m]) for m in dict.fromkeys(media_ids)]


def media_kind(content_type: str) -> str:
    """A medium's evidence kind: a voice note (audio), else a photo."""
    return "voice" if content_type.startswith("audio/") else "photo"


def attach_media(conn: psycopg.Connection, case_id: str, seq: int, action: Action, media: Media,
                 now: datetime) -> None:
    for media_id, content_type in media:
        store.add_evidence(conn, case_id, store.Evidence(
            f"media:{case_id}:{seq}:{media_id}", media_kind(content_type), now, None,
            {"media_id": media_id, "content_type": content_type, "action": action.value}))


def report_media(report: store.Evidence, media: Media) -> list[store.Evidence]:
    """A linked report's uploaded media as evidence rows of their own, named after the report, as a handheld
    report's photos are (`photo_evidence`)."""
    rows = []
    for media_id, content_type in media:
        kind = media_kind(content_type)
        rows.append(store.Evidence(f"{kind}:{report.source_record_id}:{media_id}", kind, report.at, None,
                                   {"media_id": media_id, "content_type": content_type,
                                    "report": report.source_record_id}))
    return rows


# A handheld report's media fields (device-profiles/handheld.yaml) → the evidence kind of each medium.
MEDIA_FIELDS = {"photo_ids": "photo", "voice_ids": "voice"}


def photo_evidence(report: store.Evidence) -> list[store.Evidence]:
    """A handheld report's photos and voice notes (uploaded to the API first, named by id in `photo_ids` and
    `voice_ids`) as evidence rows of their own, like media attached in the console, so the case detail shows
    them."""
    if report.kind != "report":
        return []
    return [store.Evidence(f"{kind}:{report.source_record_id}:{media_id}", kind, report.at, report.device_id,
                           {"media_id": media_id, "report": report.source_record_id})
            for field, kind in MEDIA_FIELDS.items() for media_id in report.data.get(field) or ()]


def add_with_photos(conn: psycopg.Connection, case_id: str, evidence: store.Evidence) -> None:
    store.add_evidence(conn, case_id, evidence)
    for photo in photo_evidence(evidence):
        store.add_evidence(conn, case_id, photo)


def own_photos(conn: psycopg.Connection, problem: Problem) -> Problem:
    """A report's `photo_ids` (and `voice_ids`) kept only where this handheld's inspector uploaded them
    (`own_media`)."""
    uploader = int(problem.actor.removeprefix("user:")) if problem.actor.startswith("user:") else None
    evidence = own_media(conn, problem.source_record_id, problem.evidence, uploader)
    return problem if evidence == problem.evidence else dataclasses.replace(problem, evidence=evidence)


def own_media(conn: psycopg.Connection, source_record_id: str, data: Mapping[str, Any],
              uploader: int | None) -> dict[str, Any]:
    """`data` with only the `photo_ids` (and `voice_ids`) of media that exist and that `uploader` (the handheld's
    inspector) uploaded: a report's, or a field task's answer's.

    Any string a handheld names would otherwise become a media id the console fetches with the viewer's
    token, and another inspector's photo could be passed off as evidence. The refused ids stay in the
    evidence, with the reason, for whoever reviews the case."""
    fields = [f for f in MEDIA_FIELDS if data.get(f)]
    named = {f: [str(p) for p in data[f]] for f in fields}
    everything = [p for ids in named.values() for p in ids]
    own: set[str] = set()
    if uploader is not None and everything:
        with conn.transaction():
            own = {row[0] for row in conn.execute("SELECT id FROM media WHERE id = ANY(%s) AND uploaded_by = %s",
                                                  (everything, uploader)).fetchall()}
    kept = dict(data)
    for field, ids in named.items():
        refused = [p for p in ids if p not in own]
        if not refused:
            continue
        log.warning("%s: %s refused (no such medium, or not uploaded by this handheld's inspector): %s",
                    source_record_id, field, ", ".join(p[:70] for p in refused))
        kept[field] = [p for p in ids if p in own]
        kept[f"{field}_refused"] = {"ids": [p[:70] for p in refused],
                                    "reason": "no such medium, or not uploaded by this handheld's inspector"}
    return kept


def linked_by_label(conn: psycopg.Connection, problem: Problem, locator: Locator) -> Problem:
    """A component report (a C category) that names no component, with a photo of a registered component's
    QR label, is about that component (the API read the labels at upload): it is located, coded and merged
    by it.  An event report (E) keeps its own category and place: a label in its photo is only nearby."""
    with conn.transaction():
        rows = conn.execute("SELECT labels FROM media WHERE id = ANY(%s) ORDER BY created_at",
                            (list(problem.evidence["photo_ids"]),)).fetchall()
    for (labels,) in rows:
        for code in (c for text in labels for c in component_ids_in_label(text)):
            if locator.component_category(code) is not None:
                log.info("%s: photo label names component %s", problem.source_record_id, code)
                return dataclasses.replace(problem, component_code=code,
                                           evidence={**problem.evidence, "labelled_component": code})
    return problem
