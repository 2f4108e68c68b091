// Duplicates before a report is queued (docs/open311.md, "Duplicates"): online, once the category and the point
// are known, the phone asks GET /duplicates (as its inspector, HTTP Basic) for the open cases of that category
// within the rule pack's radius. The inspector links the report to one of them — its words, photos and voice
// notes become evidence on that case (POST /duplicates/{id}/link), nothing is queued — or reports it as new.
// Offline the question is not asked: the report is queued, and the case builder merges it into the open case of
// its category and cell if there is one.
import { useEffect, useState } from 'preact/hooks';
import { t } from './i18n.js';
import { apiGet, apiPost, upload } from './outbox.js';
import { html, metres } from './util.js';

const ASK_AGAIN_M = 10;  // the question is asked again when the point has moved this far

/** The open cases a report of `category` at `point` may repeat ([] while unknown or offline). */
export function useDuplicates(pairing, category, point, online) {
  const [found, setFound] = useState({ key: null, at: null, items: [] });
  const key = category && point && online ? category : null;
  useEffect(() => {
    if (!key) { setFound({ key: null, at: null, items: [] }); return undefined; }
    if (found.key === key && found.at && metres(found.at, point) < ASK_AGAIN_M) return undefined;
    let live = true;
    const at = { lon: point.lon, lat: point.lat };
    const query = new URLSearchParams({ category_code: category, lon: at.lon, lat: at.lat });
    apiGet(pairing, `/duplicates?${query}`).then((items) => { if (live) setFound({ key, at, items }); }, () => null);
    return () => { live = false; };
  }, [pairing, key, point?.lon, point?.lat]);
  return found.key === key ? found.items : [];
}

/** Link the report to `caseId`: its media uploaded first (idempotent, by SHA-256), then the link. */
export async function linkReport(pairing, caseId, { description, media }) {
  for (const m of media) if (!m.uploaded) await upload(pairing, m);
  return apiPost(pairing, `/duplicates/${caseId}/link`, {
    channel: 'inspector', description: description || null, media_ids: media.map((m) => m.id) });
}

export function Duplicates({ found, onLink, busy }) {
  if (!found.length) return null;
  return html`<section class="duplicates" id="hh-duplicates" aria-labelledby="hh-dup-title">
    <h2 id="hh-dup-title">${t('dup.title')}</h2>
    <p class="small">${t('dup.hint')}</p>
    <ul>${found.map((d) => html`<li key=${d.case_id} data-case=${d.case_id}>
      <span class="what">${d.case_no} · ${Math.round(d.distance_m)} ${t('metres')}</span>
      <span class="small">${d.description || ''}${d.address ? ` · ${d.address}` : ''}</span>
      <button type="button" class="button secondary hh-link" disabled=${busy} onClick=${() => onLink(d)}>
        ${t('dup.link')}</button>
    </li>`)}</ul>
  </section>`;
}
