// The city's rules (规则配置, admin): the current rule pack's catalogue, time limits, calendar, roles and weights as
// tables, edited in place and saved as a new version with a reason (POST /admin/rules as the JSON pack,
// docs/rules.md): a category's names, conditions, class and disposal limit (a new category, or one removed), a step's or class's
// limit, a weight, the case-count bands and grades, the working calendar (hours, weekdays, holidays, make-up days,
// round-the-clock duty), the light's shares, the area classes (core and general streets: their cells, their classes'
// limits, a category's class and limit there) and who may take which action; each refusal shown in words next to its row; the workbook
// downloaded and uploaded; who changed what, when and why (GET /admin/rules/history).
import { useState } from 'preact/hooks';
import { api, download } from '../api.js';
import { fmtTime, t } from '../i18n.js';
import { ErrorBox, html, useLoad } from '../ui.js';

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const UNITS = ['minutes', 'hours', 'days', 'natural_minutes', 'natural_hours', 'natural_days'];
const CLASSES = ['A', 'B', 'C', 'D', 'E', 'F'];
const STEPS = ['accept', 'verify', 'file', 'dispatch', 'check', 'close'];  // the case's order (jsonb sorts keys)
const ROLES = ['inspector', 'operator', 'shift_leader', 'dispatcher', 'department', 'leader', 'admin'];

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

const EMPTY_CATEGORY = { code: '', zh: '', en: '', disposal_class: '', filing_condition: '', closing_condition: '' };

/** A new category typed in a row of its own and added to the draft (checked by the API on save, like every edit:
 * a code listed already, a minor without its major, an empty name come back in words beside its row). */
function AddCategory({ onAdd }) {
  const [row, setRow] = useState(EMPTY_CATEGORY);
  const set = (key) => (e) => setRow({ ...row, [key]: e.currentTarget.value });
  function add(e) {
    e.preventDefault();
    const { disposal_class: cls, ...rest } = row;
    onAdd({ ...rest, code: rest.code.trim().toUpperCase(), ...(cls ? { disposal_class: cls } : {}) });
    setRow(EMPTY_CATEGORY);
  }
  return html`<form class="filters" id="rl-cat-add" onSubmit=${add} aria-label=${t('rl.add_category')}>
    <label for="rl-new-code">${t('rl.code')}<input id="rl-new-code" required size="6" pattern="[CEce][0-9]{2}([0-9]{2})?"
      placeholder="E0150" value=${row.code} onInput=${set('code')} /></label>
    <label for="rl-new-zh">${t('rl.zh')}<input id="rl-new-zh" required value=${row.zh} onInput=${set('zh')} /></label>
    <label for="rl-new-en">${t('rl.en')}<input id="rl-new-en" required value=${row.en} onInput=${set('en')} /></label>
    <label for="rl-new-class">${t('rl.class')}<select id="rl-new-class" onChange=${set('disposal_class')}>
      <option value="" selected=${!row.disposal_class}>${t('rl.inherit')}</option>
      ${CLASSES.map((k) => html`<option value=${k} selected=${k === row.disposal_class}>${k}</option>`)}</select></label>
    <label for="rl-new-filing">${t('rl.filing')}<input id="rl-new-filing" value=${row.filing_condition} onInput=${set('filing_condition')} /></label>
    <label for="rl-new-closing">${t('rl.closing')}<input id="rl-new-closing" value=${row.closing_condition} onInput=${set('closing_condition')} /></label>
    <button type="submit">${t('rl.add_category')}</button></form>`;
}

/** The categories of the stored version that the draft no longer has: saved, the next case cannot be filed under
 * them, while the cases filed before keep their version's catalogue (the API refuses what its checks refuse, e.g.
 * the minors of a removed major, or a category the pack's responsibility table names, in words). */
function Removed({ stored, draft }) {
  const kept = new Set(draft.catalogue.categories.map((c) => c.code));
  const gone = stored.catalogue.categories.filter((c) => !kept.has(c.code));
  if (!gone.length) return null;
  return html`<p id="rl-removed" role="status">${t('rl.removed')}: ${gone.map((c) => `${c.code} ${c.zh}`).join('、')}
    <small>${t('rl.removed_hint')}</small></p>`;
}

