// Base data (基础数据): find a component, see its history, add one, edit, move or retire it (admin); import a file of
// components or addresses in the city's CRS (admin); download the databases as GeoJSON or Excel (docs/basedata.md).
import { useState } from 'preact/hooks';
import { api, authHeaders, download } from '../api.js';
import { fmtTime, t } from '../i18n.js';
import { Empty, ErrorBox, html, useLoad } from '../ui.js';

const STATES = ['intact', 'damaged', 'missing', 'occupied'];
const CRS = ['EPSG:4326', 'EPSG:4490', 'EPSG:4548'];
const EDITABLE = ['name', 'state', 'department_id', 'owner', 'maintainer'];

function CrsSelect({ id, value, onChange }) {
  return html`<label for=${id}>${t('bd.crs')}<select id=${id} value=${value} onChange=${(e) => onChange(e.currentTarget.value)}>
    ${CRS.map((c) => html`<option value=${c} selected=${c === value}>${t('bd.crs.' + c)}</option>`)}</select></label>`;
}

function changes(before, after) {
  return Object.keys(after || {}).map((k) => `${t('bd.f.' + k)}: ${fmt(before ? before[k] : null)} → ${fmt(after[k])}`).join('; ');
}
function fmt(v) {
  if (v === null || v === undefined) return '—';
  if (STATES.includes(v)) return t('bd.state.' + v);
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function EditForm({ component, onDone }) {
  const [error, setError] = useState(null);
  async function submit(e) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const body = { reason: form.get('reason') };
    for (const k of EDITABLE) {
      const v = form.get(k);
      if (v !== (component[k] ?? '')) body[k] = v === '' ? null : v;
    }
    setError(null);
    try { onDone(await api(`/basedata/components/${component.code}`, { method: 'PATCH', body })); } catch (err) { setError(err); }
  }
  return html`<form class="filters" id="bd-edit" onSubmit=${submit} aria-label=${t('bd.edit')}>
    <label for="bd-e-name">${t('bd.f.name')}<input id="bd-e-name" name="name" value=${component.name || ''} /></label>
    <label for="bd-e-state">${t('bd.f.state')}<select id="bd-e-state" name="state">
      ${STATES.map((s) => html`<option value=${s} selected=${s === component.state}>${t('bd.state.' + s)}</option>`)}</select></label>
    <label for="bd-e-dept">${t('bd.f.department_id')}<input id="bd-e-dept" name="department_id" value=${component.department_id || ''} /></label>
    <label for="bd-e-owner">${t('bd.f.owner')}<input id="bd-e-owner" name="owner" value=${component.owner || ''} /></label>
    <label for="bd-e-maint">${t('bd.f.maintainer')}<input id="bd-e-maint" name="maintainer" value=${component.maintainer || ''} /></label>
    <label for="bd-e-reason">${t('reason')}<input id="bd-e-reason" name="reason" required maxlength="500" /></label>
    <button type="submit">${t('save')}</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

function MoveForm({ component, onDone }) {
  const [crs, setCrs] = useState('EPSG:4326');
  const [error, setError] = useState(null);
  const projected = crs === 'EPSG:4548';
  async function submit(e) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const a = Number(form.get('a'));
    const b = Number(form.get('b'));
    const body = { crs, reason: form.get('reason'), ...(projected ? { easting: a, northing: b } : { lon: a, lat: b }) };
    setError(null);
    try { onDone(await api(`/basedata/components/${component.code}/move`, { method: 'POST', body })); } catch (err) { setError(err); }
  }
  return html`<form class="filters" id="bd-move" onSubmit=${submit} aria-label=${t('bd.move')}>
    <${CrsSelect} id="bd-m-crs" value=${crs} onChange=${setCrs} />
    <label for="bd-m-a">${projected ? t('bd.easting') : t('bd.lon')}<input id="bd-m-a" name="a" required inputmode="decimal" /></label>
    <label for="bd-m-b">${projected ? t('bd.northing') : t('bd.lat')}<input id="bd-m-b" name="b" required inputmode="decimal" /></label>
    <label for="bd-m-reason">${t('reason')}<input id="bd-m-reason" name="reason" required maxlength="500" /></label>
    <button type="submit">${t('bd.move')}</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

// One new component by hand (a cover laid last week): its 16-digit code (its category in digits 7-10), a point in
// any of the CRSs, and why (POST /basedata/components; its history starts with this `add`).
function AddForm({ onDone }) {
  const [crs, setCrs] = useState('EPSG:4326');
  const [error, setError] = useState(null);
  const projected = crs === 'EPSG:4548';
  async function submit(e) {
    e.preventDefault();
    const el = e.currentTarget;
    const form = new FormData(el);
    const a = Number(form.get('a'));
    const b = Number(form.get('b'));
    const body = { code: form.get('code'), crs, reason: form.get('reason'),
      ...(projected ? { easting: a, northing: b } : { lon: a, lat: b }) };
    for (const k of ['name', 'department_id']) if (form.get(k)) body[k] = form.get(k);
    setError(null);
    try { const c = await api('/basedata/components', { method: 'POST', body }); el.reset(); onDone(c); } catch (err) { setError(err); }
  }
  return html`<form class="filters" id="bd-add" onSubmit=${submit} aria-label=${t('bd.add')}>
    <label for="bd-a-code">${t('bd.f.code')}<input id="bd-a-code" name="code" required pattern="[0-9]{16}" inputmode="numeric"
      maxlength="16" placeholder="3415230101000123" /></label>
    <label for="bd-a-name">${t('bd.f.name')}<input id="bd-a-name" name="name" maxlength="200" /></label>
    <${CrsSelect} id="bd-a-crs" value=${crs} onChange=${setCrs} />
    <label for="bd-a-a">${projected ? t('bd.easting') : t('bd.lon')}<input id="bd-a-a" name="a" required inputmode="decimal" /></label>
    <label for="bd-a-b">${projected ? t('bd.northing') : t('bd.lat')}<input id="bd-a-b" name="b" required inputmode="decimal" /></label>
    <label for="bd-a-dept">${t('bd.f.department_id')}<input id="bd-a-dept" name="department_id" maxlength="100" /></label>
    <label for="bd-a-reason">${t('reason')}<input id="bd-a-reason" name="reason" required maxlength="500" /></label>
    <button type="submit">${t('bd.add')}</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

function RetireForm({ component, onDone }) {
  const [error, setError] = useState(null);
  async function submit(e) {
    e.preventDefault();
    const reason = new FormData(e.currentTarget).get('reason');
    setError(null);
    try { onDone(await api(`/basedata/components/${component.code}/retire`, { method: 'POST', body: { reason } })); } catch (err) { setError(err); }
  }
  return html`<form class="filters" id="bd-retire" onSubmit=${submit} aria-label=${t('bd.retire')}>
    <label for="bd-r-reason">${t('reason')}<input id="bd-r-reason" name="reason" required maxlength="500" /></label>
    <button type="submit">${t('bd.retire')}</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

function Component({ code, admin, onChanged }) {
  const [tick, setTick] = useState(0);
  const [component, error] = useLoad(() => api(`/basedata/components/${code}`), [code, tick]);
  const [history] = useLoad(() => api(`/basedata/components/${code}/history`), [code, tick]);
  const done = () => { setTick((x) => x + 1); onChanged(); };
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!component) return html`<p class="empty">${t('loading')}</p>`;
  return html`<div class="panel" id="bd-component" data-code=${code}>
    <h2>${t('bd.component')} <span class="code">${code}</span> ${component.name || ''}</h2>
    <dl class="facts">
      <dt>${t('bd.f.state')}</dt><dd data-field="state">${t('bd.state.' + component.state)}</dd>
      <dt>${t('bd.f.category_code')}</dt><dd>${component.category_code}</dd>
      <dt>${t('cell')}</dt><dd class="code">${component.grid_cell_code || '—'}</dd>
      <dt>${t('bd.f.department_id')}</dt><dd>${component.department_id || '—'}</dd>
      <dt>${t('bd.f.maintainer')}</dt><dd>${component.maintainer || '—'}</dd>
      <dt>${t('bd.lon')}, ${t('bd.lat')}</dt><dd>${component.lon?.toFixed(7)}, ${component.lat?.toFixed(7)}</dd>
      ${component.retired_at ? html`<dt>${t('bd.retired')}</dt><dd>${fmtTime(component.retired_at)}</dd>` : null}
    </dl>
    ${admin && !component.retired_at ? html`<details open><summary>${t('bd.edit')}</summary>
      <${EditForm} key=${'e' + tick} component=${component} onDone=${done} /></details>
      <details><summary>${t('bd.move')}</summary><${MoveForm} component=${component} onDone=${done} /></details>
      <details><summary>${t('bd.retire')}</summary><${RetireForm} component=${component} onDone=${done} /></details>` : null}
    <h3>${t('bd.history')}</h3>
    <table class="data" id="bd-history"><caption class="sr-only">${t('bd.history')}</caption>
      <thead><tr><th scope="col">${t('time')}</th><th scope="col">${t('bd.actor')}</th><th scope="col">${t('bd.action')}</th>
        <th scope="col">${t('reason')}</th><th scope="col">${t('bd.change')}</th></tr></thead>
      <tbody>${(history?.items || []).map((h) => html`<tr data-action=${h.action}>
        <td>${fmtTime(h.at)}</td><td>${h.actor}</td><td>${t('bd.a.' + h.action)}${h.case_no ? ` (${h.case_no})` : ''}</td>
        <td>${h.reason || '—'}</td><td>${changes(h.before, h.after)}</td></tr>`)}</tbody></table>
  </div>`;
}

function ImportPanel() {
  const [kind, setKind] = useState('components');
  const [crs, setCrs] = useState('EPSG:4326');
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function submit(e) {
    e.preventDefault();
    const file = new FormData(e.currentTarget).get('file');
    if (!file || !file.name) return;
    setBusy(true); setError(null); setResult(null);
    const params = new URLSearchParams({ crs, name: file.name });
    try {
      const res = await fetch(`/basedata/${kind}/import?${params}`, { method: 'POST', body: file,
        headers: authHeaders({ Accept: 'application/json', 'Content-Type': file.type || 'application/octet-stream' }) });
      const data = await res.json().catch(() => null);
      if (!res.ok) setError({ message: data?.detail || `HTTP ${res.status}`, rows: data?.errors || [] });
      else setResult(data);
    } catch (err) { setError(err); } finally { setBusy(false); }
  }
  return html`<form class="filters" id="bd-import" onSubmit=${submit} aria-label=${t('bd.import')}>
    <label for="bd-i-kind">${t('kind')}<select id="bd-i-kind" value=${kind} onChange=${(e) => setKind(e.currentTarget.value)}>
      <option value="components">${t('bd.components')}</option><option value="addresses">${t('bd.addresses')}</option></select></label>
    <${CrsSelect} id="bd-i-crs" value=${crs} onChange=${setCrs} />
    <label for="bd-i-file">${t('bd.file')}<input id="bd-i-file" name="file" type="file" accept=".geojson,.json,.csv,.xlsx" required /></label>
    <button type="submit" disabled=${busy}>${busy ? t('loading') : t('bd.upload')}</button>
    ${result ? html`<span role="status" id="bd-import-result">${t('bd.imported')}: ${result.rows} · +${result.added} · ~${result.updated} · =${result.unchanged}</span>` : null}
    ${error ? html`<div class="error" role="alert">${t('error')}: ${error.message}
      ${(error.rows || []).length ? html`<ul id="bd-import-errors">${error.rows.map((r) => html`<li>${r.row}${r.field ? `, ${r.field}` : ''}: ${r.message}</li>`)}</ul>` : null}</div>` : null}
  </form>`;
}

function ExportPanel() {
  const [kind, setKind] = useState('components');
  const [fmtName, setFmt] = useState('xlsx');
  const [crs, setCrs] = useState('EPSG:4548');
  const [error, setError] = useState(null);
  async function submit(e) {
    e.preventDefault();
    setError(null);
    const tag = crs.replace(':', '');
    try { await download(`/basedata/export/${kind}.${fmtName}?crs=${encodeURIComponent(crs)}`, `${t('bd.' + kind)}-${tag}.${fmtName}`); } catch (err) { setError(err); }
  }
  return html`<form class="filters" id="bd-export" onSubmit=${submit} aria-label=${t('bd.export')}>
    <label for="bd-x-kind">${t('kind')}<select id="bd-x-kind" value=${kind} onChange=${(e) => setKind(e.currentTarget.value)}>
      <option value="components">${t('bd.components')}</option><option value="addresses">${t('bd.addresses')}</option></select></label>
    <label for="bd-x-fmt">${t('bd.format')}<select id="bd-x-fmt" value=${fmtName} onChange=${(e) => setFmt(e.currentTarget.value)}>
      <option value="xlsx">Excel (.xlsx)</option><option value="geojson">GeoJSON</option></select></label>
    <${CrsSelect} id="bd-x-crs" value=${crs} onChange=${setCrs} />
    <button type="submit">${t('bd.download')}</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

export function BaseDataPage({ user, arg }) {
  const admin = user.role === 'admin';
  const [q, setQ] = useState(arg || '');
  const [state, setState] = useState('');
  const [retired, setRetired] = useState(false);
  const [selected, setSelected] = useState(arg && /^[0-9]{16}$/.test(arg) ? arg : null);
  const [tick, setTick] = useState(0);
  const params = new URLSearchParams({ limit: '50', ...(q ? { q } : {}), ...(state ? { state } : {}), ...(retired ? { include_retired: 'true' } : {}) });
  const [list, error, loading] = useLoad(() => api(`/basedata/components?${params}`), [q, state, retired, tick]);
  return html`<section class="basedata-page">
    <h1>${t('basedata')}</h1>
    <form class="filters" onSubmit=${(e) => e.preventDefault()} aria-label=${t('search')}>
      <label for="bd-q">${t('bd.find')}<input id="bd-q" type="search" value=${q} placeholder=${t('bd.find_hint')}
        onInput=${(e) => setQ(e.currentTarget.value.trim())} /></label>
      <label for="bd-state">${t('bd.f.state')}<select id="bd-state" value=${state} onChange=${(e) => setState(e.currentTarget.value)}>
        <option value="">${t('all')}</option>${STATES.map((s) => html`<option value=${s}>${t('bd.state.' + s)}</option>`)}</select></label>
      <label for="bd-retired"><input id="bd-retired" type="checkbox" checked=${retired} onChange=${(e) => setRetired(e.currentTarget.checked)} /> ${t('bd.include_retired')}</label>
      ${loading ? html`<span class="small">${t('loading')}</span>` : list ? html`<span class="small">${t('bd.found')} ${list.total}</span>` : null}
    </form>
    <${ErrorBox} error=${error} />
    <div class="bd-split" style=${{ display: 'grid', gridTemplateColumns: 'minmax(0, 1fr) minmax(0, 1fr)', gap: '12px' }}>
      <div>
        ${list && list.items.length === 0 ? html`<${Empty} />` : null}
        ${list && list.items.length ? html`<table class="data" id="bd-list"><caption class="sr-only">${t('bd.components')}</caption>
          <thead><tr><th scope="col">${t('bd.f.code')}</th><th scope="col">${t('bd.f.name')}</th><th scope="col">${t('bd.f.state')}</th><th scope="col">${t('cell')}</th></tr></thead>
          <tbody>${list.items.map((c) => html`<tr data-code=${c.code} class=${c.code === selected ? 'selected' : ''}>
            <td><button type="button" class="link code" onClick=${() => setSelected(c.code)}>${c.code}</button></td>
            <td>${c.name || '—'}</td><td>${t('bd.state.' + c.state)}${c.retired_at ? ` · ${t('bd.retired')}` : ''}</td>
            <td class="code">${c.grid_cell_code || '—'}</td></tr>`)}</tbody></table>` : null}
      </div>
      <div>${selected ? html`<${Component} key=${selected} code=${selected} admin=${admin} onChanged=${() => setTick((x) => x + 1)} />`
        : html`<p class="empty">${t('bd.select')}</p>`}</div>
    </div>
    ${admin ? html`<div class="panel"><h2>${t('bd.add')}</h2><${AddForm} onDone=${(c) => {
      setQ(c.code); setSelected(c.code); setTick((x) => x + 1); }} /></div>` : null}
    ${admin ? html`<div class="panel"><h2>${t('bd.import')}</h2><p class="small">${t('bd.import_hint')}</p><${ImportPanel} /></div>` : null}
    <div class="panel"><h2>${t('bd.export')}</h2><${ExportPanel} /></div>
  </section>`;
}
