"""The rule pack as an Excel workbook (civicgrid/cases/pack_excel.py): every table out and back in unchanged, and
a workbook with a wrong cell refused with the sheet, the cell and the column named."""

from __future__ import annotations

import copy
import io
import zipfile
from typing import Any

import openpyxl
import pytest

from civicgrid.cases.pack import InvalidPack, PackError, from_tables, shipped_pack
from civicgrid.cases.pack_check import TABLES
from civicgrid.cases.pack_excel import MAX_UNZIPPED_BYTES, export_workbook, read_workbook
from civicgrid.cases.pack_sheets import SHEETS
from civicgrid.domain.case_state import Action, Role
from civicgrid.domain.time_limits import DisposalClass


def _city_content() -> dict[str, Any]:
    """A pack unlike the shipped one in every table, with the values Excel finds hard: whole floats, dates,
    text that looks like JSON, an area and a category limit, a role order that is the canonical one."""
    content = copy.deepcopy(dict(shipped_pack().content))
    for row in content["catalogue"]["categories"]:
        if row["code"] == "E0103":
            row.update(disposal_class="B", filing_condition="积存垃圾渣土 1 立方米以上", closing_condition="已清运")
    content["catalogue"]["categories"].append({"code": "E2101", "zh": "共享单车乱停放", "en": "Dockless bikes",
                                               "disposal_class": "C", "filing_condition": "人行道上乱停放五辆以上",
                                               "closing_condition": "车辆已清理或摆放整齐"})
    content["catalogue"]["categories"].insert(0, {"code": "E21", "zh": "本地事件", "en": "Local events",
                                                  "disposal_class": "D"})
    limits = content["time_limits"]
    limits["steps"]["check"] = {"amount": 120, "unit": "minutes"}
    limits["areas"] = {"core": {"B": {"amount": 2.5, "unit": "hours"}}, "general": {"C": {"amount": 2, "unit": "days"}}}
    limits["categories"] = {"E0102": {"amount": 1.0, "unit": "natural_hours"}}
    limits["light"] = {"yellow": 0.75, "red": 1.0}
    limits["area_cells"] = {"core": ["341523001", "341523002"], "general": ["3415"]}
    limits["area_categories"] = {"core": {"E0102": {"amount": 2, "unit": "natural_hours"}}}
    content["catalogue"]["area_classes"] = {"core": {"E0103": "A", "E21": "B"}}
    content["working_calendar"] = {"periods": ["08:00-12:00", "13:30-17:30"], "weekdays": [1, 2, 3, 4, 5, 6],
                                   "holidays": ["2027-01-01", "2027-05-03"], "workdays": ["2027-02-20"],
                                   "utc_offset_hours": 8, "timezone_name": "Asia/Shanghai",
                                   "use_chinese_calendar": False, "round_the_clock": False}
    content["permissions"]["actions"]["file"] = ["operator", "shift_leader", "admin"]
    scoring = content["scoring"]
    scoring["composites"]["department"] = {"case_count_score": 0.0, "closing_rate": 1.0, "on_time_disposal_rate": 0.0,
                                           "not_rework_rate": 0.0}
    scoring["case_count_bands"] = [{"max": 10, "score": 100}, {"max": None, "score": 50.0}]
    scoring["grades"] = [{"grade": "优秀", "min": 85}, {"grade": "合格", "min": 0}]
    scoring["empty_rate"] = 0.5
    content["responsibility"] = {"rules": [
        {"category_code": "E0102", "grid_prefix": "341523", "department_id": "sanitation", "note": "城区"},
        {"category_code": "C01", "department_id": "utilities"}]}
    content["patrol_plans"] = {"plans": [
        {"inspector": "insp01", "grid": "G01", "window": "08:00-17:00", "main_road_passes": 3,
         "secondary_road_passes": 2, "valid_from": "2026-12-01", "valid_to": "2027-06-30"},
        {"inspector": "insp02", "grid": "G02"}]}
    return content


def _workbook(content: Any) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(export_workbook(content, "test")))