function Catalogue({ draft, stored, edit, errors }) {
  const [q, setQ] = useState('');
  const limits = draft.time_limits;
  const all = draft.catalogue.categories.map((c, i) => ({ c, row: `category ${i + 1}` + (typeof c.code === 'string' ? ` (${c.code})` : '') }));
  const rows = all.filter(({ c }) => !q || c.code.startsWith(q.toUpperCase()) || (c.zh || '').includes(q) || (c.en || '').toLowerCase().includes(q.toLowerCase()));
  const setLimit = (code, value) => edit((d) => {
    const own = { ...(d.time_limits.categories || {}) };
    if (value) own[code] = value; else delete own[code];
    d.time_limits.categories = own;
  });
  // Rows are edited by their place in the list (a new row's code may be the one being corrected).
  const setField = (index, key, value) => edit((d) => {
    d.catalogue.categories = d.catalogue.categories.map((c, i) => {
      if (i !== index) return c;
      const next = { ...c, [key]: value };
      if (value === undefined) delete next[key];
      return next;
    });
  });
  // A removed row takes its own disposal limits with it (they are shown and edited on that row); what else names it
  // (area classes, a pack's responsibility table) is the API's check to refuse, in words.
  const remove = (index) => edit((d) => {
    const { code } = d.catalogue.categories[index];
    d.catalogue.categories = d.catalogue.categories.filter((_, i) => i !== index);
    if (d.time_limits.categories && code in d.time_limits.categories) {
      const own = { ...d.time_limits.categories };
      delete own[code];
      d.time_limits.categories = own;
    }
    for (const [area, codes] of Object.entries(d.time_limits.area_categories || {})) {
      if (code in codes) {
        const rest = { ...codes };
        delete rest[code];
        d.time_limits.area_categories = { ...d.time_limits.area_categories, [area]: rest };
      }
    }
  });
  const add = (category) => { edit((d) => { d.catalogue.categories = [...d.catalogue.categories, category]; }); setQ(category.code); };
  const text = (i, c, key, label) => html`<input id=${`rl-${key}-${c.code}`} aria-label=${`${label} ${c.code}`} value=${c[key] || ''}
    onInput=${(e) => setField(i, key, e.currentTarget.value)} />`;
  const area = (i, c, key, label) => html`<textarea id=${`rl-${key}-${c.code}`} aria-label=${`${label} ${c.code}`} rows="2" cols="24"
    value=${c[key] || ''} onInput=${(e) => setField(i, key, e.currentTarget.value)}></textarea>`;
  return html`<section class="panel" aria-labelledby="rl-cat-h"><h2 id="rl-cat-h">${t('rl.catalogue')}</h2>
    <label for="rl-cat-q">${t('rl.find')}<input id="rl-cat-q" value=${q} placeholder=${t('rl.find_hint')} onInput=${(e) => setQ(e.currentTarget.value)} /></label>
    <${AddCategory} onAdd=${add} />
    <${Removed} stored=${stored} draft=${draft} />
    <table class="data" id="rl-catalogue"><caption class="sr-only">${t('rl.catalogue')}</caption>
      <thead><tr><th scope="col">${t('rl.code')}</th><th scope="col">${t('rl.name')}</th><th scope="col">${t('rl.class')}</th>
        <th scope="col">${t('rl.own_limit')}</th><th scope="col">${t('rl.filing')}</th><th scope="col">${t('rl.closing')}</th>
        <th scope="col"><span class="sr-only">${t('rl.remove')}</span></th></tr></thead>
      <tbody>${rows.map(({ c, row }) => {
        const i = draft.catalogue.categories.indexOf(c);
        return html`<tr key=${row} data-code=${c.code}>
        <td class="code">${c.code}<${RowErrors} errors=${errors} file="catalogue.yaml" row=${row} /></td>
        <td>${text(i, c, 'zh', t('rl.zh'))}<br />${text(i, c, 'en', t('rl.en'))}</td>
        <td>${c.code.length > 3 || c.disposal_class ? html`<select id=${'rl-cls-' + c.code} aria-label=${`${t('rl.class')} ${c.code}`}
          onChange=${(e) => setField(i, 'disposal_class', e.currentTarget.value || undefined)}>
          ${c.code.length > 3 ? html`<option value="" selected=${!c.disposal_class}>${t('rl.inherit')}</option>` : null}
          ${CLASSES.map((k) => html`<option value=${k} selected=${k === c.disposal_class}>${k}</option>`)}</select>` : '—'}</td>
        <td>${c.code.length > 3 ? html`<${LimitInput} id=${'rl-cat-' + c.code} value=${(limits.categories || {})[c.code]}
          placeholder=${t('rl.by_class')} onChange=${(v) => setLimit(c.code, v)} />
          <${RowErrors} errors=${errors} file="time_limits.yaml" row=${'category ' + c.code} />` : null}</td>
        <td>${area(i, c, 'filing_condition', t('rl.filing'))}</td><td>${area(i, c, 'closing_condition', t('rl.closing'))}</td>
        <td><button type="button" id=${'rl-cat-del-' + c.code} aria-label=${`${t('rl.remove')} ${c.code}`}
          onClick=${() => remove(i)}>${t('rl.remove')}</button></td></tr>`;
      })}</tbody></table>
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
    <table class="data" id="rl-light"><caption>${t('rl.light')}</caption>
      <tbody>${['yellow', 'red'].map((n) => html`<tr data-name=${n}><th scope="row"><label for=${'rl-light-' + n}>${t('light.' + n)}</label></th>
        <td><input id=${'rl-light-' + n} type="number" step="0.05" min="0" value=${(l.light || {})[n] ?? (n === 'yellow' ? 0.8 : 1)}
          onInput=${(e) => setIn('light', n, e.currentTarget.value === '' ? null : Number(e.currentTarget.value))} />
          <small>${t('rl.light_hint')}</small>
          <${RowErrors} errors=${errors} file="time_limits.yaml" row=${'light ' + n} /></td></tr>`)}</tbody></table>
  </section>`;
}

