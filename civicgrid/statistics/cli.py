"""`civicgrid publish`: one publication written to files and recorded, as the schedule would (docs/statistics.md).

Registered by civicgrid/cli.py; the heavy imports (openpyxl, matplotlib, ReportLab) wait for the command.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from civicgrid import command_settings

console = Console(stderr=True)
PERIODS = {"day": "daily", "xun": "xun", "month": "monthly", "year": "yearly"}


def publish(
    period: Annotated[Literal["day", "xun", "month", "year"], typer.Option(
        help="day: daily statistics (日统计); xun: 旬 analysis (旬分析, days 1–10, 11–20, 21–end); month: monthly "
             "publication (月度通报); year: yearly assessment (年度考评).")],
    at: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="Any day in the period (YYYY-MM-DD). Default: the last period that has ended "
                                   "(yesterday, the last 旬, last month, last year) by the platform clock.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Directory for the .xlsx and .pdf (default: the setting statistics.output_dir).",
        file_okay=False)] = None,
) -> None:
    """Make a publication as Excel and PDF, write both files and record them (GET /statistics/publications)."""
    from civicgrid.clock import PlatformClock
    from civicgrid.domain.working_calendar import CHINA_TZ
    from civicgrid.statistics.periods import BadPeriod, Period, last_complete, period_of
    from civicgrid.statistics.publications import PublicationKind, file_name
    from civicgrid.statistics.publications import publish as make_and_record
    from civicgrid.store.db import connect

    settings = command_settings.current()
    kind = PublicationKind(PERIODS[period])
    now = PlatformClock.from_settings(settings.clock).now()
    try:
        chosen: Period = (period_of(kind.period_kind, at.date()) if at is not None
                          else last_complete(kind.period_kind, now.astimezone(CHINA_TZ).date()))
    except BadPeriod as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    directory = out or settings.statistics.output_dir
    directory.mkdir(parents=True, exist_ok=True)
    with connect(settings.db, autocommit=True) as conn:
        row, docs = make_and_record(conn, kind, chosen, now, "cli", settings.statistics.cjk_font)
    for fmt, content in (("xlsx", docs.xlsx), ("pdf", docs.pdf)):
        _, chinese = file_name(kind, chosen, fmt)
        path = directory / chinese
        path.write_bytes(content)
        print(path)
    console.print(f"{docs.title}: {docs.cases} cases; recorded as publication {row.id}", highlight=False)

