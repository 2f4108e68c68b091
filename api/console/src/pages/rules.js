// The city's rules (规则配置, admin): the current rule pack's catalogue, time limits, calendar, roles and weights as
// tables; a category's disposal limit, a step's or class's limit, a weight, the working calendar (hours, weekdays,
// holidays, make-up days, round-the-clock duty) and who may take which action edited in place and saved as a new
// version with a reason (POST /admin/rules as the JSON pack, docs/rules.md); each refusal shown in words next to
// its field; the workbook downloaded and uploaded; who changed what, when and why (GET /admin/rules/history).
import { useState } from 'preact/hooks';
import { api, download } from '../api.js';
import { fmtTime, t } from '../i18n.js';
import { ErrorBox, html, useLoad } from '../ui.js';

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const UNITS = ['minutes', 'hours', 'days', 'natural_minutes', 'natural_hours', 'natural_days'];
const CLASSES = ['A', 'B', 'C', 'D', 'E', 'F'];
const STEPS = ['accept', 'verify', 'file', 'dispatch', 'check', 'close'];  // the case's order (jsonb sorts keys)
const ROLES = ['inspector', 'operator', 'shift_leader', 'dispatcher', 'department', 'leader', 'admin'];

const limitText = (l) => (l ? `${l.amount} ${t('rl.unit.' + l.unit)}` : '—');
const errorText = (e) => [e.file, e.row, e.field ? `${t('rl.field')} ${e.field}` : null].filter(Boolean).join(', ') + `: ${e.message}`;

/** The errors of one row of one file, in words, next to the field they are about. */
function RowErrors({ errors, file, row }) {
  const mine = (errors || []).filter((e) => e.file === file && e.row === row);
  if (!mine.length) return null;
  return html`<span class="field-error" role="alert" data-row=${row}>${mine.map((e) => (e.field ? `${e.field}: ` : '') + e.message).join('; ')}</span>`;
}

function LimitInput({ id, value, placeholder, onChange }) {
  const set = (patch) => {
    const next = { amount: value?.amount ?? '', unit: value?.unit ?? 'hours', ...patch };
    onChange(next.amount === '' ? null : { amount: Number(next.amount), unit: next.unit });
  };
  return html`<span class="limit-input">
    <input id=${id + '-amount'} type="number" step="any" aria-label=${t('rl.amount')} value=${value?.amount ?? ''}
      placeholder=${placeholder || ''} onInput=${(e) => set({ amount: e.currentTarget.value })} />
    <select id=${id + '-unit'} aria-label=${t('rl.unit')} onChange=${(e) => set({ unit: e.currentTarget.value })}>
      ${UNITS.map((u) => html`<option value=${u} selected=${u === (value?.unit ?? 'hours')}>${t('rl.unit.' + u)}</option>`)}
    </select></span>`;
}

function Catalogue({ draft, edit, errors }) {
  const [q, setQ] = useState('');
  const limits = draft.time_limits;
  const rows = draft.catalogue.categories.filter((c) => !q || c.code.startsWith(q.toUpperCase()) || (c.zh || '').includes(q) || (c.en || '').toLowerCase().includes(q.toLowerCase()));
  const setLimit = (code, value) => edit((d) => {
    const own = { ...(d.time_limits.categories || {}) };
    if (value) own[code] = value; else delete own[code];
    d.time_limits.categories = own;
  });
  const setClass = (code, cls) => edit((d) => { d.catalogue.categories = d.catalogue.categories.map((c) => (c.code === code ? { ...c, disposal_class: cls } : c)); });
  return html`<section class="panel" aria-labelledby="rl-cat-h"><h2 id="rl-cat-h">${t('rl.catalogue')}</h2>
    <label for="rl-cat-q">${t('rl.find')}<input id="rl-cat-q" value=${q} placeholder=${t('rl.find_hint')} onInput=${(e) => setQ(e.currentTarget.value)} /></label>
    <table class="data" id="rl-catalogue"><caption class="sr-only">${t('rl.catalogue')}</caption>
      <thead><tr><th scope="col">${t('rl.code')}</th><th scope="col">${t('rl.name')}</th><th scope="col">${t('rl.class')}</th>
        <th scope="col">${t('rl.own_limit')}</th><th scope="col">${t('rl.filing')}</th><th scope="col">${t('rl.closing')}</th></tr></thead>
      <tbody>${rows.map((c) => html`<tr key=${c.code} data-code=${c.code}>
        <td class="code">${c.code}</td><td>${c.zh}<br /><small>${c.en}</small></td>
        <td>${c.code.length > 3 || c.disposal_class ? html`<select id=${'rl-cls-' + c.code} aria-label=${`${t('rl.class')} ${c.code}`}
          onChange=${(e) => setClass(c.code, e.currentTarget.value || undefined)}>
          ${c.code.length > 3 ? html`<option value="" selected=${!c.disposal_class}>${t('rl.inherit')}</option>` : null}
          ${CLASSES.map((k) => html`<option value=${k} selected=${k === c.disposal_class}>${k}</option>`)}</select>` : '—'}</td>
        <td>${c.code.length > 3 ? html`<${LimitInput} id=${'rl-cat-' + c.code} value=${(limits.categories || {})[c.code]}
          placeholder=${t('rl.by_class')} onChange=${(v) => setLimit(c.code, v)} />
          <${RowErrors} errors=${errors} file="time_limits.yaml" row=${'category ' + c.code} />` : null}</td>
        <td><small>${c.filing_condition || '—'}</small></td><td><small>${c.closing_condition || '—'}</small></td></tr>`)}</tbody></table>
  </section>`;
}