/** Every area class the draft names anywhere (cells, class limits, a category's class or limit there). */
function areaNames(d) {
  const names = [d.time_limits.area_cells, d.time_limits.areas, d.time_limits.area_categories, d.catalogue.area_classes]
    .flatMap((m) => Object.keys(m || {}));
  return [...new Set(names)];
}

const without = (map, key) => { const next = { ...(map || {}) }; delete next[key]; return next; };

/** A category's class and own limit in one area class, as one row (catalogue `area_classes`, time_limits
 * `area_categories`); its refusals (a code the catalogue lacks, a bad limit) beside it. */
function AreaCategory({ area, code, d, edit, errors, onRemove }) {
  const cls = ((d.catalogue.area_classes || {})[area] || {})[code] || '';
  const limit = ((d.time_limits.area_categories || {})[area] || {})[code];
  const setClass = (value) => edit((x) => {
    const classes = { ...((x.catalogue.area_classes || {})[area] || {}) };
    if (value) classes[code] = value; else delete classes[code];
    x.catalogue.area_classes = { ...(x.catalogue.area_classes || {}), [area]: classes };
  });
  const setLimit = (value) => edit((x) => {
    const limits = { ...((x.time_limits.area_categories || {})[area] || {}) };
    if (value) limits[code] = value; else delete limits[code];
    x.time_limits.area_categories = { ...(x.time_limits.area_categories || {}), [area]: limits };
  });
  const remove = () => { onRemove(code); edit((x) => {
    if ((x.catalogue.area_classes || {})[area]) x.catalogue.area_classes = { ...x.catalogue.area_classes, [area]: without(x.catalogue.area_classes[area], code) };
    if ((x.time_limits.area_categories || {})[area]) x.time_limits.area_categories = { ...x.time_limits.area_categories, [area]: without(x.time_limits.area_categories[area], code) };
  }); };
  const row = `area ${area}, category ${code}`;
  const id = `rl-ac-${area}-${code}`;
  return html`<tr data-area=${area} data-code=${code}><th scope="row" class="code">${code}</th>
    <td><select id=${id + '-class'} aria-label=${`${area} ${code} ${t('rl.class')}`} onChange=${(e) => setClass(e.currentTarget.value)}>
      <option value="" selected=${!cls}>${t('rl.area_no_class')}</option>
      ${CLASSES.map((k) => html`<option value=${k} selected=${k === cls}>${k}</option>`)}</select></td>
    <td><${LimitInput} id=${id} value=${limit} placeholder=${t('rl.by_class')} onChange=${setLimit} /></td>
    <td><${RowErrors} errors=${errors} file="catalogue.yaml" row=${row} /><${RowErrors} errors=${errors} file="time_limits.yaml" row=${row} /></td>
    <td><button type="button" id=${id + '-remove'} onClick=${remove}>${t('rl.remove')}</button></td></tr>`;
}

