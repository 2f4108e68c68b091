// UI text in Chinese (default) and English; times always in the city's zone (Asia/Shanghai).
const zh = {
  title: '数字城管 · 指挥中心', login: '登录', logout: '退出', username: '用户名', password: '密码',
  login_failed: '登录失败', language: 'English', map: '地图', cases: '案件', patrol: '巡查', scoring: '考评',
  devices: '设备', cameras: '摄像头', feed: '实时告警', mute: '静音', unmute: '取消静音', ack: '确认',
  acked: '已确认', ack_failed: '确认失败', live: '在线', reconnecting: '重连中…', idle: '未连接', no_entries: '暂无新消息',
  alarm: '告警', case_event: '案件动态', urgency: '紧急程度', device: '设备', cell: '单元网格', rule: '规则',
  raise: '触发', clear: '解除', details: '详情', close_panel: '关闭', loading: '加载中…', empty: '暂无数据',
  error: '错误', state: '状态', source: '来源', category: '类别', department: '部门', overdue: '超期',
  cell_prefix: '网格编码前缀', all: '全部', search: '查询', reset: '重置', case_no: '案件编号',
  reported_at: '上报时间', deadline: '处置时限', light: '时限灯', description: '描述', address: '地址',
  timeline: '办理过程', evidence: '证据', actions: '可执行操作', no_actions: '当前角色无可执行操作',
  note: '备注', reason: '原因', submit: '提交', cancel_btn: '取消', photo: '照片', voice: '语音', amount: '数量', unit: '单位',
  close_type: '结案类型', disposal_class: '处置类别', suggested: '建议', readings: '传感器读数', more: '更多',
  layers: '图层', cells_layer: '单元网格', grids_layer: '责任网格', streets_layer: '道路', components_layer: '部件',
  devices_layer: '设备', inspectors_layer: '监督员位置', color_by: '网格着色', by_cases: '按在办案件',
  by_coverage: '按今日巡查', open_cases: '在办案件', online: '在线', offline: '离线', disabled: '停用',
  day: '日', xun: '旬', month: '月', year: '年', period: '周期', level: '层级', region: '区域', post: '岗位',
  region_level: '区域层级', role: '岗位', rank: '排名', subject: '对象', score: '综合得分', grade: '等级',
  download_csv: '下载 CSV', trend: '得分趋势', composite: '综合得分', county: '县', street: '街道',
  community: '社区', grid: '网格', inspector: '监督员', operator: '受理员', shift_leader: '值班长',
  dispatcher: '派遣员', date: '日期', coverage: '今日巡查覆盖', plan_met: '计划完成', passes: '遍数',
  segments: '路段', cells_visited: '到访网格', distance: '里程', playback: '轨迹回放', start: '开始', end: '结束',
  load: '加载', heatmap: '网格到访热力', visits: '到访次数', kind: '类型', battery: '电量', last_seen: '最后在线',
  alarms: '告警数', command: '下发指令', command_name: '指令名', args: '参数 (JSON)', send: '发送',
  command_status: '指令状态', snapshot: '最新快照', rois: '关注区域', draw_roi: '绘制区域', finish: '完成',
  save: '保存', name: '名称', event_code: '事件类别', dwell: '停留 (秒)', delete: '删除', saved: '已保存',
  not_available: '该功能的接口尚未提供', click_for_details: '点击地图要素查看详情', speed: '速度', time: '时间',
  filed: '已立案', select_case: '选择左侧案件查看详情', refused: '操作被拒绝', done: '已完成',
  main: '主干道', secondary: '次干道', alley: '街巷', required: '要求', met: '达标', reachable: '可连接',
  unreachable: '不可连接', last_snapshot: '最新快照时间', case_count: '案件数', inspectors: '监督员',
  no_camera: '请选择摄像头', points: '点', show: '显示', status: '状态', user: '用户', open_case: '打开案件',
  'action.send_verify': '派核实', 'action.confirm': '核实属实', 'action.refute': '核实不属实', 'action.file': '立案',
  'action.self_handle': '自处理', 'action.dispatch': '派遣', 'action.sign': '签收', 'action.dispose': '处置反馈',
  'action.request_return': '申请回退', 'action.approve_return': '同意回退', 'action.request_postpone': '申请延期',
  'action.approve_postpone': '同意延期', 'action.reject_request': '驳回申请', 'action.urge': '督办',
  'action.send_check': '派核查', 'action.check_pass': '核查通过', 'action.check_fail': '核查不通过(返工)',
  'action.close': '结案', 'action.suspend': '挂账', 'action.resume': '恢复', 'action.cancel': '作废',
  'action.instruct': '领导批示', 'action.report': '上报', 'action.overdue': '超期', 'action.merge': '合并',
  'action.accept': '受理', 'action.escalate': '上报上级', 'action.transfer': '转办', centre: '指挥中心',
  'state.reported': '已上报', 'state.verifying': '核实中', 'state.filed': '已立案', 'state.dispatched': '已派遣',
  'state.disposing': '处置中', 'state.disposed': '已处置', 'state.checking': '核查中', 'state.closed': '已结案',
  'state.suspended': '已挂账', 'state.cancelled': '已作废',
  'light.green': '绿灯', 'light.yellow': '黄灯', 'light.red': '红灯',
  'unit.hours': '小时', 'unit.days': '天', 'unit.working_hours': '工作小时', 'unit.working_days': '工作日',
  'role.operator': '受理员', 'role.dispatcher': '派遣员', 'role.department': '专业部门', 'role.inspector': '监督员',
  'role.shift_leader': '值班长', 'role.leader': '领导', 'role.admin': '管理员',
  // Scoring: indicator column headers (codes as the API names them), weights and what a rate with nothing due counts.
  'ind.valid_report_rate': '有效上报率', 'ind.missed_rate': '漏报率', 'ind.not_missed_rate': '未漏报率',
  'ind.on_time_verify_rate': '按时核实率', 'ind.on_time_check_rate': '按时核查率', 'ind.count_score': '任务量得分',
  'ind.on_time_verify_dispatch_rate': '按时派核实率', 'ind.on_time_check_dispatch_rate': '按时派核查率',
  'ind.on_time_filing_rate': '按时立案率', 'ind.accurate_filing_rate': '准确立案率', 'ind.on_time_closing_rate': '按时结案率',
  'ind.on_time_dispatch_rate': '按时派遣率', 'ind.accurate_dispatch_rate': '准确派遣率', 'ind.case_count_score': '案件数得分',
  'ind.closing_rate': '结案率', 'ind.on_time_disposal_rate': '按时处置率', 'ind.rework_rate': '返工率',
  'ind.not_rework_rate': '未返工率', 'ind.public_report_rate': '监督举报率', 'ind.closed_by_deadline_rate': '按期结案率',
  weight: '权重', nothing_due: '无应考核数', empty_rate_counts: '按', empty_rate_exclude: '不计入，其权重按比例分给其余指标',
  rules_version: '评分规则版本', case_rules_versions: '本期案件的规则版本',
};

