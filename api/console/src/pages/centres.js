// Centres on levels (指挥中心, admin; docs/centres.md): the city's centres as a tree (city, district, street) with
// the cells each covers, a centre added or changed through PUT /centres/{id} (the API checks the whole tree again
// and its refusal is shown in words), and which centre each disposal department belongs to (PUT /departments/{id}).
// The scores rolled up by centre are on the scoring page (region and department tables, "by centre").
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { Empty, ErrorBox, html, useLoad } from '../ui.js';

const LEVELS = ['city', 'district', 'street'];
const BLANK = { id: '', name: '', name_en: '', level: 'district', cell_prefix: '', parent_id: '' };

/** The centres in tree order (each after its parent), with their depth. */
function treeOrder(centres) {
  const children = (parent) => centres.filter((c) => (c.parent_id || null) === parent)
    .sort((a, b) => a.cell_prefix.localeCompare(b.cell_prefix) || a.id.localeCompare(b.id));
  const out = [];
  const walk = (parent, depth) => children(parent).forEach((c) => { out.push([c, depth]); walk(c.id, depth + 1); });
  walk(null, 0);
  const seen = new Set(out.map(([c]) => c.id));
  return [...out, ...centres.filter((c) => !seen.has(c.id)).map((c) => [c, 0])];
}

function CentreForm({ centres, editing, onSaved }) {
  const [error, setError] = useState(null);
  const [f, setF] = useState({ ...BLANK, ...(editing || {}), name_en: editing?.name_en || '', parent_id: editing?.parent_id || '' });
  const put = (k, v) => setF((cur) => ({ ...cur, [k]: v }));
  const bind = (k) => ({ value: f[k], onInput: (e) => put(k, e.currentTarget.value) });
  async function submit(e) {
    e.preventDefault();
    const body = { id: f.id.trim(), name: f.name.trim(), level: f.level, cell_prefix: f.cell_prefix.trim(),
      parent_id: f.parent_id || null, name_en: f.name_en.trim() || null };
    setError(null);
    try {
      onSaved(await api(`/centres/${encodeURIComponent(body.id)}`, { method: 'PUT', body }));
      if (!editing) setF(BLANK);
    } catch (err) { setError(err); }
  }
  return html`<form class="filters panel" id="ce-form" onSubmit=${submit} aria-label=${t('ce.edit')}>
    <h2>${editing ? `${t('ce.edit')} ${editing.id}` : t('ce.add')}</h2>
    <label for="ce-id">${t('ce.id')}<input id="ce-id" required readOnly=${!!editing} ...${bind('id')} /></label>
    <label for="ce-name">${t('ce.name')}<input id="ce-name" required ...${bind('name')} /></label>
    <label for="ce-name-en">${t('ce.name_en')}<input id="ce-name-en" ...${bind('name_en')} /></label>
    <label for="ce-level">${t('ce.level')}<select id="ce-level" value=${f.level} onChange=${(e) => put('level', e.currentTarget.value)}>
      ${LEVELS.map((l) => html`<option value=${l}>${t('ce.level.' + l)}</option>`)}</select></label>
    <label for="ce-prefix">${t('ce.prefix')}<input id="ce-prefix" inputmode="numeric" placeholder=${t('ce.prefix_hint')} ...${bind('cell_prefix')} /></label>
    <label for="ce-parent">${t('ce.parent')}<select id="ce-parent" value=${f.parent_id} onChange=${(e) => put('parent_id', e.currentTarget.value)}>
      <option value="">—</option>
      ${centres.filter((x) => x.id !== f.id).map((x) => html`<option value=${x.id}>${x.name} (${x.id})</option>`)}</select></label>
    <button type="submit">${t('save')}</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

function Departments({ centres, tick }) {
  const [departments, error, , reload] = useLoad(() => api('/departments'), [tick]);
  const [saveError, setSaveError] = useState(null);
  async function setCentre(d, centre) {
    setSaveError(null);
    try {
      await api(`/departments/${encodeURIComponent(d.id)}`, { method: 'PUT', body: {
        id: d.id, name: d.name, name_en: d.name_en, parent_id: d.parent_id, centre_id: centre || null } });
      reload();
    } catch (err) { setSaveError(err); }
  }
  return html`<section class="panel" aria-labelledby="ce-d-h"><h2 id="ce-d-h">${t('ce.departments')}</h2>
    <${ErrorBox} error=${error || saveError} />
    <table class="data" id="ce-departments"><caption class="sr-only">${t('ce.departments')}</caption>
      <thead><tr><th scope="col">${t('department')}</th><th scope="col">${t('ce.centre')}</th></tr></thead>
      <tbody>${(departments || []).map((d) => html`<tr data-department=${d.id}><th scope="row">${d.name} <small class="code">${d.id}</small></th>
        <td><select id=${'ce-dept-' + d.id} aria-label=${`${d.name} ${t('ce.centre')}`} onChange=${(e) => setCentre(d, e.currentTarget.value)}>
          <option value="" selected=${!d.centre_id}>${t('ce.top')}</option>
          ${centres.map((c) => html`<option value=${c.id} selected=${c.id === d.centre_id}>${c.name}</option>`)}</select></td></tr>`)}</tbody>
    </table></section>`;
}

export function CentresPage() {
  const [tick, setTick] = useState(0);
  const [centres, error] = useLoad(() => api('/centres'), [tick]);
  const [editing, setEditing] = useState(null);
  const [saved, setSaved] = useState(null);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!centres) return html`<p class="empty">${t('loading')}</p>`;
  const onSaved = (c) => { setSaved(c); setEditing(null); setTick((x) => x + 1); };
  const name = (id) => (centres.find((c) => c.id === id) || {}).name || id;
  return html`<section class="centres-page" id="centres" data-count=${centres.length}>
    <h1>${t('centres')}</h1>
    <p class="small">${t('ce.about')}</p>
    ${centres.length ? html`<table class="data" id="ce-tree"><caption class="sr-only">${t('centres')}</caption>
      <thead><tr><th scope="col">${t('ce.name')}</th><th scope="col">${t('ce.level')}</th><th scope="col">${t('ce.prefix')}</th>
        <th scope="col">${t('ce.parent')}</th><th scope="col"></th></tr></thead>
      <tbody>${treeOrder(centres).map(([c, depth]) => html`<tr data-centre=${c.id}>
        <th scope="row" style=${`padding-left: ${0.5 + depth * 1.5}em`}>${c.name} <small class="code">${c.id}</small></th>
        <td>${t('ce.level.' + c.level)}</td><td class="code">${c.cell_prefix || '—'}</td><td>${c.parent_id ? name(c.parent_id) : '—'}</td>
        <td><button type="button" id=${'ce-edit-' + c.id} onClick=${() => setEditing(c)}>${t('ce.edit')}</button></td></tr>`)}</tbody>
    </table>` : html`<${Empty} text=${t('ce.none')} />`}
    ${saved ? html`<p id="ce-saved" role="status">${t('ce.saved')} ${saved.name} (${saved.id})</p>` : null}
    <${CentreForm} key=${editing ? editing.id : 'new'} centres=${centres} editing=${editing} onSaved=${onSaved} />
    ${editing ? html`<button type="button" onClick=${() => setEditing(null)}>${t('ce.add')}</button>` : null}
    <${Departments} centres=${centres} tick=${tick} />
  </section>`;
}