/** One area class (core streets, general streets): the cell prefixes it covers, its classes' limits there, and the
 * categories given their own class or limit there; removed whole with everything that names it. */
function AreaClass({ area, d, edit, errors }) {
  const [code, setCode] = useState('');
  const [added, setAdded] = useState([]);  // codes listed here before they get a class or a limit (not in the draft)
  const l = d.time_limits;
  const codes = [...new Set([...Object.keys((d.catalogue.area_classes || {})[area] || {}),
    ...Object.keys((l.area_categories || {})[area] || {}), ...added])].sort();
  const setCells = (cells) => edit((x) => { x.time_limits.area_cells = { ...(x.time_limits.area_cells || {}), [area]: cells }; });
  const setClassLimit = (cls, value) => edit((x) => {
    const limits = { ...((x.time_limits.areas || {})[area] || {}) };
    if (value) limits[cls] = value; else delete limits[cls];
    x.time_limits.areas = { ...(x.time_limits.areas || {}), [area]: limits };
  });
  const addCategory = (e) => {
    e.preventDefault();
    const c = code.trim().toUpperCase();
    if (!c) return;
    setAdded([...added.filter((x) => x !== c), c]);  // its class and limit are chosen on its row
    setCode('');
  };
  const removeArea = () => edit((x) => {
    x.time_limits.area_cells = without(x.time_limits.area_cells, area);
    x.time_limits.areas = without(x.time_limits.areas, area);
    x.time_limits.area_categories = without(x.time_limits.area_categories, area);
    x.catalogue.area_classes = without(x.catalogue.area_classes, area);
  });
  const file = 'time_limits.yaml';
  return html`<fieldset class="area-class" id=${'rl-area-' + area} data-area=${area}><legend>${t('rl.area')} <span class="code">${area}</span>
      <button type="button" id=${`rl-area-${area}-remove`} onClick=${removeArea}>${t('rl.remove')}</button></legend>
    <label for=${`rl-area-${area}-cells`}>${t('rl.area_cells')}
      <${ListInput} id=${`rl-area-${area}-cells`} label=${`${area} ${t('rl.area_cells')}`} value=${(l.area_cells || {})[area]}
        hint="341523001, 341523002" onChange=${setCells} /></label>
    <${RowErrors} errors=${errors} file=${file} row=${'area ' + area} />
    <table class="data" id=${`rl-areas-${area}`}><caption>${t('rl.area_class_limits')}</caption>
      <tbody>${CLASSES.map((k) => html`<tr data-class=${k}><th scope="row">${k}</th>
        <td><${LimitInput} id=${`rl-areas-${area}-${k}`} value=${((l.areas || {})[area] || {})[k]} placeholder=${t('rl.by_class')}
          onChange=${(v) => setClassLimit(k, v)} /><${RowErrors} errors=${errors} file=${file} row=${`area ${area}, class ${k}`} /></td></tr>`)}</tbody></table>
    <table class="data" id=${`rl-area-${area}-categories`}><caption>${t('rl.area_categories')}</caption>
      <thead><tr><th scope="col">${t('rl.code')}</th><th scope="col">${t('rl.class')}</th><th scope="col">${t('rl.own_limit')}</th>
        <th scope="col"><span class="sr-only">${t('rl.field')}</span></th><th scope="col"><span class="sr-only">${t('rl.remove')}</span></th></tr></thead>
      <tbody>${codes.map((c) => html`<${AreaCategory} key=${c} area=${area} code=${c} d=${d} edit=${edit} errors=${errors}
        onRemove=${(gone) => setAdded(added.filter((x) => x !== gone))} />`)}</tbody></table>
    <form class="filters" id=${`rl-area-${area}-add`} onSubmit=${addCategory} aria-label=${`${area} ${t('rl.add_category')}`}>
      <label for=${`rl-area-${area}-new`}>${t('rl.code')}<input id=${`rl-area-${area}-new`} size="6" placeholder="E0103"
        value=${code} onInput=${(e) => setCode(e.currentTarget.value)} /></label>
      <button type="submit">${t('rl.add_category')}</button></form>
  </fieldset>`;
}

/** The area classes (区域类别: core and general streets, docs/rules.md "Area classes"): a case takes the class and
 * limits of its cell's area class, the longest prefix winning. */
