// The handheld's words: Chinese by default (the inspectors'), English for the rest; the choice stays on the phone.
const KEY = 'civicgrid.handheld.lang';
const WORDS = {
  zh: {
    'pair.needed': '本机尚未配对。', 'pair.how': '请用手机相机扫描主管在指挥中心“设备”页出示的配对二维码。',
    category: '问题类别', 'category.hint': '输入中文、拼音首字母或编码，如 lj、垃圾', 'category.common': '常用类别',
    'category.none': '类别列表尚未下载（联网后自动获取）', change: '更改',
    photos: '照片', photo: '照片', 'photo.take': '拍照', 'photo.component': '照片中的部件标签：', location: '位置', 'gps.accuracy': '定位精度', metres: '米',
    'gps.waiting': '正在定位…', 'gps.none': '无法获取定位', cell: '单元网格', 'cell.outside': '不在任何单元网格内',
    description: '问题描述', 'description.hint': '简要描述现场情况（可不填）',
    self_handled: '自处理', 'self_handled.hint': '（现场已自行处理的小问题）', submit: '上报',
    'report.queued': '已保存，正在发送', 'report.queued_offline': '已保存到本机队列，联网后自动发送',
    report: '上报', queue: '队列', tasks: '任务', 'queue.pending': '待发送', 'queue.sent': '已发送', 'queue.failed': '无法发送',
    'pair.replace': '本机还有 {n} 条上报未发送，重新配对将丢弃它们。确定重新配对吗？',
    'queue.empty': '队列为空', 'queue.tracks': '待发送轨迹点', 'queue.link_error': '连接问题',
    'tasks.empty': '暂无核实、核查任务', 'task.verify': '核实', 'task.check': '核查',
    'task.confirmed': '属实', 'task.not_found': '不属实', 'task.fixed': '已处置', 'task.not_fixed': '未处置',
    'task.photos': '案件照片', 'task.photos_waiting': '张照片待联网后下载', 'task.answer_photos': '回复照片',
    'status.offline': '离线', 'status.connected': '在线', 'status.connecting': '连接中',
    patrol: '巡查', 'patrol.plan': '今日巡查计划', 'patrol.window': '巡查时段', 'patrol.grid': '责任网格',
    'patrol.main': '主干道', 'patrol.secondary': '次干道', 'patrol.times': '遍', 'patrol.coverage': '巡查覆盖',
    'patrol.segments': '达标路段', 'patrol.walked': '已巡', 'patrol.cells': '经过单元网格', 'patrol.updated': '更新于',
    'patrol.no_plan': '今日没有巡查计划', 'patrol.unknown': '巡查计划尚未下载（联网后自动获取）',
    'patrol.stale': '离线：显示的是上次联网时的数据', km: '公里',
    voice: '语音', 'voice.record': '录音', 'voice.stop': '停止', 'voice.denied': '无法使用麦克风',
    'voice.empty': '没有录到声音',
    'map.open': '地图选点', 'map.title': '地图选点', 'map.hint': '拖动地图或点按问题所在处，使十字对准它', 'map.use': '使用此位置',
    'map.cancel': '取消', 'map.from_gps': '距GPS定位', 'map.picked': '地图选点', 'map.use_gps': '改用GPS',
    'map.kept': '离线：地图为本机保存的上次联网时的地图',
    'dup.title': '附近可能重复的在办案件', 'dup.hint': '同类问题附近已有案件在办：可关联到该案件（照片和描述作为证据），或作为新问题上报',
    'dup.link': '关联到此案件', 'dup.linked': '已关联到案件', 'dup.failed': '关联失败',
  },
  en: {
    'pair.needed': 'This phone is not paired yet.', 'pair.how': "Scan the pairing QR code your supervisor shows in the console's Devices page.",
    category: 'Category', 'category.hint': 'Chinese, pinyin initials or code', 'category.common': 'Common categories',
    'category.none': 'The category list is not downloaded yet (it comes when online)', change: 'change',
    photos: 'Photos', photo: 'photo', 'photo.take': 'Take a photo', 'photo.component': 'Component label in the photo:', location: 'Location', 'gps.accuracy': 'accuracy',
    metres: 'm', 'gps.waiting': 'Locating…', 'gps.none': 'No location available', cell: 'Cell',
    'cell.outside': 'outside every cell',
    description: 'Description', 'description.hint': 'What is there (optional)',
    self_handled: 'Fixed on the spot', 'self_handled.hint': '(a minor problem solved there and then)', submit: 'Report',
    'report.queued': 'Saved, sending', 'report.queued_offline': 'Saved in the queue on this phone; sent when online',
    report: 'Report', queue: 'Queue', tasks: 'Tasks', 'queue.pending': 'waiting', 'queue.sent': 'sent', 'queue.failed': 'refused',
    'pair.replace': '{n} reports on this phone are not sent yet; pairing again drops them. Pair again?',
    'queue.empty': 'The queue is empty', 'queue.tracks': 'Track points waiting', 'queue.link_error': 'Connection problem',
    'tasks.empty': 'No verification or check tasks', 'task.verify': 'Verify', 'task.check': 'Check',
    'task.confirmed': 'Confirmed', 'task.not_found': 'Not found', 'task.fixed': 'Fixed', 'task.not_fixed': 'Not fixed',
    'task.photos': "The case's photos", 'task.photos_waiting': 'photos to download when online', 'task.answer_photos': 'Answer photos',
    'status.offline': 'offline', 'status.connected': 'online', 'status.connecting': 'connecting',
    patrol: 'Patrol', 'patrol.plan': "Today's patrol plan", 'patrol.window': 'Window', 'patrol.grid': 'Grid',
    'patrol.main': 'main roads', 'patrol.secondary': 'secondary roads', 'patrol.times': 'passes',
    'patrol.coverage': 'Coverage', 'patrol.segments': 'Segments met', 'patrol.walked': 'Walked',
    'patrol.cells': 'cells visited', 'patrol.updated': 'updated', 'patrol.no_plan': 'No patrol plan today',
    'patrol.unknown': 'The patrol plan is not downloaded yet (it comes when online)',
    'patrol.stale': 'Offline: as of the last time online', km: 'km',
    voice: 'Voice notes', 'voice.record': 'Record', 'voice.stop': 'Stop', 'voice.denied': 'The microphone is not available',
    'voice.empty': 'Nothing was recorded',
    'map.open': 'Pick on the map', 'map.title': 'Pick on the map', 'map.hint': 'Drag the map, or tap where the problem is, until the cross is on it',
    'map.use': 'Use this point', 'map.cancel': 'Cancel', 'map.from_gps': 'from the GPS fix', 'map.picked': 'Picked on the map',
    'map.use_gps': 'Use the GPS', 'map.kept': 'Offline: the map as kept on this phone from the last time online',
    'dup.title': 'Open cases nearby this may repeat', 'dup.hint': 'A case of this category is open nearby: link the report to it (its photos and words become evidence), or report it as new',
    'dup.link': 'Link to this case', 'dup.linked': 'Linked to case', 'dup.failed': 'Could not link',
  },
};

export function lang() {
  return localStorage.getItem(KEY) === 'en' ? 'en' : 'zh';
}

export function setLang(value) {
  localStorage.setItem(KEY, value);
  document.documentElement.lang = value === 'en' ? 'en' : 'zh-CN';
}

export function t(key) {
  return WORDS[lang()][key] ?? WORDS.zh[key] ?? key;
}
