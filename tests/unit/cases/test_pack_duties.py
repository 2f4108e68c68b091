"""The responsibility table and the patrol plans as tables of the rule pack (civicgrid/cases/pack_duties.py): left
out, the pack has no such table (the database's stays) and the digest of every earlier pack is unchanged; given,
each row is checked by itself and every error names the file, the row and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from civicgrid.cases.pack import InvalidPack, PackError, export_pack, from_tables, load_pack, shipped_pack

RULES = {"rules": [{"category_code": "E0102", "grid_prefix": "3415", "department_id": "sanitation"},
                   {"category_code": "C01", "department_id": "utilities", "note": "全市"}]}
PLANS = {"plans": [{"inspector": "insp01", "grid": "G01", "window": "08:00-17:00", "main_road_passes": 3},
                   {"inspector": "insp01", "grid": "G02", "valid_from": "2026-12-01", "valid_to": "2026-12-31"}]}


def _errors(**tables: object) -> list[PackError]:
    with pytest.raises(InvalidPack) as refused:
        from_tables(tables, "test")
    return refused.value.errors


def test_a_pack_without_them_has_neither_and_keeps_its_digest() -> None:
    shipped = shipped_pack()
    assert "responsibility" not in shipped.content and "patrol_plans" not in shipped.content
    # the digest every stored version was given before these tables existed: reloading one stores nothing new
    assert shipped.digest == from_tables({}, "again").digest


def test_a_pack_with_them_keeps_them_and_they_go_out_and_back_as_files(tmp_path: Path) -> None:
    pack = from_tables({"responsibility": RULES, "patrol_plans": PLANS}, "test")
    assert pack.content["responsibility"] == RULES and pack.content["patrol_plans"] == PLANS
    written = export_pack(pack.content, tmp_path, "test")
    assert {p.name for p in written} >= {"responsibility.yaml", "patrol_plans.yaml"}
    assert load_pack(tmp_path).digest == pack.digest
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "patrol_plans.yaml").write_text(yaml.safe_dump(PLANS), encoding="utf-8")
    assert "responsibility" not in load_pack(alone).content


def test_each_wrong_rule_is_named_by_file_row_and_field() -> None:
    errors = _errors(responsibility={"rules": [
        {"category_code": "X01", "department_id": "sanitation"},
        {"category_code": "E0102", "grid_prefix": "34a", "department_id": ""},
        {"category_code": "E0102", "grid_prefix": "3415", "department_id": "sanitation"},
        {"category_code": "E0102", "grid_prefix": "3415", "department_id": "utilities"},
        {"category_code": "E0102", "department": "sanitation"}]})
    assert [(e.file, e.row, e.field) for e in errors] == [
        ("responsibility.yaml", "rule 2 (E0102 @ 34a)", "grid_prefix"),
        ("responsibility.yaml", "rule 2 (E0102 @ 34a)", "department_id"),
        ("responsibility.yaml", "rule 5 (E0102)", "department_id"),
        ("responsibility.yaml", "rule 5 (E0102)", "department"),
        ("responsibility.yaml", "rule 1 (X01)", "category_code"),
        ("responsibility.yaml", "rule 4 (E0102 @ 3415)", "grid_prefix")]
    assert errors[3].message == "unknown field"
    assert "is given already, by rule 3" in errors[5].message


def test_a_rule_for_a_category_the_catalogue_lacks_is_named() -> None:
    (error,) = _errors(responsibility={"rules": [{"category_code": "E0177", "department_id": "sanitation"}]})
    assert (error.row, error.field, error.message) == ("rule 1 (E0177)", "category_code",
                                                       "E0177 is not in the catalogue")


def test_an_empty_table_is_refused_since_it_would_leave_nobody_responsible() -> None:
    errors = _errors(responsibility={"rules": []}, patrol_plans={"plans": []})
    assert [(e.file, e.field) for e in errors] == [("responsibility.yaml", "rules"), ("patrol_plans.yaml", "plans")]


def test_each_wrong_plan_is_named_by_file_row_and_field() -> None:
    errors = _errors(patrol_plans={"plans": [
        {"inspector": "insp01", "grid": "G01", "window": "18:30-07:30"},
        {"inspector": "insp02", "grid": "G01", "window": "8"},
        {"inspector": "insp03", "grid": "G01", "main_road_passes": -1},
        {"inspector": "insp04", "grid": "G01", "valid_from": "2026-12-10", "valid_to": "2026-12-01"},
        {"inspector": "insp01", "grid": "G02"}]})
    assert [(e.row, e.field) for e in errors] == [
        ("plan 1 (insp01)", "window"), ("plan 2 (insp02)", "window"), ("plan 3 (insp03)", "main_road_passes"),
        ("plan 4 (insp04)", "valid_to"), ("plan 5 (insp01)", "valid_from")]
    assert errors[0].message == "a patrol window ends after it starts: '18:30-07:30'"
    assert "HH:MM-HH:MM" in errors[1].message
    assert "one plan a day per inspector" in errors[4].message
