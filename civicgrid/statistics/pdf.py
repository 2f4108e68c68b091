"""A publication as a PDF (ReportLab platypus, A4): title, summary, charts (charts.py) and tables, in Chinese.

The CJK TrueType font is embedded (subset), so the document reads the same in any viewer and in
pdftoppm without fonts of its own. Tables are cut at `ROWS` rows; the workbook has them whole.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from civicgrid.statistics import charts
from civicgrid.statistics.publications import Contents
from civicgrid.statistics.shaping import Count

ROWS = 20
WIDTH = A4[0] - 36 * mm


@cache
def _font(path: Path) -> str:
    """Register the font with ReportLab once per file; the first face of a .ttc collection."""
    name = f"cjk-{path.stem}"
    pdfmetrics.registerFont(TTFont(name, str(path), subfontIndex=0))
    return name


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], font: str) -> Table:
    table = Table([list(header), *[[str(c) for c in r] for r in rows]], repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), font, 8.5),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6f0")),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa5b1")),
        ("ALIGN", (2, 1), (-1, -1), "RIGHT"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f5f7fa")]),
    ]))
    return table


def _counts(counts: Sequence[Count], key_title: str, font: str) -> Table:
    rows = [[c.key or "", c.name[:20], c.totals.cases, _pct(c.share), c.totals.closed, _pct(c.totals.closure_rate),
             _pct(c.totals.on_time_closure_rate)] for c in counts[:ROWS]]
    return _table((key_title, "名称", "案件数", "占比", "结案数", "结案率", "按期结案率"), rows, font)


def _image(png: bytes) -> Image:
    image = Image(io.BytesIO(png))
    scale = WIDTH / image.imageWidth
    image.drawWidth, image.drawHeight = WIDTH, image.imageHeight * scale
    return image


def render(contents: Contents, font_path: Path | None = None) -> bytes:
    path = charts.cjk_font(font_path)
    font, family = _font(path), charts.family_of(path)
    s, t = contents.stats, contents.stats.totals
    h1 = ParagraphStyle("h1", fontName=font, fontSize=17, leading=24, alignment=1, spaceAfter=4 * mm)
    h2 = ParagraphStyle("h2", fontName=font, fontSize=12.5, leading=18, spaceBefore=5 * mm, spaceAfter=2 * mm,
                        textColor=colors.HexColor("#1f3f66"))
    body = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=15)
    change = s.trend.change
    story: list[Flowable] = [
        Paragraph(contents.title, h1),
        Paragraph(f"统计周期：{s.period.first} 至 {s.period.last}　对比周期：{s.previous.first} 至 {s.previous.last}"
                  f"　生成时间：{contents.generated_at:%Y-%m-%d %H:%M}", body),
        Paragraph("一、总体情况", h2),
        Paragraph(f"本期共受理案件 {t.cases} 件，上期 {s.trend.previous_cases} 件，环比"
                  f"{'持平' if change == 0 else ('增加' if (change or 0) > 0 else '减少')}"
                  f"{'' if change in (None, 0) else f' {abs(change or 0):.1%}'}；已结案 {t.closed} 件"
                  f"（按期 {t.closed_on_time} 件），作废 {t.cancelled} 件，在办 {t.open} 件；"
                  f"结案率 {_pct(t.closure_rate)}，按期结案率 {_pct(t.on_time_closure_rate)}。", body),
        _image(charts.trend_chart(s.trend, "案件数趋势（本期与上期）", family)),
        Paragraph("二、案件来源", h2),
        _image(charts.source_chart(s.by_source, "案件来源构成", family)),
        _counts(s.by_source, "来源", font),
        Paragraph("三、案件类别", h2),
        _image(charts.bar_chart(s.by_category, "高发案件类别（前十）", family)),
        _counts(s.by_category, "类别代码", font),
        Paragraph("四、区域分布", h2),
        Paragraph("按街道", body), _counts(s.by_area, "街道代码", font), Spacer(1, 3 * mm),
        Paragraph("按社区", body), _counts(contents.by_community, "社区代码", font), Spacer(1, 3 * mm),
        Paragraph("按责任网格", body), _counts(contents.by_grid, "责任网格", font),
        Paragraph("五、热点分析", h2),
        _image(charts.bar_chart(s.hot_cells, "案件最多的单元网格", family)),
        Paragraph("重复发生的问题（同一单元网格内同一类别本期上报两次及以上）", body),
        _table(("单元网格代码", "类别代码", "类别名称", "案件数"),
               [[h.cell, h.category, h.category_name, h.cases] for h in s.recurring] or [["—", "", "本期无", ""]],
               font),
    ]
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            bottomMargin=16 * mm, title=contents.title, author="civicgrid")

    def footer(canvas: object, document: object) -> None:
        canvas.saveState()  # type: ignore[attr-defined]
        canvas.setFont(font, 8)  # type: ignore[attr-defined]
        canvas.drawCentredString(A4[0] / 2, 9 * mm, f"{contents.title}　第 {document.page} 页")  # type: ignore
        canvas.restoreState()  # type: ignore[attr-defined]

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()
