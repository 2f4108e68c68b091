"""Publications through the real API, the schedule and the CLI, on the July 2019 cases of test_statistics.py:
documents on demand (Excel opens with its sheets and counts, the PDF carries its title), recorded ones listed
and downloaded, roles, the scheduled run publishing each kind's last complete period once, and `civicgrid
publish` writing both files and recording them."""

from __future__ import annotations

import io
import subprocess
import urllib.parse
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from civicgrid.domain.working_calendar import CHINA_TZ
from civicgrid.settings import Settings
from civicgrid.statistics import workbook
from civicgrid.statistics.publications import MEDIA_TYPES, PublicationKind
from civicgrid.statistics.schedule import publish_due
from tests.integration.api.test_statistics import july  # noqa: F401 - the module's cases, filed once
from tests.integration.test_cli_devices import civicgrid

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("july")]

Headers = Callable[[str], dict[str, str]]


def _pdf_text(content: bytes, tmp_path: Path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(content)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_monthly_documents_on_demand(client: TestClient, as_user: Headers, tmp_path: Path) -> None:
    r = client.get("/statistics/documents/monthly", headers=as_user("api-operator"),
                   params={"day": "2019-07-09", "format": "xlsx"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == MEDIA_TYPES["xlsx"]
    disposition = r.headers["content-disposition"]
    assert 'filename="civicgrid-monthly-2019-07-01.xlsx"' in disposition
    assert urllib.parse.unquote(disposition.split("filename*=UTF-8''")[1]) == "2019年7月数字城管月度通报.xlsx"
    wb = load_workbook(io.BytesIO(r.content))
    assert tuple(wb.sheetnames) == workbook.SHEETS
    summary = {row[0]: row[1] for row in wb["概况"].iter_rows(min_row=4, values_only=True)}
    assert (summary["案件数"], summary["结案数"], summary["作废数"], summary["上期案件数"]) == (7, 2, 1, 2)
    assert {row[0]: row[2] for row in wb["按类别"].iter_rows(min_row=2, values_only=True)} == {
        "E0102": 4, "E0505": 2, "C0101": 1}
    assert next(wb["重复发生"].iter_rows(min_row=2, values_only=True))[:4] == (
        "34152306600101", "E0102", "暴露垃圾", 3)

    r = client.get("/statistics/documents/monthly", headers=as_user("api-operator"), params={"day": "2019-07-09"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = _pdf_text(r.content, tmp_path)
    assert "2019年7月数字城管月度通报" in text and "本期共受理案件 7 件" in text


def test_record_list_download_and_roles(client: TestClient, as_user: Headers) -> None:
    body = {"kind": "xun", "day": "2019-07-25"}
    assert client.post("/statistics/publications", headers=as_user("api-operator"), json=body).status_code == 403
    r = client.post("/statistics/publications", headers=as_user("api-leader"), json=body)
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["kind"], made["title"], made["trigger"]) == ("xun", "2019年7月下旬数字城管旬分析", "api")
    assert made["period"]["first"] == "2019-07-21" and made["period"]["last"] == "2019-07-31"
    listed = client.get("/statistics/publications", headers=as_user("api-dispatcher"), params={"kind": "xun"})
    assert made["id"] in [p["id"] for p in listed.json()]
    r = client.get(f"/statistics/publications/{made['id']}/document", headers=as_user("api-dispatcher"),
                   params={"format": "pdf"})
    assert r.status_code == 200 and r.content.startswith(b"%PDF") and len(r.content) == made["pdf_bytes"]
    assert "%E6%97%AC%E5%88%86%E6%9E%90.pdf" in r.headers["content-disposition"]  # 旬分析.pdf
    assert client.get("/statistics/publications/999999999/document",
                      headers=as_user("api-boss")).status_code == 404
    assert client.get("/statistics/publications", headers=as_user("api-inspector")).status_code == 403
    bad = client.post("/statistics/publications", headers=as_user("api-boss"), json={"kind": "daily",
                                                                                     "day": "1999-01-01"})
    assert bad.status_code == 422 and "between" in bad.json()["detail"]


def test_the_schedule_publishes_each_last_complete_period_once(db: psycopg.Connection) -> None:
    kinds, settle = list(PublicationKind), timedelta(hours=1)
    db.execute("DELETE FROM publications WHERE period_first IN ('2019-07-30', '2019-07-31', '2019-07-11', "
               "'2019-07-21', '2019-06-01', '2019-07-01', '2018-01-01')")
    # 00:30 on 1 August: July 31 ended less than `settle` ago, so the last complete periods are the ones before.
    early = publish_due(db, kinds, datetime(2019, 8, 1, 0, 30, tzinfo=CHINA_TZ), settle)
    assert {(r.kind, r.period_first.isoformat(), r.trigger) for r in early} == {
        ("daily", "2019-07-30", "schedule"), ("xun", "2019-07-11", "schedule"), ("monthly", "2019-06-01", "schedule"),
        ("yearly", "2018-01-01", "schedule")}
    now = datetime(2019, 8, 1, 2, 0, tzinfo=CHINA_TZ)
    made = publish_due(db, kinds, now, settle)
    assert {(r.kind, r.period_first.isoformat()) for r in made} == {
        ("daily", "2019-07-31"), ("xun", "2019-07-21"), ("monthly", "2019-07-01")}  # the year 2018 is out already
    assert {r.kind: r.cases for r in made} == {"daily": 1, "xun": 1, "monthly": 7}
    assert publish_due(db, kinds, now + timedelta(minutes=10), settle) == []  # nothing new is due


def test_cli_publish_writes_both_files_and_records_them(settings: Settings, db: psycopg.Connection,
                                                        tmp_path: Path) -> None:
    done = civicgrid(settings, "publish", "--period", "month", "--at", "2019-07-09", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    written = sorted(Path(line) for line in done.stdout.splitlines())
    assert [p.name for p in written] == ["2019年7月数字城管月度通报.pdf", "2019年7月数字城管月度通报.xlsx"]
    assert written[0].read_bytes().startswith(b"%PDF")
    assert tuple(load_workbook(written[1]).sheetnames) == workbook.SHEETS
    assert "7 cases; recorded as publication" in done.stderr
    assert db.execute("SELECT trigger, cases FROM publications WHERE kind = 'monthly' AND period_first = "
                      "'2019-07-01'").fetchone() == ("cli", 7)
    refused = civicgrid(settings, "publish", "--period", "day", "--at", "1999-12-31", "--out", str(tmp_path))
    assert refused.returncode == 1 and "between" in refused.stderr
