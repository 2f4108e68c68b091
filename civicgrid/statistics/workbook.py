"""A publication as an Excel workbook (openpyxl): one sheet per table, Chinese sheet names and headers.

Sheets: 概况 (summary), 按类别, 按来源, 按街道, 按社区, 按责任网格, 热点网格, 重复发生, 趋势 (with a
line chart of this period against the previous one). Rates are numbers formatted as percentages,
so a centre can compute on them; a rate without a denominator is an empty cell, not 0 %.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from civicgrid.statistics.publications import Contents
from civicgrid.statistics.shaping import Bucket, Count

SHEETS = ("概况", "按类别", "按来源", "按街道", "按社区", "按责任网格", "热点网格", "重复发生", "趋势")
COUNT_HEADER = ("案件数", "占比", "结案数", "按期结案数", "作废数", "在办数", "结案率", "按期结案率")
PERCENT = "0.0%"
_HEAD_FONT = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="DDE6F0")
Cell = str | int | float | None


def _table(ws: Worksheet, header: Sequence[str], rows: Iterable[Sequence[Cell]],
           percent_columns: Sequence[int] = ()) -> None:
    ws.append(list(header))
    for cell in ws[ws.max_row]:
        cell.font, cell.fill, cell.alignment = _HEAD_FONT, _HEAD_FILL, Alignment(horizontal="center")
    first = ws.max_row + 1
    for row in rows:
        ws.append(list(row))
    for column in percent_columns:
        for (value,) in ws.iter_rows(min_row=first, min_col=column, max_col=column):
            value.number_format = PERCENT
    for i, title in enumerate(header, start=1):
        widest = max([len(str(title)) * 2, *(len(str(c.value or "")) for (c,) in
                                              ws.iter_rows(min_row=first, min_col=i, max_col=i))])
        ws.column_dimensions[get_column_letter(i)].width = min(max(widest + 2, 8), 40)
    ws.freeze_panes = f"A{first}"


def _count_rows(counts: Sequence[Count]) -> list[list[Cell]]:
    return [[c.key or "", c.name, c.totals.cases, c.share, c.totals.closed, c.totals.closed_on_time,
             c.totals.cancelled, c.totals.open, c.totals.closure_rate, c.totals.on_time_closure_rate]
            for c in counts]


def _counts_sheet(wb: Workbook, name: str, key_title: str, counts: Sequence[Count]) -> None:
    _table(wb.create_sheet(name), (key_title, "名称", *COUNT_HEADER), _count_rows(counts), percent_columns=(4, 9, 10))


def _summary(ws: Worksheet, contents: Contents) -> None:
    s, t = contents.stats, contents.stats.totals
    ws.append([contents.title])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([])
    change = s.trend.change
    rows: list[tuple[str, Cell]] = [
        ("统计周期", f"{s.period.label}（{s.period.first} 至 {s.period.last}）"),
        ("对比周期", f"{s.previous.label}（{s.previous.first} 至 {s.previous.last}）"),
        ("生成时间", contents.generated_at.strftime("%Y-%m-%d %H:%M")),
        ("案件数", t.cases), ("上期案件数", s.trend.previous_cases), ("环比变化", change),
        ("结案数", t.closed), ("按期结案数", t.closed_on_time), ("作废数", t.cancelled), ("在办数", t.open),
        ("结案率", t.closure_rate), ("按期结案率", t.on_time_closure_rate),
    ]
    _table(ws, ("指标", "数值"), rows)
    for (label, value) in ws.iter_rows(min_row=4, max_col=2):
        if label.value in ("环比变化", "结案率", "按期结案率"):
            value.number_format = PERCENT
    ws.column_dimensions["B"].width = 44


def _trend(ws: Worksheet, contents: Contents) -> None:
    trend = contents.stats.trend
    unit = "日" if trend.bucket is Bucket.DAY else "周（起始日）"
    _table(ws, (f"本期{unit}", "本期案件数", f"上期{unit}", "上期案件数"),
           [[p.start.isoformat(), p.cases, p.previous_start.isoformat() if p.previous_start else "", p.previous_cases]
            for p in trend.points])
    if trend.points:
        chart = LineChart()
        chart.title, chart.y_axis.title, chart.height, chart.width = "案件数趋势（本期与上期）", "案件数", 8, 18
        data = Reference(ws, min_col=2, max_col=2, min_row=1, max_row=len(trend.points) + 1)
        previous = Reference(ws, min_col=4, max_col=4, min_row=1, max_row=len(trend.points) + 1)
        chart.add_data(data, titles_from_data=True)
        chart.add_data(previous, titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=len(trend.points) + 1))
        ws.add_chart(chart, "F2")


def render(contents: Contents) -> bytes:
    s = contents.stats
    wb = Workbook()
    summary = wb.active
    assert summary is not None
    summary.title = SHEETS[0]
    _summary(summary, contents)
    _counts_sheet(wb, "按类别", "类别代码", s.by_category)
    _counts_sheet(wb, "按来源", "来源", s.by_source)
    _counts_sheet(wb, "按街道", "街道代码", s.by_area)
    _counts_sheet(wb, "按社区", "社区代码", contents.by_community)
    _counts_sheet(wb, "按责任网格", "责任网格", contents.by_grid)
    _counts_sheet(wb, "热点网格", "单元网格代码", s.hot_cells)
    _table(wb.create_sheet("重复发生"), ("单元网格代码", "类别代码", "类别名称", "案件数"),
           [[h.cell, h.category, h.category_name, h.cases] for h in s.recurring])
    _trend(wb.create_sheet("趋势"), contents)
    wb.properties.title, wb.properties.creator = contents.title, "civicgrid"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
