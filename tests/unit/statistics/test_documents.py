"""The publication documents from hand-made statistics (no database): the workbook's sheets and cells, the PDF's
text (Chinese, extracted back by pdftotext), its charts (embedded images) and that its pages are not blank."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PIL import Image

from civicgrid.domain.working_calendar import CHINA_TZ
from civicgrid.statistics import pdf, workbook
from civicgrid.statistics.periods import PeriodKind, period_of
from civicgrid.statistics.publications import Contents, PublicationKind, content_disposition
from civicgrid.statistics.shaping import Bucket, Count, HotSpot, Statistics, Totals, trend
from civicgrid.store.statistics import Dimension

JULY = period_of(PeriodKind.MONTH, date(2019, 7, 1))


def _count(key: str | None, name: str, cases: int, share: float) -> Count:
    return Count(key, name, Totals(cases, cases - 1, cases - 2 if cases > 1 else 0, 0), share)


def contents() -> Contents:
    by_category = (_count("E0102", "暴露垃圾", 30, 0.6), _count("E0505", "机动车乱停放", 20, 0.4))
    stats = Statistics(
        period=JULY, previous=JULY.previous(), totals=Totals(50, 48, 45, 1),
        by_category=by_category, by_source=(_count("inspector", "监督员上报", 45, 0.9),
                                            _count("hotline", "12319热线", 5, 0.1)),
        area_level=Dimension.STREET, by_area=(_count("341523001", "341523001", 50, 1.0),),
        hot_cells=(_count("34152300100101", "单元00101", 12, 0.24),),
        recurring=(HotSpot("34152300100101", "E0102", "暴露垃圾", 7),),
        trend=trend(JULY, JULY.previous(), Bucket.DAY, {date(2019, 7, d): d % 4 for d in range(1, 32)},
                    {date(2019, 6, d): 1 for d in range(1, 31)}))
    return Contents(PublicationKind.MONTHLY, stats, (_count("341523001001", "341523001001", 50, 1.0),),
                    (_count("G1", "一号责任网格", 40, 0.8), _count(None, "无网格", 10, 0.2)),
                    datetime(2019, 8, 1, 1, 0, tzinfo=CHINA_TZ))


def test_workbook_has_chinese_sheets_headers_and_rates() -> None:
    wb = load_workbook(io.BytesIO(workbook.render(contents())))
    assert tuple(wb.sheetnames) == workbook.SHEETS
    assert wb["概况"]["A1"].value == "2019年7月数字城管月度通报"
    summary = {r[0]: r[1] for r in wb["概况"].iter_rows(min_row=4, values_only=True)}
    assert (summary["案件数"], summary["结案率"], summary["上期案件数"]) == (50, round(48 / 49, 4), 30)
    rows = list(wb["按类别"].iter_rows(values_only=True))
    assert rows[0][:4] == ("类别代码", "名称", "案件数", "占比") and rows[1][:4] == ("E0102", "暴露垃圾", 30, 0.6)
    assert wb["按类别"]["D2"].number_format == "0.0%"
    assert next(wb["按责任网格"].iter_rows(min_row=3, values_only=True))[:3] == (None, "无网格", 10)
    assert len(list(wb["趋势"].iter_rows())) == 32 and wb["趋势"]._charts


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (make setup) is not installed")
def test_pdf_has_the_chinese_text_the_charts_and_ink(tmp_path: Path) -> None:
    path = tmp_path / "m.pdf"
    path.write_bytes(pdf.render(contents()))
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    for words in ("2019年7月数字城管月度通报", "结案率", "暴露垃圾", "一号责任网格", "重复发生"):
        assert words in text
    images = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
    assert sum(1 for line in images.splitlines()[2:] if line.split()[2] == "image") == 4  # the four charts
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(path), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert pages
    first = Image.open(pages[0]).convert("L")
    dark = sum(first.histogram()[:200])  # pixels darker than light grey
    assert dark > 0.01 * first.width * first.height  # text and a chart, not a white page


def test_attachment_name_is_chinese_by_rfc_5987() -> None:
    header = content_disposition(PublicationKind.MONTHLY, JULY, "pdf")
    assert header.startswith('attachment; filename="civicgrid-monthly-2019-07-01.pdf"; filename*=UTF-8\'\'')
    assert "%E6%9C%88%E5%BA%A6%E9%80%9A%E6%8A%A5.pdf" in header  # 月度通报.pdf, percent-encoded UTF-8
