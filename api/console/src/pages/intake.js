// The intake screen (受理): the operator's forms for what reaches the supervision centre besides inspectors'
// reports — a 12319/12345 call, a leader's instruction (领导批示), a transfer from another body (转办) and a capture
// from a camera's snapshot (视频抓拍, pages/intake-capture.js) — and the cases waiting for a place. Before any of
// them is filed, the open cases it may repeat are offered (GET /duplicates, pages/intake-duplicates.js): link the
// report to one (the caller, leader or transferring body kept on it), or file as new. Every form files through the API's case service (POST /cases/calls,
// /intake/instructions, /intake/transfers).
import './intake.css';
import { useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { fmtTime, t } from '../i18n.js';
import { sourceName, useSources } from '../sources.js';
import { Empty, ErrorBox, html, useLoad } from '../ui.js';
import { CaptureForm } from './intake-capture.js';
import { CategoryField, Filed, PlaceField } from './intake-place.js';
import { Duplicates, linkTo, useDuplicates } from './intake-duplicates.js';

const NO_PLACE = { address: '', lon: null, lat: null, cell: null, score: null };
const TABS = [
  { id: 'call', roles: ['operator', 'admin'] },
  { id: 'instruction', roles: ['operator', 'leader', 'admin'] },
  { id: 'transfer', roles: ['operator', 'admin'] },
  { id: 'capture', roles: ['operator', 'admin'] },
  { id: 'unlocated', roles: ['operator', 'shift_leader', 'admin'] },
];

async function uploadAll(files) {
  const ids = [];
  for (const file of files || []) {
    const form = new FormData();
    form.append('file', file);
    ids.push((await api('/media', { method: 'POST', form })).id);
  }
  return ids;
}

function placeBody(place) {
  const body = {};
  if (place.address) body.address = place.address;
  if (place.lon != null && place.lat != null) { body.lon = place.lon; body.lat = place.lat; }
  return body;
}

function CallForm() {
  const [caller, setCaller] = useState({ name: '', phone: '', callback: false });
  const [place, setPlace] = useState(NO_PLACE);
  const [category, setCategory] = useState(null);
  const [description, setDescription] = useState('');
  const [files, setFiles] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [result, setResult] = useState(null);
  const found = useDuplicates(category, place);
  function reset() {
    setCaller({ name: '', phone: '', callback: false }); setPlace(NO_PLACE); setCategory(null); setDescription(''); setFiles(null);
  }
  async function run(fn) {
    setBusy(true); setError(null); setResult(null);
    try { setResult(await fn()); reset(); } catch (err) { setError(err); } finally { setBusy(false); }
  }
  const file = (e) => {
    e.preventDefault();
    if (!category) { setError(new Error(t('in.need_category'))); return; }
    run(async () => ({ case: await api('/cases/calls', { method: 'POST', body: {
      caller_name: caller.name || null, caller_phone: caller.phone || null, callback: caller.callback,
      category_code: category, description, ...placeBody(place), media_ids: await uploadAll(files),
      client_ref: crypto.randomUUID() } }) }));
  };
  const link = (d) => run(async () => linkTo(d, {
    channel: 'hotline', caller_name: caller.name || null, caller_phone: caller.phone || null,
    callback: caller.callback, description: description || null, media_ids: await uploadAll(files) }));
  return html`<form class="intake-form" id="call-form" onSubmit=${file} aria-labelledby="call-title">
    <h2 id="call-title">${t('in.tab.call')}</h2>
    <fieldset><legend>${t('in.caller')}</legend>
      <label for="call-name">${t('in.caller_name')}<input id="call-name" value=${caller.name} maxlength="100"
        onInput=${(e) => setCaller({ ...caller, name: e.currentTarget.value })} /></label>
      <label for="call-phone">${t('in.phone')}<input id="call-phone" value=${caller.phone} maxlength="40" inputmode="tel"
        onInput=${(e) => setCaller({ ...caller, phone: e.currentTarget.value })} /></label>
      <label for="call-callback" class="check"><input type="checkbox" id="call-callback" checked=${caller.callback}
        onChange=${(e) => setCaller({ ...caller, callback: e.currentTarget.checked })} /> ${t('in.callback')}</label>
    </fieldset>
    <${PlaceField} idPrefix="call" value=${place} onChange=${setPlace} />
    <${CategoryField} idPrefix="call" value=${category} onChange=${setCategory} />
    <label for="call-description" class="wide">${t('description')}<textarea id="call-description" required maxlength="2000"
      rows="3" value=${description} onInput=${(e) => setDescription(e.currentTarget.value)}></textarea></label>
    <label for="call-photos">${t('photo')}<input id="call-photos" type="file" multiple accept="image/jpeg,image/png,image/webp"
      onChange=${(e) => setFiles([...e.currentTarget.files])} /></label>
    <${Duplicates} found=${found} onLink=${link} busy=${busy} />
    <div class="row"><button type="submit" id="call-submit" disabled=${busy}>${found.length ? t('in.file_as_new') : t('in.file')}</button></div>
    <${ErrorBox} error=${error} />
    <${Filed} result=${result} />
  </form>`;
}

// The instruction and transfer forms: their own fields, then the place and category; the open cases they may repeat
// are offered as in the call form, and a link keeps the leader, or the body with its reference, on that case
// (`linkBody`, POST /duplicates/{id}/link).
function SimpleForm({ kind, path, fields, toBody, linkBody }) {
  const [values, setValues] = useState({});
  const [place, setPlace] = useState(NO_PLACE);
  const [category, setCategory] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [result, setResult] = useState(null);
  const form = useRef(null);
  const found = useDuplicates(category, place);
  async function run(fn) {
    setBusy(true); setError(null); setResult(null);
    try { setResult(await fn()); setValues({}); setPlace(NO_PLACE); setCategory(null); } catch (err) { setError(err); } finally { setBusy(false); }
  }
  function submit(e) {
    e.preventDefault();
    if (!category) { setError(new Error(t('in.need_category'))); return; }
    run(async () => ({ case: await api(path, { method: 'POST', body: { ...toBody(values), category_code: category,
      ...placeBody(place), client_ref: kind === 'transfer' ? undefined : crypto.randomUUID() } }) }));
  }
  // The form's own required fields (the leader and the instruction; the body, its reference and the description)
  // are checked before a link as before filing.
  const link = (d) => form.current.reportValidity() && run(() => linkTo(d, linkBody(values)));
  const field = ([name, type, opts = {}]) => {
    const id = `${kind}-${name}`;
    const set = (v) => setValues({ ...values, [name]: v });
    if (type === 'checkbox') {
      return html`<label for=${id} class="check"><input type="checkbox" id=${id} checked=${!!values[name]}
        onChange=${(e) => set(e.currentTarget.checked)} /> ${t('in.' + name)}</label>`;
    }
    const input = type === 'textarea'
      ? html`<textarea id=${id} rows="3" required=${!!opts.required} maxlength="2000" value=${values[name] || ''}
          onInput=${(e) => set(e.currentTarget.value)}></textarea>`
      : html`<input id=${id} required=${!!opts.required} maxlength=${opts.max || 200} value=${values[name] || ''}
          onInput=${(e) => set(e.currentTarget.value)} />`;
    return html`<label for=${id} class=${type === 'textarea' ? 'wide' : ''}>${t('in.' + name)}${input}</label>`;
  };
  return html`<form class="intake-form" id=${kind + '-form'} ref=${form} onSubmit=${submit} aria-labelledby=${kind + '-title'}>
    <h2 id=${kind + '-title'}>${t('in.tab.' + kind)}</h2>
    <fieldset>${fields.map(field)}</fieldset>
    <${PlaceField} idPrefix=${kind} value=${place} onChange=${setPlace} />
    <${CategoryField} idPrefix=${kind} value=${category} onChange=${setCategory} />
    <${Duplicates} found=${found} onLink=${link} busy=${busy} />
    <div class="row"><button type="submit" id=${kind + '-submit'} disabled=${busy}>${found.length ? t('in.file_as_new') : t('in.file')}</button></div>
    <${ErrorBox} error=${error} />
    <${Filed} result=${result} />
  </form>`;
}

function Unlocated() {
  const [sources] = useSources();
  const [tick, setTick] = useState(0);
  const [list, error] = useLoad(() => api('/intake/unlocated'), [tick]);
  const [selected, setSelected] = useState(null);
  const [place, setPlace] = useState(NO_PLACE);
  const [busy, setBusy] = useState(false);
  const [placeError, setPlaceError] = useState(null);
  const [placed, setPlaced] = useState(null);
  async function submit() {
    setBusy(true); setPlaceError(null);
    try {
      setPlaced(await api(`/intake/unlocated/${selected.id}/place`, { method: 'POST', body: {
        lon: place.lon, lat: place.lat, address: place.address || null } }));
      setSelected(null); setPlace(NO_PLACE); setTick((x) => x + 1);
    } catch (err) { setPlaceError(err); } finally { setBusy(false); }
  }
  return html`<section class="unlocated" aria-labelledby="unlocated-title">
    <h2 id="unlocated-title">${t('in.tab.unlocated')}</h2>
    <p class="small">${t('in.unlocated_hint')}</p>
    <${ErrorBox} error=${error} />
    ${list && !list.length ? html`<${Empty} />` : null}
    ${list && list.length ? html`<table class="data"><caption class="sr-only">${t('in.tab.unlocated')}</caption>
      <thead><tr><th scope="col">${t('case_no')}</th><th scope="col">${t('source')}</th><th scope="col">${t('category')}</th>
        <th scope="col">${t('address')}</th><th scope="col">${t('reported_at')}</th><th scope="col"><span class="sr-only">${t('in.place')}</span></th></tr></thead>
      <tbody>${list.map((c) => html`<tr key=${c.id} data-case=${c.id} class=${selected && selected.id === c.id ? 'selected' : ''}>
        <td><a href=${'#/cases/' + c.id}>${c.case_no}</a></td><td>${sourceName(sources, c.source)}</td>
        <td>${c.category_name || c.category_code}</td><td>${c.address || '—'}</td><td>${fmtTime(c.reported_at)}</td>
        <td><button type="button" class="small choose" onClick=${() => { setSelected(c); setPlace(NO_PLACE); setPlaced(null); }}>${t('in.place')}</button></td></tr>`)}</tbody>
    </table>` : null}
    ${placed ? html`<p class="ok placed" role="status" data-case-id=${placed.case_id}>${t('in.placed')} · ${t('cell')} <span class="code">${placed.grid_cell_code}</span></p>` : null}
    ${selected ? html`<div class="place-panel">
      <p>${t('in.place_hint')} <strong>${selected.case_no}</strong> (${selected.address || '—'})</p>
      <${PlaceField} key=${selected.id} idPrefix="unlocated" value=${place} onChange=${setPlace} />
      <button type="button" id="place-submit" disabled=${busy || !place.cell} onClick=${submit}>${t('in.place_confirm')}</button>
      <${ErrorBox} error=${placeError} />
    </div>` : null}
  </section>`;
}

const FORMS = {
  call: () => html`<${CallForm} />`,
  instruction: () => html`<${SimpleForm} kind="instruction" path="/intake/instructions"
    fields=${[['leader', 'text', { required: true, max: 100 }], ['instruction', 'textarea', { required: true }]]}
    toBody=${(v) => ({ leader: v.leader, instruction: v.instruction })}
    linkBody=${(v) => ({ channel: 'leader', leader: v.leader, description: v.instruction })} />`,
  transfer: () => html`<${SimpleForm} kind="transfer" path="/intake/transfers"
    fields=${[['from_body', 'text', { required: true }], ['reference', 'text', { required: true, max: 100 }],
      ['contact_phone', 'text', { max: 40 }], ['callback', 'checkbox'], ['description', 'textarea', { required: true }]]}
    toBody=${(v) => ({ from_body: v.from_body, reference: v.reference, contact_phone: v.contact_phone || null,
      callback: !!v.callback, description: v.description })}
    linkBody=${(v) => ({ channel: 'transfer', from_body: v.from_body, reference: v.reference,
      caller_phone: v.contact_phone || null, callback: !!v.callback, description: v.description })} />`,
  capture: () => html`<${CaptureForm} />`,
  unlocated: () => html`<${Unlocated} />`,
};

export function IntakePage({ user, arg }) {
  const tabs = TABS.filter((x) => x.roles.includes(user.role));
  const current = tabs.find((x) => x.id === arg) || tabs[0];
  if (!current) return html`<section><${Empty} /></section>`;
  return html`<section class="intake-page">
    <h1>${t('intake')}</h1>
    <nav class="tabs" aria-label=${t('intake')}>${tabs.map((x) => html`<a href=${'#/intake/' + x.id} id=${'tab-' + x.id}
      class=${x.id === current.id ? 'active' : ''} aria-current=${x.id === current.id ? 'page' : undefined}>${t('in.tab.' + x.id)}</a>`)}</nav>
    <div key=${current.id}>${FORMS[current.id]()}</div>
  </section>`;
}