const en = {
  title: 'civicgrid · Command centre', login: 'Log in', logout: 'Log out', username: 'User name',
  password: 'Password', login_failed: 'Login failed', language: '中文', map: 'Map', cases: 'Cases',
  patrol: 'Patrol', scoring: 'Scoring', devices: 'Devices', cameras: 'Cameras', feed: 'Live alarms',
  mute: 'Mute', unmute: 'Unmute', ack: 'Acknowledge', acked: 'Acknowledged', ack_failed: 'Acknowledgement failed', live: 'live',
  reconnecting: 'reconnecting…', idle: 'disconnected', no_entries: 'Nothing new yet', alarm: 'Alarm',
  case_event: 'Case event', urgency: 'Urgency', device: 'Device', cell: 'Cell', rule: 'Rule', raise: 'raised',
  clear: 'cleared', details: 'Details', close_panel: 'Close', loading: 'Loading…', empty: 'No data',
  error: 'Error', state: 'State', source: 'Source', category: 'Category', department: 'Department',
  overdue: 'Overdue', cell_prefix: 'Cell code prefix', all: 'All', search: 'Search', reset: 'Reset',
  case_no: 'Case no.', reported_at: 'Reported', deadline: 'Deadline', light: 'Time light',
  description: 'Description', address: 'Address', timeline: 'Timeline', evidence: 'Evidence',
  actions: 'Actions', no_actions: 'No action for your role now', note: 'Note', reason: 'Reason',
  submit: 'Submit', cancel_btn: 'Cancel', photo: 'Photo', voice: 'Voice note', amount: 'Amount', unit: 'Unit',
  close_type: 'Close type', disposal_class: 'Disposal class', suggested: 'suggested', readings: 'Sensor readings',
  more: 'More', layers: 'Layers', cells_layer: 'Grid cells', grids_layer: 'Responsibility grids',
  streets_layer: 'Streets', components_layer: 'Components', devices_layer: 'Devices',
  inspectors_layer: 'Inspectors', color_by: 'Colour cells', by_cases: 'by open cases',
  by_coverage: "by today's patrol", open_cases: 'Open cases', online: 'online', offline: 'offline',
  disabled: 'disabled', day: 'Day', xun: 'Xun (10 days)', month: 'Month', year: 'Year', period: 'Period',
  level: 'Level', region: 'Region', post: 'Post', region_level: 'Region level', role: 'Post', rank: 'Rank',
  subject: 'Subject', score: 'Score', grade: 'Grade', download_csv: 'Download CSV', trend: 'Score trend',
  composite: 'Composite score', county: 'County', street: 'Street', community: 'Community', grid: 'Grid',
  inspector: 'Inspector', operator: 'Operator', shift_leader: 'Shift leader', dispatcher: 'Dispatcher',
  date: 'Date', coverage: "Today's patrol coverage", plan_met: 'Plan met', passes: 'Passes',
  segments: 'Segments', cells_visited: 'Cells visited', distance: 'Distance', playback: 'Track playback',
  start: 'Start', end: 'End', load: 'Load', heatmap: 'Cell visits heat map', visits: 'Visits', kind: 'Kind',
  battery: 'Battery', last_seen: 'Last seen', alarms: 'Alarms', command: 'Send a command',
  command_name: 'Command', args: 'Arguments (JSON)', send: 'Send', command_status: 'Command status',
  snapshot: 'Latest snapshot', rois: 'Regions of interest', draw_roi: 'Draw a region', finish: 'Finish',
  save: 'Save', name: 'Name', event_code: 'Event category', dwell: 'Dwell (s)', delete: 'Delete', saved: 'Saved',
  not_available: 'This endpoint is not available yet', click_for_details: 'Click a map feature for details',
  speed: 'Speed', time: 'Time', filed: 'Filed', select_case: 'Select a case on the left', refused: 'Refused',
  done: 'Done', main: 'Main road', secondary: 'Secondary road', alley: 'Alley', required: 'Required',
  met: 'Met', reachable: 'reachable', unreachable: 'unreachable', last_snapshot: 'Last snapshot',
  case_count: 'Cases', inspectors: 'Inspectors', no_camera: 'Choose a camera', points: 'points', show: 'Show',
  status: 'Status', user: 'User', open_case: 'Open case',
  'action.send_verify': 'Send to verify', 'action.confirm': 'Confirm', 'action.refute': 'Refute',
  'action.file': 'File', 'action.self_handle': 'Self-handle', 'action.dispatch': 'Dispatch', 'action.sign': 'Sign',
  'action.dispose': 'Feed back (disposed)', 'action.request_return': 'Request return',
  'action.approve_return': 'Approve return', 'action.request_postpone': 'Request postponement',
  'action.approve_postpone': 'Approve postponement', 'action.reject_request': 'Reject request',
  'action.urge': 'Urge', 'action.send_check': 'Send to check', 'action.check_pass': 'Check passed',
  'action.check_fail': 'Check failed (rework)', 'action.close': 'Close', 'action.suspend': 'Suspend',
  'action.resume': 'Resume', 'action.cancel': 'Cancel case', 'action.instruct': 'Instruct',
  'action.report': 'Report', 'action.overdue': 'Overdue', 'action.merge': 'Merged',
  'action.accept': 'Accept', 'action.escalate': 'Escalate to the centre above', 'action.transfer': 'Transfer',
  centre: 'Centre',
  'state.reported': 'reported', 'state.verifying': 'verifying', 'state.filed': 'filed',
  'state.dispatched': 'dispatched', 'state.disposing': 'disposing', 'state.disposed': 'disposed',
  'state.checking': 'checking', 'state.closed': 'closed', 'state.suspended': 'suspended',
  'state.cancelled': 'cancelled',
  'light.green': 'green', 'light.yellow': 'yellow', 'light.red': 'red', 'unit.hours': 'hours', 'unit.days': 'days',
  'unit.working_hours': 'working hours', 'unit.working_days': 'working days', 'role.operator': 'operator',
  'role.dispatcher': 'dispatcher', 'role.department': 'department', 'role.inspector': 'inspector',
  'role.shift_leader': 'shift leader', 'role.leader': 'leader', 'role.admin': 'admin',
  'ind.valid_report_rate': 'Valid reports', 'ind.missed_rate': 'Missed', 'ind.not_missed_rate': 'Not missed',
  'ind.on_time_verify_rate': 'On-time verify', 'ind.on_time_check_rate': 'On-time check', 'ind.count_score': 'Task count score',
  'ind.on_time_verify_dispatch_rate': 'Verify sent on time', 'ind.on_time_check_dispatch_rate': 'Check sent on time',
  'ind.on_time_filing_rate': 'On-time filing', 'ind.accurate_filing_rate': 'Accurate filing',
  'ind.on_time_closing_rate': 'On-time closing', 'ind.on_time_dispatch_rate': 'On-time dispatch',
  'ind.accurate_dispatch_rate': 'Accurate dispatch', 'ind.case_count_score': 'Case count score',
  'ind.closing_rate': 'Closing rate', 'ind.on_time_disposal_rate': 'On-time disposal', 'ind.rework_rate': 'Rework rate',
  'ind.not_rework_rate': 'Not reworked', 'ind.public_report_rate': 'Public reports',
  'ind.closed_by_deadline_rate': 'Closed by deadline', weight: 'weight', nothing_due: 'Nothing due',
  empty_rate_counts: 'counts as', empty_rate_exclude: 'left out, its weight shared among the others',
  rules_version: 'Scored by rules version', case_rules_versions: "the period's cases were filed under",
};

