"""The statistics page in a real browser against `civicgrid api`: a leader picks a month, sees its counts and tables,
and downloads the monthly publication in both formats. The Excel opens with openpyxl with its sheets and counts;
the PDF renders with pdftoppm, not blank, with its four charts embedded.

The cases lie in September 2019 in the package's own cells (filed by the case service at those times), so no other
test's cases share the month."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from openpyxl import load_workbook
from PIL import Image

from civicgrid.cases import CaseService
from civicgrid.cases.intake import NewCase
from civicgrid.domain.case_state import Action, Role, Source
from civicgrid.domain.working_calendar import CHINA_TZ
from civicgrid.statistics import workbook
from tests.browser.conftest import Org, axe_critical

pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils absent (make setup)")

MONTH_TITLE = "2019年9月数字城管月度通报"


def _file_september(db: psycopg.Connection, org: Org) -> None:
    service = CaseService()
    cases = [(3, org.cell, "E0102", Role.INSPECTOR, None), (3, org.cell, "E0102", Role.INSPECTOR, None),
             (12, org.cell, "E0102", Role.INSPECTOR, None),
             (16, org.other_cell, "C0102", Role.OPERATOR, Source.HOTLINE),
             (30, org.other_cell, "E0505", Role.OPERATOR, Source.CAMERA)]
    for n, (day, cell, category, role, source) in enumerate(cases):
        at = datetime(2019, 9, day, 10, 0, tzinfo=CHINA_TZ)
        case_id, created = service.report(db, role, "ui-statistics", NewCase(category, "统计页测试", source, cell,
                                                                              source_record_id=f"ui-st-{org.suffix}-{n}"),
                                          at, lambda lon, lat: None)
        if created and n == 0:
            service.act(db, Role.ADMIN, "ui-statistics", case_id, Action.SELF_HANDLE, {"note": "当场处理"}, (), at)


def test_statistics_page_downloads_the_monthly_publication_in_both_formats(org: Org, new_page, db, artifacts: Path,
                                                                            tmp_path: Path) -> None:
    _file_september(db, org)
    page = new_page(org.users["leader"], "#/statistics")
    page.wait_for_selector("#st-summary")
    page.fill("#st-day", "2019-09-15")
    summary = page.locator("#st-summary")
    summary.filter(has_text="2019年9月").wait_for()
    assert "案件数 5" in summary.inner_text().replace("\n", " ")
    assert page.locator("#st-by-category tr[data-key=E0102] td").nth(2).inner_text() == "3"
    assert page.locator("#st-recurring tbody tr").first.inner_text().split("\t")[:2] == [org.cell, "E0102"]
    page.locator(".statistics-page .chart svg").first.wait_for()
    assert axe_critical(page) == []
    page.screenshot(path=str(artifacts / "console-statistics.png"), full_page=True)

    with page.expect_download() as xlsx_download:
        page.click("#dl-monthly-xlsx")
    xlsx = xlsx_download.value
    assert xlsx.suggested_filename == f"{MONTH_TITLE}.xlsx"
    xlsx_path = tmp_path / "monthly.xlsx"
    xlsx.save_as(xlsx_path)
    wb = load_workbook(xlsx_path)
    assert tuple(wb.sheetnames) == workbook.SHEETS
    summary_rows = {row[0]: row[1] for row in wb["概况"].iter_rows(min_row=4, values_only=True)}
    assert (summary_rows["案件数"], summary_rows["结案数"]) == (5, 1)
    assert {row[0]: row[2] for row in wb["按来源"].iter_rows(min_row=2, values_only=True)} == {
        "inspector": 3, "hotline": 1, "camera": 1}

    with page.expect_download() as pdf_download:
        page.click("#dl-monthly-pdf")
    pdf = pdf_download.value
    assert pdf.suggested_filename == f"{MONTH_TITLE}.pdf"
    pdf_path = tmp_path / "monthly.pdf"
    pdf.save_as(pdf_path)
    images = subprocess.run(["pdfimages", "-list", str(pdf_path)], capture_output=True, text=True, check=True).stdout
    assert sum(1 for line in images.splitlines()[2:] if line.split()[2] == "image") == 4  # the four charts
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf_path), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) >= 2
    shutil.copy(pages[0], artifacts / "statistics-monthly-page1.png")
    first = Image.open(pages[0]).convert("L")
    dark = sum(first.histogram()[:200])  # pixels darker than light grey
    assert dark > 0.02 * first.width * first.height, "the first page is (nearly) blank"
