// The actions the caller's role may take on a case now — only those the API lists in `allowed_actions`
// (the permission table) — each with the data it requires; a refusal is shown in the API's words.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { html } from '../ui.js';

const REASON = new Set(['refute', 'request_return', 'reject_request', 'check_fail', 'suspend', 'cancel', 'request_postpone',
  'escalate', 'transfer']);
const NOTE_REQUIRED = new Set(['self_handle', 'dispose', 'instruct']);
const PHOTO = new Set(['dispose', 'self_handle', 'confirm', 'refute', 'check_pass', 'check_fail']);
const UNITS = ['hours', 'days', 'working_hours', 'working_days'];

async function upload(file) {
  const form = new FormData();
  form.append('file', file);
  return (await api('/media', { method: 'POST', form })).id;
}

function ActionForm({ action, c, departments, onDone, onCancel }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [centres, setCentres] = useState([]);
  useEffect(() => {  // 转办: the centres a case may go to (levels, docs/centres.md)
    if (action === 'transfer') api('/centres').then((all) => setCentres(all.filter((x) => x.id !== c.centre_id)), setError);
  }, [action, c.centre_id]);
  const id = (name) => `act-${action}-${name}`;
  async function submit(e) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const body = {};
    const text = (k) => { const v = (f.get(k) || '').trim(); if (v) body[k] = v; };
    text('note');
    if (REASON.has(action)) text('reason');
    if (action === 'file') { text('category_code'); text('disposal_class'); text('grid_cell_code'); }
    if (action === 'dispatch') text('department_id');
    if (action === 'transfer') text('centre_id');
    if (action === 'close') text('close_type');
    if (action === 'request_postpone') body.extension = { amount: Number(f.get('amount')), unit: f.get('unit') };
    setBusy(true);
    setError(null);
    try {
      const photo = f.get('photo');
      if (photo && photo.size) body.media_ids = [await upload(photo)];
      await api(`/cases/${c.id}/${action.replaceAll('_', '-')}`, { method: 'POST', body });
      onDone(action);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return html`<form class="action-form" onSubmit=${submit} data-action=${action} aria-label=${t('action.' + action)}>
    <h4>${t('action.' + action)}</h4>
    ${action === 'file' ? html`
      <label for=${id('cat')}>${t('category')}<input id=${id('cat')} name="category_code" defaultValue=${c.category_code} pattern="[CE][0-9]{4}" /></label>
      <label for=${id('class')}>${t('disposal_class')}<select id=${id('class')} name="disposal_class">
        <option value="">${t('all')}</option>${['A', 'B', 'C', 'D', 'E', 'F'].map((x) => html`<option value=${x} selected=${c.disposal_class === x}>${x}</option>`)}</select></label>
      <label for=${id('cell')}>${t('cell')}<input id=${id('cell')} name="grid_cell_code" defaultValue=${c.grid_cell_code || ''} pattern="[0-9]{14,15}" /></label>` : null}
    ${action === 'dispatch' ? html`
      <label for=${id('dept')}>${t('department')}<select id=${id('dept')} name="department_id" required>
        ${departments.map((d) => html`<option value=${d.id} selected=${d.id === c.suggested_department_id}>
          ${d.name}${d.id === c.suggested_department_id ? ` (${t('suggested')})` : ''}</option>`)}</select></label>` : null}
    ${action === 'transfer' ? html`
      <label for=${id('centre')}>${t('centre')}<select id=${id('centre')} name="centre_id" required>
        ${centres.map((x) => html`<option value=${x.id}>${x.name}</option>`)}</select></label>` : null}
    ${action === 'request_postpone' ? html`
      <label for=${id('amount')}>${t('amount')}<input id=${id('amount')} name="amount" type="number" min="0.5" step="0.5" defaultValue="1" required /></label>
      <label for=${id('unit')}>${t('unit')}<select id=${id('unit')} name="unit">${UNITS.map((u) => html`<option value=${u}>${t('unit.' + u)}</option>`)}</select></label>` : null}
    ${action === 'close' ? html`
      <label for=${id('ctype')}>${t('close_type')}<select id=${id('ctype')} name="close_type">
        <option value="">${t('all')}</option><option value="normal">normal</option><option value="overdue">overdue</option><option value="special">special</option></select></label>` : null}
    ${REASON.has(action) ? html`<label for=${id('reason')}>${t('reason')}<textarea id=${id('reason')} name="reason" required maxlength="2000"></textarea></label>` : null}
    <label for=${id('note')}>${t('note')}<textarea id=${id('note')} name="note" required=${NOTE_REQUIRED.has(action)} maxlength="2000"></textarea></label>
    ${PHOTO.has(action) ? html`<label for=${id('photo')}>${t('photo')}<input id=${id('photo')} name="photo" type="file" accept="image/jpeg,image/png,image/webp" /></label>` : null}
    <div class="row">
      <button type="submit" disabled=${busy}>${t('submit')}</button>
      <button type="button" class="link" onClick=${onCancel}>${t('cancel_btn')}</button>
    </div>
    ${error ? html`<div class="error" role="alert">${t('refused')}: ${error.message}</div>` : null}
  </form>`;
}

export function ActionPanel({ c, departments, onDone }) {
  const [open, setOpen] = useState(null);
  const [done, setDone] = useState(null);
  // The API lists what the role may do in this state; a dispatcher's answers to a department's request
  // make sense only while one is pending (the API would refuse them with 409 otherwise).
  const needs = { approve_return: 'return', approve_postpone: 'postpone', reject_request: true };
  const actions = (c.allowed_actions || []).filter((a) => !(a in needs)
    || (needs[a] === true ? Boolean(c.pending) : c.pending === needs[a]));
  return html`<div class="actions" aria-label=${t('actions')} role="group">
    <h3>${t('actions')}</h3>
    ${actions.length === 0 ? html`<p class="empty" data-testid="no-actions">${t('no_actions')}</p>` : null}
    <div class="action-buttons">
      ${actions.map((a) => html`<button type="button" class=${open === a ? 'active' : ''} data-action=${a}
        onClick=${() => { setOpen(a); setDone(null); }}>${t('action.' + a)}</button>`)}
    </div>
    ${open && actions.includes(open) ? html`<${ActionForm} key=${open} action=${open} c=${c} departments=${departments}
      onCancel=${() => setOpen(null)} onDone=${(a) => { setOpen(null); setDone(a); onDone(); }} />` : null}
    ${done ? html`<p class="ok" role="status">${t('action.' + done)} · ${t('done')}</p>` : null}
  </div>`;
}