const TABLES = { zh, en };
export const TIME_ZONE = 'Asia/Shanghai';

export function lang() { return localStorage.getItem('civicgrid.lang') || 'zh'; }
export function setLang(value) {
  localStorage.setItem('civicgrid.lang', value);
  document.documentElement.lang = value === 'zh' ? 'zh-CN' : 'en';
}
export function t(key) {
  const table = TABLES[lang()] || zh;
  return table[key] ?? zh[key] ?? key;
}

const formats = {};
function formatter(style) {
  const key = lang() + style;
  if (!formats[key]) {
    const opts = style === 'time' ? { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }
      : { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false };
    formats[key] = new Intl.DateTimeFormat(lang() === 'zh' ? 'zh-CN' : 'en-GB', { ...opts, timeZone: TIME_ZONE });
  }
  return formats[key];
}
export function fmtTime(iso, style = 'datetime') {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : formatter(style).format(d);
}
/** Today's date (YYYY-MM-DD) in the city's zone. */
export function cityToday(offsetDays = 0) {
  const d = new Date(Date.now() + offsetDays * 86400000);
  return new Intl.DateTimeFormat('en-CA', { timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
}
/** A city-local datetime-local value ("YYYY-MM-DDTHH:MM") → ISO with +08:00. */
export function cityLocalToIso(value) { return value ? `${value}:00+08:00` : null; }
export function isoToCityLocal(iso) {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false }).formatToParts(new Date(iso));
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour === '24' ? '00' : p.hour}:${p.minute}`;
}

// The statistics page (pages/statistics.js).
Object.assign(zh, {
  statistics: '统计', 'st.range': '自定义区间', 'st.share': '占比', 'st.closed': '结案数', 'st.cancelled': '作废',
  'st.closure_rate': '结案率', 'st.on_time_closure_rate': '按期结案率', 'st.previous': '上期', 'st.this_period': '本期',
  'st.trend': '案件数趋势', 'st.by_category': '按类别', 'st.by_source': '按来源', 'st.by_area': '按区域', 'st.code': '编码',
  'st.hot_cells': '热点网格', 'st.recurring': '重复发生的问题（同一网格同一类别）', 'st.publications': '统计通报下载',
  'st.recorded': '已发布的通报', 'st.generated': '生成时间', 'st.generating': '正在生成…',
  'st.kind.daily': '日统计', 'st.kind.xun': '旬分析', 'st.kind.monthly': '月度通报', 'st.kind.yearly': '年度考评',
  'st.trigger.schedule': '定时', 'st.trigger.cli': '命令行', 'st.trigger.api': '手动',
});
Object.assign(en, {
  statistics: 'Statistics', 'st.range': 'Date range', 'st.share': 'Share', 'st.closed': 'Closed', 'st.cancelled': 'Cancelled',
  'st.closure_rate': 'Closure rate', 'st.on_time_closure_rate': 'Closed on time', 'st.previous': 'Previous period',
  'st.this_period': 'This period', 'st.trend': 'Cases over time', 'st.by_category': 'By category', 'st.by_source': 'By source',
  'st.by_area': 'By area', 'st.code': 'Code', 'st.hot_cells': 'Hot cells', 'st.recurring': 'Recurring problems (same cell, same category)',
  'st.publications': 'Publications', 'st.recorded': 'Published', 'st.generated': 'Generated', 'st.generating': 'Generating…',
  'st.kind.daily': 'Daily statistics', 'st.kind.xun': 'Xun analysis', 'st.kind.monthly': 'Monthly publication',
  'st.kind.yearly': 'Yearly assessment', 'st.trigger.schedule': 'scheduled', 'st.trigger.cli': 'command line',
  'st.trigger.api': 'by hand',
});

// The intake screen (pages/intake.js).
Object.assign(zh, {
  intake: '受理', 'in.tab.call': '热线来电', 'in.tab.instruction': '领导批示', 'in.tab.transfer': '转办',
  'in.tab.capture': '视频抓拍', 'in.tab.unlocated': '待定位', 'in.caller': '来电人', 'in.caller_name': '姓名',
  'in.phone': '电话', 'in.callback': '需要回访', 'in.where': '位置', 'in.suggestions': '地址候选', 'in.no_cell': '无网格',
  'in.no_point': '未定位：选择地址候选或在地图上点选', 'in.map_pick': '地图点选位置', 'in.category_hint': '中文、拼音首字母或编码',
  'in.duplicates': '可能重复的在办案件', 'in.duplicates_hint': '同类案件在附近办理中：可关联到已有案件（来电人获得回访），或作为新案件提交',
  'in.callers': '来电人数', 'in.link': '关联到此案件', 'in.file': '提交立卷', 'in.file_as_new': '作为新案件提交',
  'in.filed': '已提交', 'in.linked': '已关联', 'in.need_category': '请选择类别', 'in.need_region': '请在快照上框选区域',
  'in.leader': '批示领导', 'in.instruction': '批示内容', 'in.from_body': '转办单位', 'in.reference': '来文编号',
  'in.contact_phone': '联系电话', 'in.description': '问题描述', 'in.draw_hint': '在快照上点击两次框选问题区域（对角）',
  'in.refresh': '刷新快照', 'in.no_snapshot': '该摄像头尚无快照', 'in.unlocated_hint': '地址无法解析、未能定位的案件：选择后输入更准确的地址或在地图上点选位置',
  'in.place': '定位', 'in.place_hint': '定位案件', 'in.place_confirm': '确认定位', 'in.placed': '已定位',
});
Object.assign(en, {
  intake: 'Intake', 'in.tab.call': 'Call', 'in.tab.instruction': "Leader's instruction", 'in.tab.transfer': 'Transfer',
  'in.tab.capture': 'Video capture', 'in.tab.unlocated': 'Unlocated', 'in.caller': 'Caller', 'in.caller_name': 'Name',
  'in.phone': 'Phone', 'in.callback': 'Wants a callback', 'in.where': 'Where', 'in.suggestions': 'Address suggestions',
  'in.no_cell': 'no cell', 'in.no_point': 'Not placed: pick a suggestion or click the map', 'in.map_pick': 'Pick the place on the map',
  'in.category_hint': 'Chinese, pinyin initials or code', 'in.duplicates': 'Open cases this may repeat',
  'in.duplicates_hint': 'Cases of the same category are open nearby: link the caller to one (they hear when it closes), or file as new',
  'in.callers': 'callers', 'in.link': 'Link to this case', 'in.file': 'File', 'in.file_as_new': 'File as new',
  'in.filed': 'Filed', 'in.linked': 'Linked', 'in.need_category': 'Choose a category', 'in.need_region': 'Draw the region on the snapshot',
  'in.leader': 'Leader', 'in.instruction': 'Instruction', 'in.from_body': 'From (body)', 'in.reference': 'Their reference',
  'in.contact_phone': 'Contact phone', 'in.description': 'Description', 'in.draw_hint': 'Click twice on the snapshot (opposite corners) to mark the problem',
  'in.refresh': 'Refresh snapshot', 'in.no_snapshot': 'No snapshot from this camera yet',
  'in.unlocated_hint': 'Cases whose address did not resolve: choose one, then give a better address or click its place on the map',
  'in.place': 'Place', 'in.place_hint': 'Place case', 'in.place_confirm': 'Confirm place', 'in.placed': 'Placed',
});

// Where a case is, in its detail (pages/cases.js).
Object.assign(zh, {
  'cd.place': '位置', 'cd.unlocated': '待定位：未能定位的案件须先在地图上定位，方可立案、派遣。', 'cd.go_place': '去定位',
  'cd.nearest': '附近地址', 'cd.no_address': '200 米内无门牌', 'cd.road': '道路', 'cd.point_cell': '所在网格',
});
Object.assign(en, {
  'cd.place': 'Place', 'cd.unlocated': 'Unlocated: placed on the map before it can be filed or dispatched.',
  'cd.go_place': 'Place it', 'cd.nearest': 'Nearest address', 'cd.no_address': 'no address within 200 m',
  'cd.road': 'road', 'cd.point_cell': 'cell',
});

// The base-data page (pages/basedata.js).
Object.assign(zh, {
  basedata: '基础数据', 'bd.find': '查找部件', 'bd.find_hint': '编码前缀或名称', 'bd.found': '共', 'bd.select': '选择左侧部件查看详情与变更记录',
  'bd.component': '部件', 'bd.components': '部件', 'bd.addresses': '地址', 'bd.include_retired': '含已注销',
  'bd.retired': '已注销', 'bd.add': '新增部件', 'bd.edit': '修改属性', 'bd.move': '移动位置', 'bd.retire': '注销', 'bd.history': '变更记录',
  'bd.actor': '操作人', 'bd.action': '变更', 'bd.change': '变更前 → 变更后', 'bd.crs': '坐标系', 'bd.lon': '经度',
  'bd.lat': '纬度', 'bd.easting': '东坐标', 'bd.northing': '北坐标', 'bd.import': '导入', 'bd.export': '导出',
  'bd.file': '文件 (GeoJSON / CSV / Excel)', 'bd.upload': '上传导入', 'bd.imported': '已导入 行数 · 新增 · 更新 · 未变',
  'bd.format': '格式', 'bd.download': '下载',
  'bd.import_hint': '文件整体校验，有错误则全部不导入，并列出出错的行与字段。投影坐标列名为 东坐标/北坐标，经纬度为 经度/纬度。',
  'bd.crs.EPSG:4326': 'WGS 84 (EPSG:4326)', 'bd.crs.EPSG:4490': 'CGCS2000 经纬度 (EPSG:4490)',
  'bd.crs.EPSG:4548': 'CGCS2000 高斯-克吕格 117°E (EPSG:4548)',
  'bd.state.intact': '完好', 'bd.state.damaged': '破损', 'bd.state.missing': '丢失', 'bd.state.occupied': '占用',
  'bd.a.add': '新增', 'bd.a.edit': '修改', 'bd.a.move': '移动', 'bd.a.retire': '注销', 'bd.a.import': '导入',
  'bd.a.case': '案件', 'bd.f.code': '部件编码', 'bd.f.name': '名称', 'bd.f.state': '状态', 'bd.f.category_code': '类别',
  'bd.f.department_id': '主管部门', 'bd.f.owner': '权属单位', 'bd.f.maintainer': '养护单位', 'bd.f.grid_cell_code': '单元网格',
  'bd.f.lon': '经度', 'bd.f.lat': '纬度', 'bd.f.retired_at': '注销时间', 'bd.f.data_source': '数据来源',
  'bd.f.recorded_on': '初始日期', 'bd.f.attributes': '其他属性', 'bd.f.category': '类别',
});
Object.assign(en, {
  basedata: 'Base data', 'bd.find': 'Find a component', 'bd.find_hint': 'code prefix or name', 'bd.found': 'found',
  'bd.select': 'Pick a component to see it and its history', 'bd.component': 'Component', 'bd.components': 'Components',
  'bd.addresses': 'Addresses', 'bd.include_retired': 'retired too', 'bd.retired': 'retired', 'bd.add': 'Add a component', 'bd.edit': 'Edit',
  'bd.move': 'Move', 'bd.retire': 'Retire', 'bd.history': 'History', 'bd.actor': 'By', 'bd.action': 'Change',
  'bd.change': 'Before → after', 'bd.crs': 'Coordinate system', 'bd.lon': 'Longitude', 'bd.lat': 'Latitude',
  'bd.easting': 'Easting', 'bd.northing': 'Northing', 'bd.import': 'Import', 'bd.export': 'Export',
  'bd.file': 'File (GeoJSON / CSV / Excel)', 'bd.upload': 'Upload', 'bd.imported': 'Imported rows · added · updated · unchanged',
  'bd.format': 'Format', 'bd.download': 'Download',
  'bd.import_hint': 'The whole file is checked first; with any error nothing is imported and each row and field is listed. Projected columns: easting/northing; geographic: lon/lat.',
  'bd.crs.EPSG:4326': 'WGS 84 (EPSG:4326)', 'bd.crs.EPSG:4490': 'CGCS2000 lon/lat (EPSG:4490)',
  'bd.crs.EPSG:4548': 'CGCS2000 Gauss–Krüger 117°E (EPSG:4548)',
  'bd.state.intact': 'intact', 'bd.state.damaged': 'damaged', 'bd.state.missing': 'missing', 'bd.state.occupied': 'occupied',
  'bd.a.add': 'added', 'bd.a.edit': 'edited', 'bd.a.move': 'moved', 'bd.a.retire': 'retired', 'bd.a.import': 'imported',
  'bd.a.case': 'case', 'bd.f.code': 'Code', 'bd.f.name': 'Name', 'bd.f.state': 'State', 'bd.f.category_code': 'Category',
  'bd.f.department_id': 'Supervising department', 'bd.f.owner': 'Owner', 'bd.f.maintainer': 'Maintainer',
  'bd.f.grid_cell_code': 'Cell', 'bd.f.lon': 'Longitude', 'bd.f.lat': 'Latitude', 'bd.f.retired_at': 'Retired',
  'bd.f.data_source': 'Data source', 'bd.f.recorded_on': 'Recorded on', 'bd.f.attributes': 'Other attributes',
});

// Each step's time limit (the deadline watch's warnings and overdue events, the detail's step clocks).
Object.assign(zh, {
  'action.deadline_warning': '时限预警', 'step.accept': '受理', 'step.verify': '核实', 'step.file': '立案',
  'step.dispatch': '派遣', 'step.dispose': '处置', 'step.check': '核查', 'step.close': '结案',
  step_clocks: '各环节时限', step: '环节', started_at: '开始', step_deadline: '时限', ended_at: '完成',
  'clock.running': '进行中', 'clock.on_time': '按时', 'clock.late': '超时', 'clock.cut': '未计（案件已结束）',
  warning_words: (step, share, due) => `${step}时限已用 ${share}，${due} 到期`,
  overdue_words: (step, due) => `${step}超期（${due} 到期）`,
});
Object.assign(en, {
  'action.deadline_warning': 'Time-limit warning', 'step.accept': 'Accept', 'step.verify': 'Verify',
  'step.file': 'File', 'step.dispatch': 'Dispatch', 'step.dispose': 'Dispose', 'step.check': 'Check',
  'step.close': 'Close', step_clocks: 'Time limits by step', step: 'Step', started_at: 'Started',
  step_deadline: 'Due', ended_at: 'Done', 'clock.running': 'running', 'clock.on_time': 'on time',
  'clock.late': 'late', 'clock.cut': 'not judged (case ended)',
  warning_words: (step, share, due) => `${step}: ${share} of the time limit used, due ${due}`,
  overdue_words: (step, due) => `${step} overdue (due ${due})`,
});

// The rules page (pages/rules.js, admin): the rule pack's tables, edits, the workbook, the audit record.
Object.assign(zh, {
  rules: '规则配置', 'rl.version': '版本', 'rl.catalogue': '部件事件目录', 'rl.find': '查找类别', 'rl.find_hint': '编码前缀或名称',
  'rl.code': '编码', 'rl.name': '名称', 'rl.class': '处置类别', 'rl.own_limit': '本类处置时限', 'rl.by_class': '按处置类别',
  'rl.inherit': '随大类', 'rl.filing': '立案条件', 'rl.closing': '结案条件', 'rl.limits': '处置时限', 'rl.steps': '各环节时限',
  'rl.classes': '处置类别时限', 'rl.light': '时限灯', 'rl.amount': '时限', 'rl.unit': '单位',
  'rl.unit.minutes': '工作分钟', 'rl.unit.hours': '工作小时', 'rl.unit.days': '工作日', 'rl.unit.natural_minutes': '自然分钟',
  'rl.unit.natural_hours': '自然小时', 'rl.unit.natural_days': '自然日', 'rl.calendar': '工作日历',
  'rl.round_the_clock': '全天候值守', 'rl.periods': '工作时段', 'rl.weekdays': '工作星期（周一 = 1）', 'rl.holidays': '节假日',
  'rl.workdays': '调休上班日', 'rl.chinese_calendar': '使用国家法定节假日', 'rl.timezone': '时区', 'rl.roles': '角色权限',
  'rl.action': '操作', 'rl.weights': '评价权重', 'rl.level': '考评对象', 'rl.indicator': '指标', 'rl.weight': '权重',
  'rl.bands': '案件数得分', 'rl.grades': '考评等级', 'rl.empty_rate': '无应办事项时比率计为', 'rl.save': '保存为新版本',
  'rl.removed': '待删除的类别', 'rl.removed_hint': '保存后新案件不能再用；已上报的案件仍按其立案时的版本目录',
  'rl.discard': '放弃修改', 'rl.unsaved': '有未保存的修改', 'rl.no_changes': '无修改', 'rl.saved': '已保存：',
  'rl.unchanged': '与当前版本相同，未保存：', 'rl.field': '字段', 'rl.workbook': 'Excel 工作簿', 'rl.download': '下载当前规则（模板）',
  'rl.upload': '上传工作簿', 'rl.file': '工作簿 (.xlsx)', 'rl.history': '变更记录', 'rl.who': '操作人', 'rl.tables': '变更的表',
  'rl.what': '变更内容', 'rl.rtc_hint': '工作时间即自然时间，工作时段、星期和节假日不适用', 'rl.utc_offset': '时差（小时）',
  'rl.zh': '中文名称', 'rl.en': '英文名称', 'rl.add_category': '添加类别', 'rl.remove': '删除', 'rl.add_row': '添加一行',
  'rl.band_max': '案件数上限（空：不限）', 'rl.band_score': '得分', 'rl.grade': '等级', 'rl.grade_min': '最低分',
  'rl.light_hint': '已用时限的比例（0.8 = 80 %）', 'rl.area_classes': '区域类别（核心街道、一般街道）',
  'rl.area_hint': '案件按其所在网格的区域类别取处置类别和时限：网格编码前缀最长者优先；不在任何前缀内的网格无区域类别。',
  'rl.area': '区域类别', 'rl.area_cells': '网格编码前缀', 'rl.area_class_limits': '各处置类别在本区域的时限（空：按处置类别）',
  'rl.area_categories': '本区域的类别处置类别与时限', 'rl.area_no_class': '不变', 'rl.add_area': '添加区域类别',
  'rl.wd.1': '一', 'rl.wd.2': '二', 'rl.wd.3': '三', 'rl.wd.4': '四', 'rl.wd.5': '五', 'rl.wd.6': '六', 'rl.wd.7': '日',
});
Object.assign(en, {
  rules: 'Rules', 'rl.version': 'version', 'rl.catalogue': 'Catalogue', 'rl.find': 'Find a category', 'rl.find_hint': 'code prefix or name',
  'rl.code': 'Code', 'rl.name': 'Name', 'rl.class': 'Disposal class', 'rl.own_limit': "Category's own disposal limit",
  'rl.by_class': "class's limit", 'rl.inherit': "major's", 'rl.filing': 'Filing condition', 'rl.closing': 'Closing condition',
  'rl.limits': 'Time limits', 'rl.steps': 'Steps', 'rl.classes': 'Disposal classes',
  'rl.light': 'Light', 'rl.amount': 'Limit', 'rl.unit': 'Unit', 'rl.unit.minutes': 'working minutes',
  'rl.unit.hours': 'working hours', 'rl.unit.days': 'working days', 'rl.unit.natural_minutes': 'minutes',
  'rl.unit.natural_hours': 'hours', 'rl.unit.natural_days': 'days', 'rl.calendar': 'Working calendar',
  'rl.round_the_clock': 'Round-the-clock duty', 'rl.periods': 'Working periods', 'rl.weekdays': 'Working weekdays (Monday = 1)',
  'rl.holidays': 'Holidays', 'rl.workdays': 'Make-up workdays', 'rl.chinese_calendar': 'National holidays (chinese-calendar)',
  'rl.timezone': 'Time zone', 'rl.roles': 'Who may take which action', 'rl.action': 'Action', 'rl.weights': 'Scoring weights',
  'rl.level': 'Scored', 'rl.indicator': 'Indicator', 'rl.weight': 'Weight', 'rl.bands': 'Case-count score',
  'rl.grades': 'Grades', 'rl.empty_rate': 'A rate with nothing due counts as', 'rl.save': 'Save as a new version',
  'rl.removed': 'Categories to remove',
  'rl.removed_hint': 'once saved, no new case can use them; cases already reported keep their version\'s catalogue',
  'rl.discard': 'Discard changes', 'rl.unsaved': 'Unsaved changes', 'rl.no_changes': 'No changes', 'rl.saved': 'Saved:',
  'rl.unchanged': 'Same as the current version, nothing stored:', 'rl.field': 'field', 'rl.workbook': 'Excel workbook',
  'rl.download': 'Download the current rules (template)', 'rl.upload': 'Upload a workbook', 'rl.file': 'Workbook (.xlsx)',
  'rl.history': 'Changes', 'rl.who': 'By', 'rl.tables': 'Tables changed', 'rl.what': 'What changed',
  'rl.rtc_hint': 'working time is clock time; periods, weekdays and holidays do not apply', 'rl.utc_offset': 'UTC offset (hours)',
  'rl.zh': 'Chinese name', 'rl.en': 'English name', 'rl.add_category': 'Add a category', 'rl.remove': 'Remove',
  'rl.add_row': 'Add a row', 'rl.band_max': 'Cases up to (empty: any)', 'rl.band_score': 'Score', 'rl.grade': 'Grade',
  'rl.grade_min': 'Minimum score',
  'rl.light_hint': 'share of the limit used (0.8 = 80 %)', 'rl.area_classes': 'Area classes (core and general streets)',
  'rl.area_hint': "A case takes its cell's area class's disposal class and limits: the longest cell-code prefix wins; a cell in none has no area class.",
  'rl.area': 'Area class', 'rl.area_cells': 'Cell-code prefixes', 'rl.area_class_limits': "Each class's limit here (empty: the class's)",
  'rl.area_categories': "Categories' class and limit here", 'rl.area_no_class': 'unchanged', 'rl.add_area': 'Add an area class',
  'rl.wd.1': 'Mon', 'rl.wd.2': 'Tue', 'rl.wd.3': 'Wed', 'rl.wd.4': 'Thu', 'rl.wd.5': 'Fri', 'rl.wd.6': 'Sat', 'rl.wd.7': 'Sun',
});

// The centres page (pages/centres.js), the notifications page (pages/notifications.js) and the scoring roll-up.
Object.assign(zh, {
  centres: '指挥中心', 'ce.about': '市级监督指挥中心之下的区级、街道指挥中心：各自覆盖的网格编码前缀决定案件由哪个中心办理；保存时整棵树重新校验。',
  'ce.add': '新增中心', 'ce.edit': '修改', 'ce.id': '标识', 'ce.name': '名称', 'ce.name_en': '英文名称', 'ce.level': '层级',
  'ce.level.city': '市级', 'ce.level.district': '区级', 'ce.level.street': '街道', 'ce.prefix': '网格编码前缀',
  'ce.prefix_hint': '区 6 位，街道 9 位，全市留空', 'ce.parent': '上级中心', 'ce.none': '尚未设置指挥中心：全市由一个中心办理',
  'ce.remove': '删除', 'ce.cancel': '取消', 'ce.removed_done': '已删除：', 'ce.history': '变更记录', 'ce.change': '变更',
  'ce.added': '新增', 'ce.changed': '修改', 'ce.removed': '删除',
  'ce.saved': '已保存：', 'ce.departments': '专业部门所属中心', 'ce.centre': '所属中心', 'ce.top': '市级（最高层）',
  'by_centre': '按指挥中心汇总', 'by_department': '按部门', 'department_level': '部门考评',
  notifications: '回访通知', 'nt.about': '案件结案后向要求回访的来电人发送的通知；失败的通知可在接收方恢复后由管理员注明原因重新发送。',
  'nt.status.pending': '待发送', 'nt.status.sent': '已发送', 'nt.status.failed': '发送失败', 'nt.case': '案件',
  'nt.caller': '来电人', 'nt.channel': '渠道', 'nt.attempts': '次尝试', 'nt.attempts_col': '尝试次数', 'nt.last_error': '最近错误', 'nt.when': '时间',
  'nt.resend': '重新发送', 'nt.reason_hint': '原因（必填）', 'nt.resent': '已重新发送通知', 'nt.had': '此前',
  'nt.sent_at': '发送于', 'nt.next': '下次尝试',
});
Object.assign(en, {
  centres: 'Centres', 'ce.about': 'District and street centres under the city centre: the cell-code prefix each covers decides which centre handles a case; every save checks the whole tree again.',
  'ce.add': 'Add a centre', 'ce.edit': 'Edit', 'ce.id': 'Id', 'ce.name': 'Name', 'ce.name_en': 'English name', 'ce.level': 'Level',
  'ce.level.city': 'city', 'ce.level.district': 'district', 'ce.level.street': 'street', 'ce.prefix': 'Cell prefix',
  'ce.prefix_hint': 'district 6 digits, street 9, empty for the city', 'ce.parent': 'Centre above', 'ce.none': 'No centres: one centre handles the whole city',
  'ce.remove': 'Remove', 'ce.cancel': 'Cancel', 'ce.removed_done': 'Removed:', 'ce.history': 'Changes', 'ce.change': 'Change',
  'ce.added': 'added', 'ce.changed': 'changed', 'ce.removed': 'removed',
  'ce.saved': 'Saved:', 'ce.departments': "Departments' centres", 'ce.centre': 'Centre', 'ce.top': 'City level (the top)',
  'by_centre': 'Rolled up by centre', 'by_department': 'By department', 'department_level': 'Department table',
  notifications: 'Notifications', 'nt.about': 'Messages to the callers who asked to be told when their case closed; an admin sends a failed one again, with a reason, once the receiver is back.',
  'nt.status.pending': 'pending', 'nt.status.sent': 'sent', 'nt.status.failed': 'failed', 'nt.case': 'Case',
  'nt.caller': 'Caller', 'nt.channel': 'Channel', 'nt.attempts': 'attempts', 'nt.attempts_col': 'Attempts', 'nt.last_error': 'Last error', 'nt.when': 'When',
  'nt.resend': 'Send again', 'nt.reason_hint': 'reason (required)', 'nt.resent': 'Sent again: notification', 'nt.had': 'had',
  'nt.sent_at': 'sent', 'nt.next': 'next try',
});
