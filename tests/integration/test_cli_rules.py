"""`civicgrid rules load/show/export` as an operator runs them: an invalid pack is refused with every error and
stores nothing; a valid one becomes the current version, shows, exports, and loads back as the same version."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml

from civicgrid.cases.pack import shipped_pack
from civicgrid.cases.rulebook import store_pack
from civicgrid.settings import Settings
from civicgrid.store import rule_packs
from tests.integration.test_cli_devices import civicgrid

pytestmark = pytest.mark.integration


@pytest.fixture
def shipped_after(db: psycopg.Connection) -> Iterator[None]:
    """The database is shared: the shipped tables are current again after the test."""
    store_pack(db, shipped_pack(), "test")
    yield
    store_pack(db, shipped_pack(), "test")


def test_rules_load_refuses_an_invalid_pack_with_its_errors(settings: Settings, db: psycopg.Connection,
                                                            shipped_after: None, tmp_path: Path) -> None:
    before = rule_packs.latest_version(db)
    (tmp_path / "catalogue.yaml").write_text(yaml.safe_dump({"categories": [
        {"code": "E01", "zh": "市容环境", "en": "City appearance", "disposal_class": "G"},
        {"code": "E0103", "zh": "积存垃圾渣土", "closing_condition": "已清运"}]}, allow_unicode=True), encoding="utf-8")
    (tmp_path / "working_calendar.yaml").write_text("periods: [08:30-12:00, '8']\n", encoding="utf-8")
    done = civicgrid(settings, "rules", "load", str(tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "refused, 4 error(s)" in done.stderr
    assert "catalogue.yaml, category 1 (E01), field disposal_class: 'G' is not one of" in done.stderr
    assert "catalogue.yaml, category 2 (E0103), field en: missing (required)" in done.stderr
    assert ("catalogue.yaml, category 2 (E0103), field filing_condition: missing: every minor category needs its "
            "filing condition (立案条件") in done.stderr
    assert "working_calendar.yaml, period 2, field periods: a working period is written HH:MM-HH:MM" in done.stderr
    assert done.stdout == ""
    assert rule_packs.latest_version(db) == before


def test_rules_load_show_and_export_round_trip(settings: Settings, db: psycopg.Connection, shipped_after: None,
                                               tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "working_calendar.yaml").write_text("round_the_clock: true\n", encoding="utf-8")
    loaded = civicgrid(settings, "rules", "load", str(pack))
    assert loaded.returncode == 0, loaded.stderr
    version = int(loaded.stdout)
    assert version == rule_packs.latest_version(db) and "stored" in loaded.stderr

    shown = civicgrid(settings, "rules", "show")
    assert shown.returncode == 0, shown.stderr
    assert f"version    {version}" in shown.stdout and str(pack.resolve()) in shown.stdout
    assert "working_calendar round the clock" in shown.stdout and "85 categories" in shown.stdout

    exported = civicgrid(settings, "rules", "export", str(tmp_path / "out"))
    assert exported.returncode == 0, exported.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "catalogue.yaml", "duplicates.yaml", "permissions.yaml", "scoring.yaml", "time_limits.yaml",
        "working_calendar.yaml"]
    again = civicgrid(settings, "rules", "load", str(tmp_path / "out"))
    assert again.returncode == 0 and int(again.stdout) == version and "unchanged" in again.stderr


def test_rules_export_xlsx_loads_back_as_the_same_version_and_a_bad_cell_is_named(
        settings: Settings, db: psycopg.Connection, shipped_after: None, tmp_path: Path) -> None:
    import openpyxl

    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "working_calendar.yaml").write_text("round_the_clock: true\n", encoding="utf-8")
    version = int(civicgrid(settings, "rules", "load", str(pack)).stdout)
    book = tmp_path / "out" / "rules.xlsx"
    assert civicgrid(settings, "rules", "export", "--xlsx", str(book), str(pack)).returncode == 2  # one, not both
    exported = civicgrid(settings, "rules", "export", "--xlsx", str(book))
    assert exported.returncode == 0, exported.stderr
    again = civicgrid(settings, "rules", "load", str(book))
    assert again.returncode == 0, again.stderr
    assert int(again.stdout) == version and "unchanged" in again.stderr

    wb = openpyxl.load_workbook(book)
    limits = wb["处置时限"]
    row = next(r[0].row for r in limits.iter_rows(min_row=2) if r[1].value == "B")
    limits.cell(row, 4).value = "四"
    wb.save(book)
    refused = civicgrid(settings, "rules", "load", str(book))
    assert refused.returncode == 1 and refused.stdout == ""
    assert f"rules.xlsx, 处置时限!D{row}, field 时限: '四' is not a number" in refused.stderr
    assert rule_packs.latest_version(db) == version

    limits.cell(row, 4).value = 3
    wb.save(book)
    loaded = civicgrid(settings, "rules", "load", str(book))
    assert loaded.returncode == 0, loaded.stderr
    assert int(loaded.stdout) == version + 1
    stored = rule_packs.latest(db)
    assert stored is not None and stored.content["time_limits"]["disposal_classes"]["B"] == {"amount": 3,
                                                                                             "unit": "hours"}
    assert stored.source == str(book.resolve())
