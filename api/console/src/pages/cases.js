// The case board: filters, the list with each case's time-limit light, the detail with its timeline and
// evidence, and exactly the actions the logged-in role may take now (`allowed_actions` from the API).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { feed } from '../feed.js';
import { fmtTime, t } from '../i18n.js';
import { Empty, ErrorBox, html, Light, Select, useLoad } from '../ui.js';
import { ActionPanel } from './actions.js';
import { Evidence } from './evidence.js';
import { sourceName, useSources } from '../sources.js';

const STATES = ['reported', 'verifying', 'filed', 'dispatched', 'disposing', 'disposed', 'checking', 'closed', 'suspended', 'cancelled'];
const PAGE = 20;

function parseArg(arg) {
  const [id, query] = (arg || '').split('?');
  return { caseId: id || null, query: new URLSearchParams(query || '') };
}

export function CasesPage({ user, arg }) {
  const { caseId, query } = parseArg(arg);
  const [filters, setFilters] = useState(() => ({
    state: null, source: null, category_code: null, cell_prefix: query.get('cell_prefix'), department_id: null, overdue: false,
  }));
  const [applied, setApplied] = useState(filters);
  const [cursor, setCursor] = useState(null);
  const [tick, setTick] = useState(0);
  const [departments] = useLoad(() => api('/departments'), []);
  const [sources] = useSources();
  const [list, error, loading] = useLoad(() => {
    const p = new URLSearchParams({ limit: PAGE });
    for (const [k, v] of Object.entries(applied)) if (v) p.set(k, v === true ? 'true' : v);
    if (cursor) p.set('cursor', cursor);
    return api(`/cases?${p}`);
  }, [applied, cursor, tick]);

  // Refresh the board when a case event arrives (debounced).
  useEffect(() => {
    let timer = null;
    const off = feed.subscribe((_f, entry) => {
      if (entry && entry.kind === 'case_event' && !timer) timer = setTimeout(() => { timer = null; setTick((x) => x + 1); }, 800);
    });
    return () => { off(); clearTimeout(timer); };
  }, []);

  const set = (k) => (v) => setFilters({ ...filters, [k]: v });
  const deptName = (id) => ((departments || []).find((d) => d.id === id) || {}).name || id;
  function search(e) {
    e.preventDefault();
    setCursor(null);
    setApplied({ ...filters });
  }

  return html`<div class="cases-page">
    <section class="board" aria-labelledby="board-title">
      <h1 id="board-title">${t('cases')}</h1>
      <form class="filters" onSubmit=${search}>
        <${Select} id="f-state" label=${t('state')} value=${filters.state} onChange=${set('state')} includeAll
          options=${STATES.map((s) => [s, t('state.' + s)])} />
        <${Select} id="f-source" label=${t('source')} value=${filters.source} onChange=${set('source')} includeAll
          options=${sources.map((s) => [s.code, sourceName(sources, s.code)])} />
        <label for="f-category">${t('category')}<input id="f-category" value=${filters.category_code || ''} placeholder="E01 / C0102"
          pattern="[CE][0-9]{2}([0-9]{2})?" onInput=${(e) => set('category_code')(e.currentTarget.value || null)} /></label>
        <label for="f-cell">${t('cell_prefix')}<input id="f-cell" value=${filters.cell_prefix || ''} inputmode="numeric" pattern="[0-9]{1,15}"
          onInput=${(e) => set('cell_prefix')(e.currentTarget.value || null)} /></label>
        ${user.role !== 'department' ? html`<${Select} id="f-dept" label=${t('department')} value=${filters.department_id}
          onChange=${set('department_id')} includeAll options=${(departments || []).map((d) => [d.id, d.name])} />` : null}
        <label for="f-overdue" class="check"><input type="checkbox" id="f-overdue" checked=${filters.overdue}
          onChange=${(e) => set('overdue')(e.currentTarget.checked)} /> ${t('overdue')}</label>
        <button type="submit">${t('search')}</button>
      </form>
      <${ErrorBox} error=${error} />
      ${list && list.items.length === 0 ? html`<${Empty} />` : null}
      ${list && list.items.length ? html`<table class="case-list">
        <caption class="sr-only">${t('cases')}</caption>
        <thead><tr><th scope="col">${t('light')}</th><th scope="col">${t('case_no')}</th><th scope="col">${t('state')}</th>
          <th scope="col">${t('category')}</th><th scope="col">${t('source')}</th><th scope="col">${t('cell')}</th>
          <th scope="col">${t('department')}</th><th scope="col">${t('reported_at')}</th><th scope="col">${t('deadline')}</th></tr></thead>
        <tbody>${list.items.map((c) => html`<tr key=${c.id} class=${c.id === caseId ? 'selected' : ''} data-case=${c.id} data-state=${c.state}>
          <td class="light-cell" data-light=${c.light || ''} data-step=${c.light_step || ''}><${Light} light=${c.light} />${c.light_step ? html` <span class="small">${t('step.' + c.light_step)}</span>` : null}</td>
          <td><a href=${'#/cases/' + c.id}>${c.case_no || c.id.slice(0, 8)}</a></td>
          <td>${t('state.' + c.state)}</td><td>${c.category_name || ''} <span class="code">${c.category_code}</span></td>
          <td>${sourceName(sources, c.source)}</td><td class="code">${c.grid_cell_code || (c.unlocated ? html`<span class="unlocated-flag">${t('in.tab.unlocated')}</span>` : '—')}</td><td>${c.department_id ? deptName(c.department_id) : '—'}</td>
          <td>${fmtTime(c.reported_at)}</td><td>${fmtTime(c.disposal_deadline)}</td></tr>`)}</tbody>
      </table>` : null}
      <div class="pager">
        ${cursor ? html`<button type="button" class="small" onClick=${() => setCursor(null)}>⟲</button>` : null}
        ${list && list.next_cursor ? html`<button type="button" class="small" onClick=${() => setCursor(list.next_cursor)}>${t('more')} →</button>` : null}
        ${loading ? html`<span class="small">${t('loading')}</span>` : null}
      </div>
    </section>
    <${CaseDetail} key=${caseId} caseId=${caseId} user=${user} departments=${departments || []}
      onChanged=${() => setTick((x) => x + 1)} />
  </div>`;
}