function Limits({ draft, edit, errors }) {
  const l = draft.time_limits;
  const setIn = (key, name, value) => edit((d) => { d.time_limits[key] = { ...d.time_limits[key], [name]: value }; });
  const table = (key, row, label, names) => html`<table class="data" id=${'rl-' + key}><caption>${label}</caption>
    <tbody>${names.map((n) => html`<tr data-name=${n}><th scope="row">${key === 'steps' ? t('step.' + n) : n}</th>
      <td><${LimitInput} id=${`rl-${key}-${n}`} value=${l[key][n]} onChange=${(v) => setIn(key, n, v)} />
        <${RowErrors} errors=${errors} file="time_limits.yaml" row=${`${row} ${n}`} /></td></tr>`)}</tbody></table>`;
  return html`<section class="panel" aria-labelledby="rl-lim-h"><h2 id="rl-lim-h">${t('rl.limits')}</h2>
    ${table('steps', 'step', t('rl.steps'), [...STEPS.filter((n) => n in (l.steps || {})), ...Object.keys(l.steps || {}).filter((n) => !STEPS.includes(n))])}
    ${table('disposal_classes', 'disposal class', t('rl.classes'), CLASSES)}
    ${Object.keys(l.areas || {}).length ? html`<table class="data"><caption>${t('rl.areas')}</caption><tbody>
      ${Object.entries(l.areas).map(([area, cls]) => html`<tr><th scope="row">${area}</th>
        <td>${Object.entries(cls).map(([k, v]) => `${k}: ${limitText(v)}`).join('; ')}</td></tr>`)}</tbody></table>` : null}
    <p>${t('rl.light')}: ${t('light.yellow')} ${Math.round((l.light?.yellow ?? 0.8) * 100)} %, ${t('light.red')} ${Math.round((l.light?.red ?? 1) * 100)} %</p>
  </section>`;
}

/** The errors of every row of one file whose name starts with one of `prefixes` (e.g. `holiday ` for all the
 * holidays), or that are about `field` without a row: the calendar's lists are edited as one field each. */
function ListErrors({ errors, file, prefixes, field, id }) {
  const mine = (errors || []).filter((e) => e.file === file
    && ((e.row && prefixes.some((p) => e.row.startsWith(p))) || (!e.row && e.field === field)));
  if (!mine.length) return null;
  return html`<span class="field-error" role="alert" id=${id}>${mine.map((e) => (e.row ? `${e.row}: ` : '') + e.message).join('; ')}</span>`;
}

const splitList = (text) => text.split(/[,，;；\s]+/).map((x) => x.trim()).filter(Boolean);

/** A list (periods, dates) typed as text, comma-separated; the draft gets the list on every keystroke, the text
 * stays as typed until the draft changes from elsewhere (discard, a new version). */
function ListInput({ id, label, value, onChange, hint }) {
  const shown = (value || []).join(', ');
  const [text, setText] = useState(shown);
  const same = JSON.stringify(splitList(text)) === JSON.stringify((value || []).map(String));
  const current = same ? text : shown;
  return html`<input id=${id} aria-label=${label} value=${current} placeholder=${hint || ''} size="40"
    onInput=${(e) => { setText(e.currentTarget.value); onChange(splitList(e.currentTarget.value)); }} />`;
}

