// Duplicates before filing (docs/open311.md, "Duplicates"): once a form knows the category and the point, the open
// cases of that category within the rule pack's radius and window are offered (GET /duplicates), nearest first;
// the operator links the report to one (POST /duplicates/{id}/link) or files it as new. Used by the call, instruction
// and transfer forms (the point picked or the geocoding suggestion chosen) and the capture form (the camera's point).
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { fmtTime, t } from '../i18n.js';
import { html } from '../ui.js';

export function useDuplicates(category, place) {
  const [found, setFound] = useState([]);
  const lon = place ? place.lon : null;
  const lat = place ? place.lat : null;
  useEffect(() => {
    if (!category || lon == null || lat == null) { setFound([]); return undefined; }
    let alive = true;
    api(`/duplicates?${new URLSearchParams({ category_code: category, lon, lat })}`)
      .then((list) => alive && setFound(list), () => alive && setFound([]));
    return () => { alive = false; };
  }, [category, lon, lat]);
  return found;
}

/** Link a report to the case `d` it repeats; the filed-result the forms show (the case as it is now). */
export async function linkTo(d, body) {
  await api(`/duplicates/${d.case_id}/link`, { method: 'POST', body });
  return { linked: true, case: { id: d.case_id, case_no: d.case_no, state: d.state, source: null,
    grid_cell_code: null, ...(await api(`/cases/${d.case_id}`).catch(() => ({}))) } };
}

export function Duplicates({ found, onLink, busy }) {
  if (!found.length) return null;
  return html`<section class="duplicates" aria-labelledby="dup-title">
    <h3 id="dup-title">${t('in.duplicates')}</h3>
    <p class="small">${t('in.duplicates_hint')}</p>
    <ul>${found.map((d) => html`<li key=${d.case_id} data-case=${d.case_id}>
      <strong>${d.case_no}</strong> · ${t('state.' + d.state)} · ${Math.round(d.distance_m)} m · ${fmtTime(d.reported_at)}
      ${d.description ? html`<div class="small">${d.description}</div>` : null}
      <span class="small">${t('in.callers')}: ${d.callers}</span>
      <button type="button" class="small link-case" disabled=${busy} onClick=${() => onLink(d)}>${t('in.link')}</button>
    </li>`)}</ul>
  </section>`;
}