function CaseDetail({ caseId, user, departments, onChanged }) {
  const [sources] = useSources();
  const [tick, setTick] = useState(0);
  const [c, error] = useLoad(() => (caseId ? api(`/cases/${caseId}`) : Promise.resolve(null)), [caseId, tick]);
  const ref = useRef(null);
  useEffect(() => {
    if (!caseId) return undefined;
    return feed.subscribe((_f, entry) => {
      if (entry && entry.kind === 'case_event' && entry.data.case_id === caseId) setTick((x) => x + 1);
    });
  }, [caseId]);
  if (!caseId) return html`<section class="detail" aria-label=${t('details')}><p class="empty">${t('select_case')}</p></section>`;
  if (error) return html`<section class="detail" aria-label=${t('details')}><${ErrorBox} error=${error} /></section>`;
  if (!c) return html`<section class="detail" aria-label=${t('details')}><p class="empty">${t('loading')}</p></section>`;
  const dept = (id) => (departments.find((d) => d.id === id) || {}).name || id;
  return html`<section class="detail" ref=${ref} aria-labelledby="case-title" data-case=${c.id} data-state=${c.state}>
    <h2 id="case-title"><${Light} light=${c.light} /> ${c.case_no || c.id.slice(0, 8)} · ${c.category_name || c.category_code}
      <span class="state-tag">${t('state.' + c.state)}</span></h2>
    <dl class="facts">
      <dt>${t('source')}</dt><dd>${sourceName(sources, c.source)}</dd>
      <dt>${t('category')}</dt><dd>${c.category_code} ${c.disposal_class ? '· ' + c.disposal_class : ''}</dd>
      <dt>${t('cell')}</dt><dd class="code">${c.grid_cell_code || '—'}</dd>
      <dt>${t('department')}</dt><dd>${c.department_id ? dept(c.department_id) : '—'}</dd>
      <dt>${t('reported_at')}</dt><dd>${fmtTime(c.reported_at)}</dd>
      <dt>${t('deadline')}</dt><dd>${fmtTime(c.disposal_deadline)}</dd>
      ${c.address ? html`<dt>${t('address')}</dt><dd>${c.address}</dd>` : null}
      <${Place} c=${c} />
      ${c.description ? html`<dt>${t('description')}</dt><dd>${c.description}</dd>` : null}
    </dl>
    <${ActionPanel} c=${c} user=${user} departments=${departments}
      onDone=${() => { setTick((x) => x + 1); onChanged(); }} />
    <${StepClocks} caseId=${c.id} version=${c.version} />
    <h3>${t('timeline')}</h3>
    <ol class="timeline">${c.timeline.map((e) => html`<li key=${e.seq}>
      <time>${fmtTime(e.at)}</time> <strong>${t('action.' + e.action)}</strong> → ${t('state.' + e.to_state)}${' '}
      <span class="small">${e.actor || ''}${e.role ? ' (' + t('role.' + e.role) + ')' : ''}</span>
      ${e.note ? html`<div class="small">${e.note}</div>` : null}</li>`)}</ol>
    <h3>${t('evidence')}</h3>
    <${Evidence} items=${c.evidence} />
  </section>`;
}