function Calendar({ draft, edit, errors }) {
  const cal = draft.working_calendar;
  const set = (key, value) => edit((d) => { d.working_calendar = { ...d.working_calendar, [key]: value }; });
  const file = 'working_calendar.yaml';
  const weekdays = cal.weekdays || [1, 2, 3, 4, 5];
  const toggleDay = (n, on) => set('weekdays', [...weekdays.filter((x) => x !== n), ...(on ? [n] : [])].sort());
  const rtc = !!cal.round_the_clock;
  return html`<section class="panel" aria-labelledby="rl-cal-h"><h2 id="rl-cal-h">${t('rl.calendar')}</h2>
    <table class="data" id="rl-calendar"><caption class="sr-only">${t('rl.calendar')}</caption><tbody>
      <tr data-key="round_the_clock"><th scope="row"><label for="rl-cal-rtc">${t('rl.round_the_clock')}</label></th>
        <td><input id="rl-cal-rtc" type="checkbox" checked=${rtc} onChange=${(e) => set('round_the_clock', e.currentTarget.checked)} />
          ${rtc ? html` <small>${t('rl.rtc_hint')}</small>` : null}</td></tr>
      <tr data-key="periods"><th scope="row">${t('rl.periods')}</th>
        <td><${ListInput} id="rl-cal-periods" label=${t('rl.periods')} value=${cal.periods} hint="08:30-12:00, 14:00-17:30"
          onChange=${(v) => set('periods', v)} />
          <${ListErrors} id="rl-cal-periods-error" errors=${errors} file=${file} prefixes=${['period ']} field="periods" /></td></tr>
      <tr data-key="weekdays"><th scope="row">${t('rl.weekdays')}</th>
        <td>${[1, 2, 3, 4, 5, 6, 7].map((n) => html`<label class="inline" for=${'rl-cal-wd-' + n}>
          <input id=${'rl-cal-wd-' + n} type="checkbox" checked=${weekdays.includes(n)} onChange=${(e) => toggleDay(n, e.currentTarget.checked)} />${t('rl.wd.' + n)}</label>`)}
          <${ListErrors} errors=${errors} file=${file} prefixes=${['weekday ']} field="weekdays" /></td></tr>
      <tr data-key="holidays"><th scope="row">${t('rl.holidays')}</th>
        <td><${ListInput} id="rl-cal-holidays" label=${t('rl.holidays')} value=${cal.holidays} hint="2026-10-09"
          onChange=${(v) => set('holidays', v)} />
          <${ListErrors} id="rl-cal-holidays-error" errors=${errors} file=${file} prefixes=${['holiday ']} field="holidays" /></td></tr>
      <tr data-key="workdays"><th scope="row">${t('rl.workdays')}</th>
        <td><${ListInput} id="rl-cal-workdays" label=${t('rl.workdays')} value=${cal.workdays} hint="2026-10-11"
          onChange=${(v) => set('workdays', v)} />
          <${ListErrors} errors=${errors} file=${file} prefixes=${['make-up workday ']} field="workdays" /></td></tr>
      <tr data-key="use_chinese_calendar"><th scope="row"><label for="rl-cal-cn">${t('rl.chinese_calendar')}</label></th>
        <td><input id="rl-cal-cn" type="checkbox" checked=${cal.use_chinese_calendar !== false}
          onChange=${(e) => set('use_chinese_calendar', e.currentTarget.checked)} /></td></tr>
      <tr data-key="timezone"><th scope="row">${t('rl.timezone')}</th>
        <td><input id="rl-cal-tz" aria-label=${t('rl.timezone')} value=${cal.timezone_name || ''} size="16"
          onInput=${(e) => set('timezone_name', e.currentTarget.value || null)} />
          UTC+<input id="rl-cal-offset" type="number" step="0.5" aria-label=${t('rl.utc_offset')} value=${cal.utc_offset_hours ?? 8}
          onInput=${(e) => set('utc_offset_hours', e.currentTarget.value === '' ? null : Number(e.currentTarget.value))} />
          <${ListErrors} errors=${errors} file=${file} prefixes=${[]} field="utc_offset_hours" /></td></tr>
    </tbody></table></section>`;
}

