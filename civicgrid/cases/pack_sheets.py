"""The rule pack's Excel workbook laid out: its sheets, their Chinese headers, and the Chinese words for codes.

The workbook (civicgrid/cases/pack_excel.py writes it, pack_excel_read.py reads it) writes steps, units, kinds of
limit, roles and scoring levels in Chinese and reads either the Chinese word or the code back; actions and
indicators keep their codes (the code is what the pack stores) with the Chinese name in a column beside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = {"step": "环节", "disposal_class": "处置类别", "area": "区域类别", "category": "案件类别", "light": "时限灯"}
STEPS = {"accept": "受理", "verify": "核实", "file": "立案", "dispatch": "派遣", "dispose": "处置", "check": "核查",
         "close": "结案"}
UNITS = {"minutes": "工作分钟", "hours": "工作小时", "days": "工作日", "natural_minutes": "自然分钟",
         "natural_hours": "自然小时", "natural_days": "自然日"}
LIGHTS = {"green": "绿灯", "yellow": "黄灯", "red": "红灯"}
# In the order of civicgrid.domain.case_state.Role: a permission's roles are read back in this order.
ROLES = {"inspector": "监督员", "operator": "受理员", "shift_leader": "值班长", "dispatcher": "派遣员",
         "department": "专业部门", "leader": "领导", "admin": "管理员"}
ACTIONS = {"report": "上报", "accept": "受理", "merge": "合并", "send_verify": "派核实", "confirm": "核实属实",
           "refute": "核实不属实", "file": "立案",
           "self_handle": "自处理", "dispatch": "派遣", "sign": "签收", "dispose": "处置反馈",
           "request_return": "申请回退", "approve_return": "同意回退", "request_postpone": "申请延期",
           "approve_postpone": "同意延期", "reject_request": "驳回申请", "urge": "督办", "send_check": "派核查",
           "check_pass": "核查通过", "check_fail": "核查不通过(返工)", "close": "结案", "suspend": "挂账",
           "resume": "恢复", "cancel": "作废", "instruct": "领导批示", "escalate": "上报上级",
           "transfer": "转办", "overdue": "超期",
           "deadline_warning": "预警"}
LEVELS = {"region": "区域", "department": "部门", "inspector": "监督员", "operator": "受理员",
          "shift_leader": "值班长", "dispatcher": "派遣员"}
INDICATORS = {
    "valid_report_rate": "有效上报率", "missed_rate": "漏报率", "not_missed_rate": "未漏报率(1−漏报率)",
    "on_time_verify_rate": "按时核实率", "on_time_check_rate": "按时核查率", "count_score": "任务量得分",
    "on_time_verify_dispatch_rate": "按时派核实率", "on_time_check_dispatch_rate": "按时派核查率",
    "on_time_filing_rate": "按时立案率", "accurate_filing_rate": "准确立案率", "on_time_closing_rate": "按时结案率",
    "on_time_dispatch_rate": "按时派遣率", "accurate_dispatch_rate": "准确派遣率", "case_count_score": "案件数得分",
    "closing_rate": "结案率", "on_time_disposal_rate": "按时处置率", "rework_rate": "返工率",
    "not_rework_rate": "未返工率(1−返工率)", "public_report_rate": "监督举报率",
    "closed_by_deadline_rate": "按期结案率",
}
# working_calendar.yaml's keys: (the row's Chinese name, list or scalar, a note for people).
CALENDAR_KEYS = {
    "periods": ("工作时段", "list", "HH:MM-HH:MM，按先后，用逗号分隔"),
    "weekdays": ("工作星期", "list", "星期一 = 1，用逗号分隔"),
    "holidays": ("节假日", "list", "国家法定节假日以外的休息日，YYYY-MM-DD，用逗号分隔"),
    "workdays": ("调休上班日", "list", "国家调休以外的上班日，YYYY-MM-DD，用逗号分隔"),
    "utc_offset_hours": ("时差(小时)", "scalar", "相对 UTC，北京时间为 8"),
    "timezone_name": ("时区", "scalar", "如 Asia/Shanghai"),
    "use_chinese_calendar": ("使用国家法定节假日", "scalar", "TRUE / FALSE"),
    "round_the_clock": ("全天候值守", "scalar", "TRUE：24 小时值守，工作时间即自然时间"),
}
TABLE_NAMES = {"catalogue": "部件事件目录", "time_limits": "处置时限", "working_calendar": "工作日历",
               "permissions": "角色权限", "scoring": "评价", "duplicates": "重复案件", "responsibility": "责任分解表",
               "patrol_plans": "巡查计划"}


def code_of(table: dict[str, str], value: Any) -> str | None:
    """The code of `value` written as its code or its Chinese word; None when it is neither."""
    if value is None:
        return None
    text = str(value).strip()
    if text in table:
        return text
    return next((code for code, zh in table.items() if zh == text), None)


def label_of(table: dict[str, str], code: Any) -> Any:
    """The Chinese word of a code (an unknown code as it is)."""
    return table.get(code, code) if isinstance(code, str) else code


MAX_ROWS = 20_000

README, CATALOGUE, LIMITS, CALENDAR, PERMISSIONS = "说明", "部件事件目录", "处置时限", "工作日历", "角色权限"
WEIGHTS, BANDS, GRADES, OTHER = "评价权重", "案件数得分", "考评等级", "其他设置"
RESPONSIBILITY, PATROL = "责任分解表", "巡查计划"
# The keys each dedicated sheet holds; every other key of every table goes to 其他设置.
DEDICATED = {"catalogue": {"categories"}, "time_limits": {"steps", "disposal_classes", "areas", "categories", "light"},
             "working_calendar": set(CALENDAR_KEYS), "permissions": {"actions"},
             "scoring": {"composites", "case_count_bands", "grades"}, "responsibility": {"rules"},
             "patrol_plans": {"plans"}}


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    key: str
    kind: str = "text"  # text, number, flag, info (written for people, ignored when read), any (JSON-ish)
    required: bool = False


CATEGORY_COLUMNS = (Column("编码", "code", required=True), Column("中文名称", "zh", required=True),
                    Column("英文名称", "en", required=True), Column("处置类别", "disposal_class"),
                    Column("立案条件", "filing_condition"), Column("结案条件", "closing_condition"))
LIMIT_COLUMNS = (Column("类型", "kind", required=True), Column("名称", "name", required=True), Column("区域", "area"),
                 Column("时限", "amount", "number"), Column("单位", "unit"))
CALENDAR_COLUMNS = (Column("项目", "key", required=True), Column("值", "value", "any"), Column("说明", "note", "info"))
PERMISSION_COLUMNS = (Column("操作", "action", required=True), Column("操作名称", "action_zh", "info"),
                      *(Column(zh, role, "flag") for role, zh in ROLES.items()))
WEIGHT_COLUMNS = (Column("考评对象", "level", required=True), Column("指标", "indicator", required=True),
                  Column("指标名称", "indicator_zh", "info"), Column("权重", "weight", "number", required=True))
BAND_COLUMNS = (Column("案件数上限", "max", "number"), Column("得分", "score", "number", required=True))
GRADE_COLUMNS = (Column("等级", "grade", required=True), Column("最低分", "min", "number", required=True))
RULE_COLUMNS = (Column("案件类别", "category_code", required=True), Column("网格编码前缀", "grid_prefix"),
                Column("责任部门", "department_id", required=True), Column("备注", "note"))
PLAN_COLUMNS = (Column("监督员", "inspector", required=True), Column("责任网格", "grid", required=True),
                Column("巡查时段", "window"), Column("主干道遍数", "main_road_passes", "number"),
                Column("次干道遍数", "secondary_road_passes", "number"), Column("生效日期", "valid_from"),
                Column("失效日期", "valid_to"))
OTHER_COLUMNS = (Column("表", "table", required=True), Column("键", "key", required=True), Column("值", "value", "any"),
                 Column("说明", "note", "info"))
SHEETS = {CATALOGUE: CATEGORY_COLUMNS, LIMITS: LIMIT_COLUMNS, CALENDAR: CALENDAR_COLUMNS,
          PERMISSIONS: PERMISSION_COLUMNS, WEIGHTS: WEIGHT_COLUMNS, BANDS: BAND_COLUMNS, GRADES: GRADE_COLUMNS,
          RESPONSIBILITY: RULE_COLUMNS, PATROL: PLAN_COLUMNS, OTHER: OTHER_COLUMNS}
YES, NO = {"✓", "√", "是", "y", "yes", "true", "1"}, {"", "×", "否", "n", "no", "false", "0"}
