"""The sources a case comes from (docs/domain.md §1), with the names people read: the one list the API serves
(`GET /sources`) and the console's board, intake screen and statistics take their choices and labels from.

The codes are `Source` (civicgrid/domain/case_state.py), stored in `cases.source` and checked there by the
database; this table adds what a person sees. A source without names here fails at import, so a new source
cannot reach the console as a raw key.
"""

from __future__ import annotations

from dataclasses import dataclass

from civicgrid.domain.case_state import Source


@dataclass(frozen=True, slots=True)
class SourceName:
    code: Source
    name: str  # Chinese, as the centre says it
    name_en: str
    description: str


SOURCE_NAMES: tuple[SourceName, ...] = tuple(SourceName(s, *names) for s, names in {
    Source.INSPECTOR: ("监督员上报", "Inspector", "an inspector's patrol report (城管通)"),
    Source.CAMERA: ("视频抓拍", "Video capture", "a camera's detection, or an operator's capture from the video wall"),
    Source.HOTLINE: ("12319热线", "12319 hotline", "a citizen's call (12319 / 12345) or an Open311 request"),
    Source.LEADER: ("领导批示", "Leader's instruction", "an instruction (批示) from a leader"),
    Source.TRANSFER: ("转办", "Transfer", "a case transferred from another body, with its reference"),
    Source.SENSOR: ("物联网感知", "IoT sensor", "an alarm from a sensor (manhole cover, bin …)"),
}.items())

_missing = set(Source) - {s.code for s in SOURCE_NAMES}
if _missing:  # pragma: no cover - a programming error, caught by any import
    raise RuntimeError(f"sources without names: {sorted(_missing)}")


def source_name(code: Source | str) -> str:
    """The Chinese name of a source (the code itself if unknown: old rows, never an error)."""
    return next((s.name for s in SOURCE_NAMES if s.code == code), str(code))