function Roles({ draft, edit, errors }) {
  const actions = draft.permissions.actions;
  const toggle = (action, role, on) => edit((d) => {
    const roles = d.permissions.actions[action] || [];
    d.permissions.actions = { ...d.permissions.actions,
      [action]: on ? [...roles.filter((r) => r !== role), role] : roles.filter((r) => r !== role) };
  });
  return html`<section class="panel" aria-labelledby="rl-roles-h"><h2 id="rl-roles-h">${t('rl.roles')}</h2>
    <table class="data" id="rl-roles"><caption class="sr-only">${t('rl.roles')}</caption>
      <thead><tr><th scope="col">${t('rl.action')}</th>${ROLES.map((r) => html`<th scope="col">${t('role.' + r)}</th>`)}</tr></thead>
      <tbody>${Object.entries(actions).map(([a, roles]) => html`<tr data-action=${a}><th scope="row">${t('action.' + a)} <small class="code">${a}</small>
          <${RowErrors} errors=${errors} file="permissions.yaml" row=${'action ' + a} /></th>
        ${ROLES.map((r) => html`<td><input type="checkbox" id=${`rl-role-${a}-${r}`} aria-label=${`${t('action.' + a)} ${t('role.' + r)}`}
          checked=${roles.includes(r)} onChange=${(e) => toggle(a, r, e.currentTarget.checked)} /></td>`)}</tr>`)}</tbody></table></section>`;
}

function Weights({ draft, edit, errors }) {
  const s = draft.scoring;
  const setWeight = (level, name, value) => edit((d) => {
    d.scoring.composites = { ...d.scoring.composites, [level]: { ...d.scoring.composites[level], [name]: value === '' ? value : Number(value) } };
  });
  return html`<section class="panel" aria-labelledby="rl-w-h"><h2 id="rl-w-h">${t('rl.weights')}</h2>
    <table class="data" id="rl-weights"><caption class="sr-only">${t('rl.weights')}</caption>
      <thead><tr><th scope="col">${t('rl.level')}</th><th scope="col">${t('rl.indicator')}</th><th scope="col">${t('rl.weight')}</th></tr></thead>
      <tbody>${Object.entries(s.composites).map(([level, weights]) => Object.entries(weights).map(([name, w], i) => html`<tr data-level=${level} data-indicator=${name}>
        ${i === 0 ? html`<th scope="row" rowspan=${Object.keys(weights).length}>${level}
          <${RowErrors} errors=${errors} file="scoring.yaml" row=${'composite ' + level} /></th>` : null}
        <td>${t('ind.' + name) === 'ind.' + name ? name : t('ind.' + name)} <small class="code">${name}</small></td>
        <td><input id=${`rl-w-${level}-${name}`} type="number" step="0.01" aria-label=${`${level} ${name}`} value=${w}
          onInput=${(e) => setWeight(level, name, e.currentTarget.value)} /></td></tr>`))}</tbody></table>
    <p>${t('rl.bands')}: ${s.case_count_bands.map((b) => `≤ ${b.max ?? '∞'} → ${b.score}`).join('; ')}</p>
    <p>${t('rl.grades')}: ${s.grades.map((g) => `${g.grade} ≥ ${g.min}`).join('; ')}</p>
    <p>${t('rl.empty_rate')}: ${s.empty_rate ?? 1}</p>
  </section>`;
}

function Workbook({ version, onLoaded }) {
  const [error, setError] = useState(null);
  const [errors, setErrors] = useState([]);
  async function upload(e) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const file = form.get('file');
    setError(null);
    setErrors([]);
    const el = e.currentTarget;
    try {
      const reason = encodeURIComponent(form.get('reason'));
      onLoaded(await api(`/admin/rules?reason=${reason}`, { method: 'POST', form: new Blob([file], { type: XLSX }) }));
      el.reset();
    } catch (err) { setError(err); setErrors(err.body?.errors || []); }
  }
  return html`<section class="panel" aria-labelledby="rl-wb-h"><h2 id="rl-wb-h">${t('rl.workbook')}</h2>
    <button type="button" id="rl-download" onClick=${() => download('/admin/rules/template.xlsx', `civicgrid-rules-v${version}.xlsx`)}>${t('rl.download')}</button>
    <form class="filters" id="rl-upload" onSubmit=${upload} aria-label=${t('rl.upload')}>
      <label for="rl-u-file">${t('rl.file')}<input id="rl-u-file" name="file" type="file" accept=".xlsx" required /></label>
      <label for="rl-u-reason">${t('reason')}<input id="rl-u-reason" name="reason" required maxlength="500" /></label>
      <button type="submit">${t('rl.upload')}</button>
    </form>
    ${errors.length ? html`<ul class="error" id="rl-upload-errors" role="alert">${errors.map((x) => html`<li>${errorText(x)}</li>`)}</ul>` : html`<${ErrorBox} error=${error} />`}
  </section>`;
}