// Where the case is beside its facts: unlocated (not filed nor dispatched until an operator places it, in the
// intake screen's list), or the reverse geocoding of its point (the API's `nearest`: address, road, cell).
function Place({ c }) {
  if (c.unlocated) {
    return html`<dt>${t('cd.place')}</dt><dd class="unlocated-flag" data-unlocated="true">${t('cd.unlocated')}${' '}
      <a href="#/intake/unlocated">${t('cd.go_place')}</a></dd>`;
  }
  const n = c.nearest;
  if (!n) return null;
  const far = (m) => (m == null ? '' : ` (${Math.round(m)} m)`);
  return html`<dt>${t('cd.nearest')}</dt><dd class="nearest" data-address=${n.address || ''} data-cell=${n.grid_cell_code || ''}>
    ${n.address ? n.address + far(n.address_distance_m) : t('cd.no_address')}
    ${n.road && n.road !== n.address ? html`<span class="small"> · ${t('cd.road')} ${n.road}${far(n.road_distance_m)}</span>` : null}
    <span class="small code"> · ${t('cd.point_cell')} ${n.grid_cell_code || t('in.no_cell')}</span></dd>`;
}

// Each step's clock (GET /cases/{id}/step-deadlines): started, due, done, status and light, by the limits of the
// rules version the case was filed under. Read again when the case changes (its version) and every half minute.
function StepClocks({ caseId, version }) {
  const [tick, setTick] = useState(0);
  useEffect(() => { const id = setInterval(() => setTick((x) => x + 1), 30000); return () => clearInterval(id); }, []);
  const [clocks, error] = useLoad(() => api(`/cases/${caseId}/step-deadlines`), [caseId, version, tick]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!clocks || clocks.steps.length === 0) return null;
  return html`<h3>${t('step_clocks')}</h3>
    <table class="step-clocks"><caption class="sr-only">${t('step_clocks')}</caption>
      <thead><tr><th scope="col">${t('light')}</th><th scope="col">${t('step')}</th><th scope="col">${t('started_at')}</th>
        <th scope="col">${t('step_deadline')}</th><th scope="col">${t('ended_at')}</th><th scope="col">${t('state')}</th></tr></thead>
      <tbody>${clocks.steps.map((s) => html`<tr key=${s.step + s.started_at} data-step=${s.step} data-status=${s.status}>
        <td>${s.status === 'running' ? html`<${Light} light=${s.light} />` : null}</td><td>${t('step.' + s.step)}</td>
        <td>${fmtTime(s.started_at)}</td><td>${fmtTime(s.deadline)}</td><td>${fmtTime(s.ended_at)}</td>
        <td>${t('clock.' + s.status)}${s.status === 'running' ? ` · ${Math.round(s.share_used * 100)}%` : ''}</td></tr>`)}</tbody>
    </table>`;
}
