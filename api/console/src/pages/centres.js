// Centres on levels (指挥中心, admin; docs/centres.md): the city's centres as a tree (city, district, street) with
// the cells each covers, a centre added or changed through PUT /centres/{id} (the API checks the whole tree again
// and its refusal is shown in words), a centre removed (DELETE /centres/{id}: refused in words while child centres,
// departments, users or cases belong to it), each change with a reason and listed in the audit record (GET
// /centres/history: who, when, what before → after, why), and which centre each disposal department belongs to
// (PUT /departments/{id}).
// The scores rolled up by centre are on the scoring page (region and department tables, "by centre").
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { fmtTime, t } from '../i18n.js';
import { Empty, ErrorBox, html, useLoad } from '../ui.js';

const LEVELS = ['city', 'district', 'street'];
const BLANK = { id: '', name: '', name_en: '', level: 'district', cell_prefix: '', parent_id: '', reason: '' };

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
  const [f, setF] = useState({ ...BLANK, ...(editing || {}), name_en: editing?.name_en || '', parent_id: editing?.parent_id || '', reason: '' });
  const put = (k, v) => setF((cur) => ({ ...cur, [k]: v }));
  const bind = (k) => ({ value: f[k], onInput: (e) => put(k, e.currentTarget.value) });
  async function submit(e) {
    e.preventDefault();
    const body = { id: f.id.trim(), name: f.name.trim(), level: f.level, cell_prefix: f.cell_prefix.trim(),
      parent_id: f.parent_id || null, name_en: f.name_en.trim() || null };
    setError(null);
    try {
      const reason = encodeURIComponent(f.reason.trim());
      onSaved(await api(`/centres/${encodeURIComponent(body.id)}?reason=${reason}`, { method: 'PUT', body }));
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
    <label for="ce-reason">${t('reason')}<input id="ce-reason" required maxlength="500" ...${bind('reason')} /></label>
    <button type="submit">${t('save')}</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

/** Remove a centre, with a reason: the API refuses, naming them, while child centres, departments, users or cases
 * still belong to it; the refusal is shown in its words. */
function RemoveCentre({ centre, onRemoved, onCancel }) {
  const [error, setError] = useState(null);
  const [reason, setReason] = useState('');
  async function submit(e) {
    e.preventDefault();
    setError(null);
    try {
      await api(`/centres/${encodeURIComponent(centre.id)}?reason=${encodeURIComponent(reason.trim())}`, { method: 'DELETE' });
      onRemoved(centre);
    } catch (err) { setError(err); }
  }
  return html`<form class="filters panel" id="ce-remove" onSubmit=${submit} aria-label=${`${t('ce.remove')} ${centre.id}`}>
    <h2>${t('ce.remove')} ${centre.name} <small class="code">${centre.id}</small></h2>
    <label for="ce-remove-reason">${t('reason')}<input id="ce-remove-reason" required maxlength="500" value=${reason}
      onInput=${(e) => setReason(e.currentTarget.value)} /></label>
    <button type="submit">${t('ce.remove')}</button>
    <button type="button" onClick=${onCancel}>${t('ce.cancel')}</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

const CHANGES = { added: 'ce.added', changed: 'ce.changed', removed: 'ce.removed' };

/** Who added, changed or removed which centre, when, what and why (the audit record, newest first). */
function History({ tick }) {
  const [history, error] = useLoad(() => api('/centres/history?limit=50'), [tick]);
  return html`<section class="panel" aria-labelledby="ce-h-h"><h2 id="ce-h-h">${t('ce.history')}</h2>
    <${ErrorBox} error=${error} />
    <table class="data" id="ce-history"><caption class="sr-only">${t('ce.history')}</caption>
      <thead><tr><th scope="col">${t('time')}</th><th scope="col">${t('rl.who')}</th><th scope="col">${t('centres')}</th>
        <th scope="col">${t('ce.change')}</th><th scope="col">${t('rl.what')}</th><th scope="col">${t('reason')}</th></tr></thead>
      <tbody>${(history?.items || []).map((h) => html`<tr data-id=${h.id} data-centre=${h.centre_id} data-change=${h.change}>
        <td>${fmtTime(h.at)}</td><td>${h.actor}</td><td class="code">${h.centre_id}</td><td>${t(CHANGES[h.change])}</td>
        <td class="summary">${h.summary}</td><td>${h.reason || '—'}</td></tr>`)}</tbody></table></section>`;
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
  const [removing, setRemoving] = useState(null);
  const [saved, setSaved] = useState(null);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!centres) return html`<p class="empty">${t('loading')}</p>`;
  const onSaved = (c) => { setSaved(c); setEditing(null); setTick((x) => x + 1); };
  const onRemoved = (c) => { setSaved({ ...c, removed: true }); setRemoving(null); setEditing(null); setTick((x) => x + 1); };
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
        <td><button type="button" id=${'ce-edit-' + c.id} onClick=${() => { setRemoving(null); setEditing(c); }}>${t('ce.edit')}</button>
          <button type="button" id=${'ce-del-' + c.id} onClick=${() => setRemoving(c)}>${t('ce.remove')}</button></td></tr>`)}</tbody>
    </table>` : html`<${Empty} text=${t('ce.none')} />`}
    ${saved ? html`<p id="ce-saved" role="status">${saved.removed ? t('ce.removed_done') : t('ce.saved')} ${saved.name} (${saved.id})</p>` : null}
    ${removing ? html`<${RemoveCentre} key=${removing.id} centre=${removing} onRemoved=${onRemoved} onCancel=${() => setRemoving(null)} />` : null}
    <${CentreForm} key=${editing ? editing.id : 'new'} centres=${centres} editing=${editing} onSaved=${onSaved} />
    ${editing ? html`<button type="button" onClick=${() => setEditing(null)}>${t('ce.add')}</button>` : null}
    <${Departments} centres=${centres} tick=${tick} />
    <${History} tick=${tick} />
  </section>`;
}