function History({ tick }) {
  const [history, error] = useLoad(() => api('/admin/rules/history?limit=50'), [tick]);
  return html`<section class="panel" aria-labelledby="rl-h-h"><h2 id="rl-h-h">${t('rl.history')}</h2>
    <${ErrorBox} error=${error} />
    <table class="data" id="rl-history"><caption class="sr-only">${t('rl.history')}</caption>
      <thead><tr><th scope="col">${t('rl.version')}</th><th scope="col">${t('time')}</th><th scope="col">${t('rl.who')}</th>
        <th scope="col">${t('rl.tables')}</th><th scope="col">${t('rl.what')}</th><th scope="col">${t('reason')}</th></tr></thead>
      <tbody>${(history?.items || []).map((h) => html`<tr data-version=${h.version}>
        <td>${h.version}</td><td>${fmtTime(h.at)}</td><td>${h.actor}<br /><small>${h.source}</small></td>
        <td>${h.tables_changed.join(', ') || '—'}</td><td class="summary" style="white-space: pre-line">${h.summary}</td>
        <td>${h.reason || '—'}</td></tr>`)}</tbody></table></section>`;
}

export function RulesPage() {
  const [tick, setTick] = useState(0);
  const [current, error] = useLoad(() => api('/admin/rules/content'), [tick]);
  const [draft, setDraft] = useState(null);
  const [errors, setErrors] = useState([]);
  const [saveError, setSaveError] = useState(null);
  const [saved, setSaved] = useState(null);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!current) return html`<p class="empty">${t('loading')}</p>`;
  const tables = draft || current.tables;
  const edit = (fn) => { const next = structuredClone(tables); fn(next); setDraft(next); setSaved(null); };
  const reload = (result) => { setDraft(null); setErrors([]); setSaveError(null); setSaved(result); setTick((x) => x + 1); };
  async function save(e) {
    e.preventDefault();
    const form = e.currentTarget;
    const reason = encodeURIComponent(new FormData(form).get('reason'));
    setSaveError(null);
    setErrors([]);
    try {
      reload(await api(`/admin/rules?reason=${reason}`, { method: 'POST', body: tables }));
      form.reset();
    } catch (err) {
      setSaveError(err);
      setErrors(err.body?.errors || []);
    }
  }
  return html`<div class="rules-page" id="rules" data-version=${current.version}>
    <h1>${t('rules')} · ${t('rl.version')} <span id="rl-version">${current.version}</span> <small class="code">${current.digest.slice(0, 12)}</small></h1>
    <form class="filters panel" id="rl-save" onSubmit=${save} aria-label=${t('rl.save')}>
      <span>${draft ? t('rl.unsaved') : t('rl.no_changes')}</span>
      <label for="rl-reason">${t('reason')}<input id="rl-reason" name="reason" required maxlength="500" /></label>
      <button type="submit" disabled=${!draft}>${t('rl.save')}</button>
      <button type="button" disabled=${!draft} onClick=${() => { setDraft(null); setErrors([]); setSaveError(null); }}>${t('rl.discard')}</button>
      ${saved ? html`<span id="rl-saved" role="status">${saved.created ? t('rl.saved') : t('rl.unchanged')} ${t('rl.version')} ${saved.version}</span>` : null}
      ${errors.length ? html`<ul class="error" id="rl-errors" role="alert">${errors.map((x) => html`<li>${errorText(x)}</li>`)}</ul>` : html`<${ErrorBox} error=${saveError} />`}
    </form>
    <${Catalogue} draft=${tables} edit=${edit} errors=${errors} />
    <${Limits} draft=${tables} edit=${edit} errors=${errors} />
    <${Weights} draft=${tables} edit=${edit} errors=${errors} />
    <${Calendar} draft=${tables} edit=${edit} errors=${errors} />
    <${Roles} draft=${tables} edit=${edit} errors=${errors} />
    <${Workbook} version=${current.version} onLoaded=${reload} />
    <${History} tick=${tick} />
  </div>`;
}
