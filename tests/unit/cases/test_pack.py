"""The rule pack loader (civicgrid/cases/pack.py): a directory of tables, every error named by file, row and
field, a missing file meaning the shipped table, an export that loads back to the same digest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from civicgrid.cases.pack import InvalidPack, PackError, export_pack, load_pack, shipped_pack
from civicgrid.domain.case_state import Action, Role
from civicgrid.domain.time_limits import DisposalClass

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # Friday 18:00 in UTC+8: after hours


def _pack(tmp_path: Path, **tables: object) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name, data in tables.items():
        text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True)
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def _errors(tmp_path: Path, **tables: object) -> list[PackError]:
    with pytest.raises(InvalidPack) as refused:
        load_pack(_pack(tmp_path, **tables))
    return refused.value.errors


def _one(tmp_path: Path, **tables: object) -> PackError:
    (error,) = _errors(tmp_path, **tables)
    return error


# A minor's filing and closing conditions (required: test_a_minor_without_its_filing_or_closing_condition_is_named).
STANDARD = {"filing_condition": "公共区域有暴露垃圾", "closing_condition": "垃圾已清除，现场整洁"}


def _catalogue(*rows: dict[str, object]) -> dict[str, object]:
    return {"categories": [{"code": "E01", "zh": "市容环境", "en": "City appearance", "disposal_class": "C"}, *rows]}


def _permissions(**changes: list[str]) -> dict[str, object]:
    actions = {a.value: sorted(r.value for r in shipped_pack().rules.permissions.roles_for(a)) for a in Action}
    return {"actions": {**actions, **changes}}


def test_an_empty_directory_is_the_shipped_pack(tmp_path: Path) -> None:
    pack = load_pack(tmp_path)
    assert pack.content == shipped_pack().content and pack.digest == shipped_pack().digest


def test_a_city_pack_builds_its_rules_and_keeps_the_shipped_tables_it_leaves_out(tmp_path: Path) -> None:
    catalogue = _catalogue({"code": "E0103", "zh": "积存垃圾渣土", "en": "Accumulated garbage", "disposal_class": "B",
                           **STANDARD})
    pack = load_pack(_pack(tmp_path, catalogue=catalogue, working_calendar={"round_the_clock": True},
                           permissions=_permissions(file=["operator", "shift_leader", "admin"])))
    rules = pack.rules
    assert rules.disposal_class("E0103") is DisposalClass.B
    assert rules.permissions.allows(Role.OPERATOR, Action.FILE)
    # Round-the-clock duty: class B's 4 working hours are 4 clock hours, on a Friday evening too.
    assert rules.disposal_deadline(NOW, "E0103") == NOW + timedelta(hours=4)
    assert shipped_pack().rules.disposal_deadline(NOW, "E0103") > NOW + timedelta(days=2)  # Monday
    assert pack.content["time_limits"] == shipped_pack().content["time_limits"]
    assert pack.digest != shipped_pack().digest


def test_an_export_loads_back_to_the_same_digest(tmp_path: Path) -> None:
    pack = load_pack(_pack(tmp_path / "in", working_calendar={"holidays": ["2031-10-01"], "workdays": ["2031-09-28"]},
                           catalogue=_catalogue()))
    export_pack(pack.content, tmp_path / "out", "test")
    again = load_pack(tmp_path / "out")
    assert again.digest == pack.digest
    assert load_pack(tmp_path / "in").digest == pack.digest  # and loading twice changes nothing


# -- one test per kind of error: each names the file, the row and the field -------------------------------------

def test_a_wrong_value_names_the_category_by_index_and_code(tmp_path: Path) -> None:
    error = _one(tmp_path, catalogue=_catalogue({"code": "E0102", "zh": "暴露垃圾", "en": "x", "disposal_class": "G",
                                                 **STANDARD}))
    assert (error.file, error.row, error.field) == ("catalogue.yaml", "category 2 (E0102)", "disposal_class")
    assert "'G' is not one of 'A'" in error.message
    assert str(error).startswith("catalogue.yaml, category 2 (E0102), field disposal_class: ")


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    error = _one(tmp_path, catalogue=_catalogue({"code": "E0102", "zh": "暴露垃圾", **STANDARD}))
    assert (error.row, error.field, error.message) == ("category 2 (E0102)", "en", "missing (required)")


def test_an_unknown_field_is_named(tmp_path: Path) -> None:
    error = _one(tmp_path, catalogue=_catalogue({"code": "E0102", "zh": "暴露垃圾", "en": "x", "colour": "red",
                                                 **STANDARD}))
    assert (error.row, error.field, error.message) == ("category 2 (E0102)", "colour", "unknown field")


def test_a_bad_category_code_a_duplicate_and_a_missing_major_are_named(tmp_path: Path) -> None:
    errors = _errors(tmp_path, catalogue=_catalogue({"code": "E1", "zh": "a", "en": "a"},
                                                    {"code": "E01", "zh": "b", "en": "b"},
                                                    {"code": "C0101", "zh": "c", "en": "c", **STANDARD}))
    assert [(e.row, e.field) for e in errors] == [("category 2 (E1)", "code"), ("category 3 (E01)", "code"),
                                                  ("category 4 (C0101)", "code")]
    assert "listed already, as category 1" in errors[1].message
    assert "major category C01 is not in the file" in errors[2].message


def test_an_unknown_name_in_a_table_is_named(tmp_path: Path) -> None:
    error = _one(tmp_path, time_limits={**shipped_pack().content["time_limits"],
                                        "steps": {"acept": {"amount": 10, "unit": "minutes"}}})
    assert (error.file, error.row, error.field) == ("time_limits.yaml", "step acept", None)
    assert error.message.startswith("unknown name: 'acept' is not one of 'accept'")


def test_a_negative_limit_and_a_class_without_a_limit_are_named(tmp_path: Path) -> None:
    limits = dict(shipped_pack().content["time_limits"])
    limits["disposal_classes"] = {**limits["disposal_classes"], "B": {"amount": -4, "unit": "hours"}}
    del limits["disposal_classes"]["F"]
    errors = _errors(tmp_path, time_limits=limits)
    assert [(e.row, e.field) for e in errors] == [("disposal class B", "amount"), ("disposal class F", None)]
    assert "greater than or equal to 0" in errors[0].message and "no limit" in errors[1].message


def test_calendar_periods_that_do_not_parse_or_overlap_and_bad_dates_are_named(tmp_path: Path) -> None:
    errors = _errors(tmp_path, working_calendar={"periods": ["08:30-12:00", "8", "11:00-13:00"],
                                                 "holidays": ["2026-13-01"]})
    assert [(e.row, e.field) for e in errors] == [("period 2", "periods"), ("holiday 1", "holidays"),
                                                  ("period 3", "periods")]
    assert "HH:MM-HH:MM" in errors[0].message and "overlap" in errors[2].message


def test_a_day_that_is_both_a_holiday_and_a_make_up_workday_is_named(tmp_path: Path) -> None:
    error = _one(tmp_path, working_calendar={"holidays": ["2026-10-08", "2026-10-09"],
                                             "workdays": ["2026-10-10", "2026-10-09"]})
    assert (error.file, error.row, error.field) == ("working_calendar.yaml", "holiday 2", "holidays")
    assert error.message == "2026-10-09 is also make-up workday 2: a day is either a holiday or a working day"


def test_an_unknown_role_and_a_forgotten_action_are_named(tmp_path: Path) -> None:
    permissions = _permissions(file=["shift_leader", "pilot"])
    del permissions["actions"]["close"]  # type: ignore[attr-defined]
    errors = _errors(tmp_path, permissions=permissions)
    assert [(e.file, e.row, e.field) for e in errors] == [("permissions.yaml", "action file", "role 2"),
                                                          ("permissions.yaml", "action close", None)]
    assert "'pilot' is not one of" in errors[0].message


def test_scoring_weights_that_do_not_add_up_and_an_open_last_band_are_named(tmp_path: Path) -> None:
    scoring = dict(shipped_pack().content["scoring"])
    scoring["composites"] = {**scoring["composites"], "region": {"closing_rate": 0.5}}
    scoring["case_count_bands"] = [{"max": 50, "score": 100}]
    errors = _errors(tmp_path, scoring=scoring)
    assert [(e.row, e.field) for e in errors] == [("composite region", None), ("case-count band 1", "max")]
    assert "add up to 0.5, not 1" in errors[0].message


def test_a_file_that_is_not_yaml_or_not_a_table_is_named(tmp_path: Path) -> None:
    errors = _errors(tmp_path, catalogue="categories: [\n", levels={"city": 1}, scoring="- just a list\n")
    by_file = {e.file: e for e in errors}
    assert by_file["catalogue.yaml"].row is not None and by_file["catalogue.yaml"].row.startswith("line ")
    assert "not valid YAML" in by_file["catalogue.yaml"].message
    assert "not a file of the rule pack" in by_file["levels.yaml"].message
    assert "must be a mapping" in by_file["scoring.yaml"].message


def test_every_error_of_every_file_comes_in_one_refusal(tmp_path: Path) -> None:
    errors = _errors(tmp_path, catalogue=_catalogue({"code": "E0102", "zh": "x", "en": "x", "disposal_class": "G",
                                                                **STANDARD}),
                     working_calendar={"weekdays": [0]}, permissions=_permissions(file=["pilot"]))
    assert {e.file for e in errors} == {"catalogue.yaml", "working_calendar.yaml", "permissions.yaml"}
    assert ("weekday 1", "weekdays") in {(e.row, e.field) for e in errors}


def test_a_directory_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    error = _one_missing(tmp_path / "nope")
    assert error.message == "no such directory"


def _one_missing(path: Path) -> PackError:
    with pytest.raises(InvalidPack) as refused:
        load_pack(path)
    (error,) = refused.value.errors
    return error


def test_bands_and_grades_out_of_order_are_named_since_a_later_one_would_never_be_reached(tmp_path: Path) -> None:
    scoring = dict(shipped_pack().content["scoring"])
    scoring["case_count_bands"] = [{"max": 100, "score": 100}, {"max": 50, "score": 90}, {"max": None, "score": 0}]
    scoring["grades"] = [{"grade": "A", "min": 90}, {"grade": "B", "min": 95}, {"grade": "C", "min": 0}]
    errors = _errors(tmp_path, scoring=scoring)
    assert [(e.row, e.field) for e in errors] == [("case-count band 2", "max"), ("grade 2", "min")]
    assert errors[0].message.startswith("50 is not larger than 100 of case-count band 1")
    assert errors[1].message.startswith("95 is not smaller than 90 of grade 1")


def test_a_category_added_without_its_names_is_named(tmp_path: Path) -> None:
    errors = _errors(tmp_path, catalogue=_catalogue(
        {"code": "E0150", "zh": " ", "en": "", "filing_condition": "占道", "closing_condition": "清除"}))
    assert [(e.row, e.field) for e in errors] == [("category 2 (E0150)", "zh"), ("category 2 (E0150)", "en")]
    assert errors[0].message.startswith("empty: every category needs its Chinese name")


def test_a_minor_without_its_filing_or_closing_condition_is_named(tmp_path: Path) -> None:
    """A minor's 立案条件 and 结案条件 are what the operator files and the checker closes by: a city's pack that leaves
    one out (or blank) is refused at the row and field; a major needs none."""
    errors = _errors(tmp_path, catalogue=_catalogue(
        {"code": "E0150", "zh": "共享单车乱停放", "en": "Shared bikes", "filing_condition": "人行道上乱停放五辆以上"},
        {"code": "E0151", "zh": "垃圾桶满溢", "en": "Overflowing bin", "filing_condition": " ",
         "closing_condition": "垃圾已清运"}))
    assert [(e.file, e.row, e.field) for e in errors] == [
        ("catalogue.yaml", "category 2 (E0150)", "closing_condition"),
        ("catalogue.yaml", "category 3 (E0151)", "filing_condition")]
    assert str(errors[0]).startswith("catalogue.yaml, category 2 (E0150), field closing_condition: missing: every "
                                     "minor category needs its closing condition (结案条件")
    assert errors[1].message.startswith("empty: every minor category needs its filing condition (立案条件")


CORE, GENERAL = "34152300100101", "34152300200101"  # a cell of a core street and one of a general street


def _by_area() -> dict[str, object]:
    catalogue = dict(shipped_pack().content["catalogue"])
    limits = dict(shipped_pack().content["time_limits"])
    return {"catalogue": {**catalogue, "area_classes": {"core": {"E0103": "B", "C01": "A"}}},
            "time_limits": {**limits, "area_cells": {"general": ["3415"], "core": ["341523001"]},
                            "area_categories": {"core": {"E0102": {"amount": 2, "unit": "natural_hours"}}}}}


def test_a_category_takes_the_class_and_limit_of_its_cells_area_class(tmp_path: Path) -> None:
    rules = load_pack(_pack(tmp_path, **_by_area())).rules
    shipped = shipped_pack().rules
    assert (rules.area_of(CORE), rules.area_of(GENERAL), rules.area_of("11010100100101")) == ("core", "general", None)
    assert rules.disposal_class("E0103", None, CORE) is DisposalClass.B
    assert rules.disposal_class("E0103", None, GENERAL) is shipped.disposal_class("E0103") is not DisposalClass.B
    assert rules.disposal_class("C0101", None, CORE) is DisposalClass.A  # a minor follows its major's there
    assert rules.disposal_deadline(NOW, "E0102", None, CORE) == NOW + timedelta(hours=2)
    assert rules.disposal_deadline(NOW, "E0102", None, GENERAL) == shipped.disposal_deadline(NOW, "E0102")
    assert rules.disposal_deadline(NOW, "E0103", None, CORE) == shipped.disposal_deadline(NOW, "E0103", "B")


def test_area_classes_and_cells_that_are_wrong_are_named(tmp_path: Path) -> None:
    tables = _by_area()
    tables["catalogue"]["area_classes"] = {"core": {"E0103": "G", "E0177": "B", "E0199": "B"}}  # type: ignore[index]
    tables["time_limits"]["area_cells"] = {"core": ["34a"]}  # type: ignore[index]
    tables["time_limits"]["area_categories"] = {"core": {"X01": {"amount": 1, "unit": "hours"}}}  # type: ignore[index]
    errors = _errors(tmp_path, **tables)
    assert [(e.file, e.row, e.field) for e in errors] == [
        ("catalogue.yaml", "area core, category E0103", "area_classes"),
        ("catalogue.yaml", "area core, category E0177", "area_classes"),
        ("time_limits.yaml", "area core", "area_cells item 1"),
        ("time_limits.yaml", "area core, category X01", None)]
    assert "'G' is not one of" in errors[0].message and errors[1].message == "E0177 is not in the catalogue"


def test_light_shares_out_of_order_or_not_above_zero_are_named(tmp_path: Path) -> None:
    """The console edits the light's shares: a yellow that comes at or after the red, or a share of 0, is refused at
    its row (the deadline watch warns at the yellow share; a red before it would never warn)."""
    limits = dict(shipped_pack().content["time_limits"])
    errors = _errors(tmp_path, time_limits={**limits, "light": {"yellow": 1.2, "red": 1.0}})
    assert [(e.row, e.message) for e in errors] == [
        ("light yellow", "1.2 is not below red's 1.0: the yellow light warns before the red")]
    error = _one(tmp_path / "zero", time_limits={**limits, "light": {"yellow": 0, "red": 1.0}})
    assert (error.row, error.message) == ("light yellow", "0 is not above 0: a share of the limit used")


def test_a_limit_left_for_a_category_the_catalogue_no_longer_has_is_named(tmp_path: Path) -> None:
    """E0102 removed from the catalogue, its own limit (everywhere and in an area) left behind: never applied."""
    tables = _by_area()
    catalogue = tables["catalogue"]
    catalogue["categories"] = [c for c in catalogue["categories"] if c["code"] != "E0102"]  # type: ignore[index]
    tables["time_limits"]["categories"] = {"E0102": {"amount": 1, "unit": "hours"}}  # type: ignore[index]
    errors = _errors(tmp_path, **tables)
    assert [(e.file, e.row, e.message) for e in errors] == [
        ("time_limits.yaml", "category E0102", "E0102 is not in the catalogue: its limit would never apply"),
        ("time_limits.yaml", "area core, category E0102", "E0102 is not in the catalogue: its limit would never apply")]
