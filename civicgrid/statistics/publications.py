"""The four publications of a centre (docs/domain.md §5): daily statistics 日统计, 旬 analysis 旬分析,
monthly publication 月度通报 and yearly assessment 年度考评, each as an Excel workbook and a PDF with charts.

`gather` reads what a publication shows (the statistics of its period at street level, plus the
community and responsibility-grid tables); `make` renders both documents; `publish` makes and records
them (civicgrid/store/statistics.py, table `publications`). Who triggers it (schedule, CLI, API) is the caller's.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import psycopg

from civicgrid.statistics import shaping
from civicgrid.statistics.compute import collect
from civicgrid.statistics.periods import Period, PeriodKind
from civicgrid.statistics.shaping import Count, Statistics
from civicgrid.store import statistics as q
from civicgrid.store.statistics import CaseFilter, Dimension, PublicationRow

TOP = 15  # rows of the hot-spot tables in a publication


class PublicationKind(StrEnum):
    DAILY = "daily"
    XUN = "xun"
    MONTHLY = "monthly"
    YEARLY = "yearly"

    @property
    def period_kind(self) -> PeriodKind:
        return _PERIOD[self]

    @property
    def zh(self) -> str:
        return _ZH[self]

    @classmethod
    def for_period(cls, kind: PeriodKind) -> PublicationKind:
        for publication, period in _PERIOD.items():
            if period is kind:
                return publication
        raise ValueError(f"no publication covers a {kind.value} period")


_PERIOD = {PublicationKind.DAILY: PeriodKind.DAY, PublicationKind.XUN: PeriodKind.XUN,
           PublicationKind.MONTHLY: PeriodKind.MONTH, PublicationKind.YEARLY: PeriodKind.YEAR}
_ZH = {PublicationKind.DAILY: "日统计", PublicationKind.XUN: "旬分析", PublicationKind.MONTHLY: "月度通报",
       PublicationKind.YEARLY: "年度考评"}
MEDIA_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               "pdf": "application/pdf"}


@dataclass(frozen=True, slots=True)
class Contents:
    """What one publication shows."""

    kind: PublicationKind
    stats: Statistics
    by_community: tuple[Count, ...]
    by_grid: tuple[Count, ...]
    generated_at: datetime

    @property
    def title(self) -> str:
        return title_of(self.kind, self.stats.period)


@dataclass(frozen=True, slots=True)
class Documents:
    title: str
    period: Period
    cases: int
    xlsx: bytes
    pdf: bytes


def title_of(kind: PublicationKind, period: Period) -> str:
    return f"{period.label}数字城管{kind.zh}"


def file_name(kind: PublicationKind, period: Period, fmt: str) -> tuple[str, str]:
    """(ASCII fallback, Chinese) file names of a document."""
    return f"civicgrid-{kind.value}-{period.first.isoformat()}.{fmt}", f"{title_of(kind, period)}.{fmt}"


def content_disposition(kind: PublicationKind, period: Period, fmt: str) -> str:
    """An attachment with the Chinese name by RFC 5987/6266 (`filename*`) and an ASCII one for old clients."""
    ascii_name, chinese = file_name(kind, period, fmt)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{urllib.parse.quote(chinese, safe='')}"


def gather(conn: psycopg.Connection, kind: PublicationKind, period: Period, now: datetime) -> Contents:
    everything = CaseFilter()
    stats = collect(conn, period, everything, area_level=Dimension.STREET, top=TOP)
    n = stats.totals.cases
    communities = q.counts_by(conn, Dimension.COMMUNITY, period.start, period.end, everything)
    grids = q.counts_by(conn, Dimension.GRID, period.start, period.end, everything)
    return Contents(kind, stats, shaping.counts(Dimension.COMMUNITY, communities, n),
                    shaping.counts(Dimension.GRID, grids, n), now)


def make(conn: psycopg.Connection, kind: PublicationKind, period: Period, now: datetime,
         font: Path | None = None) -> Documents:
    """Both documents of one publication (about a second of CPU for the PDF's charts); `font`: the CJK font
    file (statistics.cjk_font), else the first Debian one found."""
    from civicgrid.statistics import pdf, workbook  # openpyxl, matplotlib and ReportLab load only when needed

    contents = gather(conn, kind, period, now)
    return Documents(contents.title, period, contents.stats.totals.cases, workbook.render(contents),
                     pdf.render(contents, font))


def publish(conn: psycopg.Connection, kind: PublicationKind, period: Period, now: datetime,
            trigger: str, font: Path | None = None) -> tuple[PublicationRow, Documents]:
    """Make the documents and record them (replacing an earlier run for the same period)."""
    docs = make(conn, kind, period, now, font)
    row = q.save_publication(conn, kind=kind.value, first=period.first, last=period.last, title=docs.title,
                             trigger=trigger, cases=docs.cases, xlsx=docs.xlsx, pdf=docs.pdf)
    return row, docs