function AreaClasses({ draft, edit, errors }) {
  const [name, setName] = useState('');
  const add = (e) => {
    e.preventDefault();
    const area = name.trim();
    if (!area) return;
    edit((x) => { x.time_limits.area_cells = { [area]: [], ...(x.time_limits.area_cells || {}) }; });
    setName('');
  };
  return html`<section class="panel" aria-labelledby="rl-area-h"><h2 id="rl-area-h">${t('rl.area_classes')}</h2>
    <p class="small">${t('rl.area_hint')}</p>
    ${areaNames(draft).map((area) => html`<${AreaClass} key=${area} area=${area} d=${draft} edit=${edit} errors=${errors} />`)}
    <form class="filters" id="rl-area-add" onSubmit=${add} aria-label=${t('rl.add_area')}>
      <label for="rl-area-new">${t('rl.area')}<input id="rl-area-new" size="10" placeholder="core" value=${name}
        onInput=${(e) => setName(e.currentTarget.value)} /></label>
      <button type="submit">${t('rl.add_area')}</button></form>
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

const num = (value) => (value === '' ? null : Number(value));

/** A list of rows of the scoring table (bands, grades) edited in place: each row's fields, a row added at the end
 * or removed; the API checks the order (a band that could never be reached is named at its row). */
function BandRows({ id, caption, rows, cols, rowName, set, errors }) {
  const setCell = (i, key, value) => set(rows.map((r, j) => (j === i ? { ...r, [key]: value } : r)));
  return html`<table class="data" id=${id}><caption>${caption}</caption>
    <thead><tr>${cols.map((c) => html`<th scope="col">${c.label}</th>`)}<th scope="col"><span class="sr-only">${t('rl.remove')}</span></th></tr></thead>
    <tbody>${rows.map((r, i) => html`<tr data-row=${i + 1}>${cols.map((c, k) => html`<td>
      <input id=${`${id}-${i + 1}-${c.key}`} aria-label=${`${c.label} ${i + 1}`} type=${c.type || 'number'} step="any"
        value=${r[c.key] ?? ''} placeholder=${c.placeholder || ''} size="6"
        onInput=${(e) => setCell(i, c.key, c.type === 'text' ? e.currentTarget.value : num(e.currentTarget.value))} />
      ${k === cols.length - 1 ? html`<${RowErrors} errors=${errors} file="scoring.yaml" row=${`${rowName} ${i + 1}`} />` : null}</td>`)}
      <td><button type="button" id=${`${id}-${i + 1}-remove`} onClick=${() => set(rows.filter((_, j) => j !== i))}>${t('rl.remove')}</button></td></tr>`)}</tbody>
    <tfoot><tr><td colspan=${cols.length + 1}><button type="button" id=${id + '-add'}
      onClick=${() => set([...rows, Object.fromEntries(cols.map((c) => [c.key, c.type === 'text' ? '' : null]))])}>${t('rl.add_row')}</button></td></tr></tfoot></table>`;
}

function Bands({ s, edit, errors }) {
  return html`<${BandRows} id="rl-bands" caption=${t('rl.bands')} rows=${s.case_count_bands} rowName="case-count band" errors=${errors}
    cols=${[{ key: 'max', label: t('rl.band_max'), placeholder: '∞' }, { key: 'score', label: t('rl.band_score') }]}
    set=${(rows) => edit((d) => { d.scoring.case_count_bands = rows; })} />`;
}

function Grades({ s, edit, errors }) {
  return html`<${BandRows} id="rl-grades" caption=${t('rl.grades')} rows=${s.grades} rowName="grade" errors=${errors}
    cols=${[{ key: 'grade', label: t('rl.grade'), type: 'text' }, { key: 'min', label: t('rl.grade_min') }]}
    set=${(rows) => edit((d) => { d.scoring.grades = rows; })} />`;
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
    <${Bands} s=${s} edit=${edit} errors=${errors} />
    <${Grades} s=${s} edit=${edit} errors=${errors} />
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
    <${Catalogue} draft=${tables} stored=${current.tables} edit=${edit} errors=${errors} />
    <${Limits} draft=${tables} edit=${edit} errors=${errors} />
    <${AreaClasses} draft=${tables} edit=${edit} errors=${errors} />
    <${Weights} draft=${tables} edit=${edit} errors=${errors} />
    <${Calendar} draft=${tables} edit=${edit} errors=${errors} />
    <${Roles} draft=${tables} edit=${edit} errors=${errors} />
    <${Workbook} version=${current.version} onLoaded=${reload} />
    <${History} tick=${tick} />
  </div>`;
}