def _bytes(wb: openpyxl.Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _refused(wb: openpyxl.Workbook) -> list[PackError]:
    with pytest.raises(InvalidPack) as refused:
        read_workbook(_bytes(wb), "city.xlsx")
    return refused.value.errors


def _row_of(ws: Any, column: int, value: str) -> int:
    return next(row[0].row for row in ws.iter_rows(min_row=2) if row[column - 1].value == value)


def test_the_shipped_pack_goes_out_and_comes_back_exactly() -> None:
    shipped = shipped_pack()
    back = read_workbook(export_workbook(shipped.content, "shipped"), "rules.xlsx")
    assert back.content == shipped.content
    assert back.digest == shipped.digest  # an unchanged upload stores no new version


def test_a_city_pack_with_every_table_changed_comes_back_exactly() -> None:
    city = from_tables(_city_content(), "test")
    assert city.digest != shipped_pack().digest
    back = read_workbook(export_workbook(city.content, "city"), "city.xlsx")
    for table in TABLES:
        assert back.content[table] == city.content[table], table
    assert back.digest == city.digest
    rules = back.rules
    assert rules.disposal_class("E0103") is DisposalClass.B and rules.disposal_class("E2101") is DisposalClass.C
    assert rules.permissions.allows(Role.OPERATOR, Action.FILE)


def test_a_setting_without_a_sheet_of_its_own_travels_in_the_other_settings_sheet() -> None:
    """What a table holds beyond its dedicated sheet (today scoring's empty_rate; tomorrow a key another change
    adds) goes to 其他设置, so the round trip stays exact for keys this module has never heard of."""
    content = _city_content()
    content["scoring"]["empty_rate"] = 0.25
    wb = _workbook(content)
    other = wb["其他设置"]
    assert ["scoring", "empty_rate", 0.25] in [[c.value for c in row][:3] for row in other.iter_rows(min_row=2)]
    assert read_workbook(_bytes(wb), "x.xlsx").content["scoring"]["empty_rate"] == 0.25


def test_the_sheets_have_chinese_names_and_headers() -> None:
    wb = _workbook(shipped_pack().content)
    assert wb.sheetnames == ["说明", "部件事件目录", "处置时限", "工作日历", "角色权限", "评价权重", "案件数得分",
                             "考评等级", "责任分解表", "巡查计划", "其他设置"]
    assert [c.value for c in wb["责任分解表"][1]] == ["案件类别", "网格编码前缀", "责任部门", "备注"]
    assert [c.value for c in wb["巡查计划"][1]] == ["监督员", "责任网格", "巡查时段", "主干道遍数", "次干道遍数",
                                                  "生效日期", "失效日期"]
    assert [c.value for c in wb["部件事件目录"][1]] == ["编码", "中文名称", "英文名称", "处置类别", "立案条件",
                                                      "结案条件"]
    assert [c.value for c in wb["处置时限"][2]] == ["环节", "受理", None, 10, "工作分钟"]
    assert [c.value for c in wb["角色权限"][1]][2:] == ["监督员", "受理员", "值班长", "派遣员", "专业部门", "领导",
                                                       "管理员"]
    assert set(SHEETS) <= set(wb.sheetnames)


def test_a_wrong_number_is_refused_with_its_cell() -> None:
    wb = _workbook(shipped_pack().content)
    ws = wb["处置时限"]
    row = _row_of(ws, 2, "派遣")
    ws.cell(row, 4).value = "三十"
    (error,) = _refused(wb)
    assert (error.file, error.row, error.field) == ("city.xlsx", f"处置时限!D{row}", "时限")
    assert str(error) == f"city.xlsx, 处置时限!D{row}, field 时限: '三十' is not a number"


def test_a_missing_required_column_is_refused_by_name() -> None:
    wb = _workbook(shipped_pack().content)
    wb["部件事件目录"].delete_cols(3)  # 英文名称
    (error,) = _refused(wb)
    assert (error.row, error.field, error.message) == ("部件事件目录!1:1", "英文名称", "the column is missing")


def test_an_unknown_category_and_class_are_refused_at_their_cells() -> None:
    wb = _workbook(shipped_pack().content)
    limits = wb["处置时限"]
    limits.append(["案件类别", "X0101", None, 2, "工作小时"])
    catalogue = wb["部件事件目录"]
    row = _row_of(catalogue, 1, "E0103")
    catalogue.cell(row, 4).value = "G"
    errors = {e.row: e for e in _refused(wb)}
    assert errors[f"部件事件目录!D{row}"].field == "处置类别"
    assert errors[f"部件事件目录!D{row}"].message.startswith("'G' is not one of 'A'")
    unknown = errors[f"处置时限!B{limits.max_row}"]
    assert unknown.field == "名称" and "expected C or E" in unknown.message and "category X0101" in unknown.message


def test_a_minor_without_its_major_and_weights_not_adding_up_are_said_at_their_cells() -> None:
    wb = _workbook(shipped_pack().content)
    wb["部件事件目录"].append(["E9901", "新事件", "New event", "C"])
    weights = wb["评价权重"]
    first = _row_of(weights, 1, "部门")
    weights.cell(first, 4).value = 0.5
    errors = {e.row: e for e in _refused(wb)}
    assert "its major category E99 is not in the file" in errors[f"部件事件目录!A{wb['部件事件目录'].max_row}"].message
    assert errors[f"评价权重!D{first}:D{first + 3}"].message.startswith("the weights add up to 1.4, not 1")


def test_a_minor_whose_closing_condition_is_emptied_is_refused_at_its_cell() -> None:
    wb = _workbook(shipped_pack().content)
    catalogue = wb["部件事件目录"]
    row = _row_of(catalogue, 1, "E0103")
    catalogue.cell(row, 6).value = None
    (error,) = _refused(wb)
    assert (error.file, error.row, error.field) == ("city.xlsx", f"部件事件目录!F{row}", "结案条件")
    assert error.message.startswith("missing: every minor category needs its closing condition (结案条件")
    assert error.message.endswith(f"(catalogue, category {row - 1} (E0103))")


def test_a_role_mark_and_a_unit_must_be_words_the_sheet_knows() -> None:
    wb = _workbook(shipped_pack().content)
    wb["角色权限"]["C3"] = "maybe"
    wb["处置时限"]["E2"] = "周"
    errors = {e.row: e for e in _refused(wb)}
    assert errors["角色权限!C3"].field == "监督员"
    assert errors["处置时限!E2"].message.startswith("'周' is not one of 工作分钟, 工作小时, 工作日")


def test_an_unknown_sheet_or_column_is_refused_rather_than_ignored() -> None:
    wb = _workbook(shipped_pack().content)
    wb.create_sheet("备注")
    wb["部件事件目录"]["G1"] = "结案标准"
    errors = {(e.row, e.field) for e in _refused(wb)}
    assert ("备注", None) in errors and ("部件事件目录!G1", "结案标准") in errors


def test_a_sheet_left_out_is_the_shipped_table() -> None:
    content = _city_content()
    wb = _workbook(content)
    del wb["工作日历"]
    back = read_workbook(_bytes(wb), "x.xlsx")
    assert back.content["working_calendar"] == shipped_pack().content["working_calendar"]
    assert back.content["permissions"] == from_tables(content, "t").content["permissions"]


@pytest.mark.parametrize("data", [b"", b"not a workbook", b"PK\x03\x04 truncated"])
def test_what_is_not_a_workbook_is_refused_in_words(data: bytes) -> None:
    with pytest.raises(InvalidPack) as refused:
        read_workbook(data, "upload.xlsx")
    assert refused.value.errors[0].message.startswith("not an Excel .xlsx workbook")


def test_a_zip_bomb_is_refused_before_it_is_inflated() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (MAX_UNZIPPED_BYTES + 1))
    with pytest.raises(InvalidPack) as refused:
        read_workbook(out.getvalue(), "bomb.xlsx")
    assert "unzips to more than" in refused.value.errors[0].message


def test_a_wrong_duty_row_is_named_at_its_cell_and_an_empty_duty_sheet_is_no_table() -> None:
    wb = _workbook(_city_content())
    wb["巡查计划"]["C2"] = "8"
    wb["责任分解表"]["A3"] = "C1"
    errors = _refused(wb)
    assert [(e.row, e.field) for e in errors] == [("责任分解表!A3", "案件类别"), ("巡查计划!C2", "巡查时段")]
    assert "HH:MM-HH:MM" in errors[1].message and "(patrol_plans, plan 1 (insp01))" in errors[1].message
    wb = _workbook(_city_content())
    wb["巡查计划"].delete_rows(2, 2)
    back = read_workbook(_bytes(wb), "x.xlsx").content
    assert "patrol_plans" not in back and back["responsibility"] == _city_content()["responsibility"]
