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
        {"code": "E0103", "zh": "积存垃圾渣土"}]}, allow_unicode=True), encoding="utf-8")
    (tmp_path / "working_calendar.yaml").write_text("periods: [08:30-12:00, '8']\n", encoding="utf-8")
    done = civicgrid(settings, "rules", "load", str(tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "refused, 3 error(s)" in done.stderr
    assert "catalogue.yaml, category 1 (E01), field disposal_class: 'G' is not one of" in done.stderr
    assert "catalogue.yaml, category 2 (E0103), field en: missing (required)" in done.stderr
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
        "catalogue.yaml", "permissions.yaml", "scoring.yaml", "time_limits.yaml", "working_calendar.yaml"]
    again = civicgrid(settings, "rules", "load", str(tmp_path / "out"))
    assert again.returncode == 0 and int(again.stdout) == version and "unchanged" in again.stderr
