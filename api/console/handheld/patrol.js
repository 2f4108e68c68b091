// The patrol card (巡查): the inspector's plan for today and how much of it is covered so far, read over HTTPS with
// the device's own credentials (GET /handhelds/patrol) and kept on the phone for an offline start (docs/handheld.md).
import { t } from './i18n.js';
import { html } from './util.js';

const hhmm = (s) => (s || '').slice(0, 5);

/** Distance for the card: metres below a kilometre, else kilometres with one decimal. */
export function distance(m) {
  return m < 1000 ? `${Math.round(m)} ${t('metres')}` : `${(m / 1000).toFixed(1)} ${t('km')}`;
}

export function PatrolView({ patrol, error }) {
  if (!patrol) {
    return html`<section class="patrol" aria-label=${t('patrol')}><p class="empty">${error ? t('patrol.unknown') : '…'}</p></section>`;
  }
  const { plan, coverage: c } = patrol;
  const pct = c ? c.plan_met_pct : 0;
  const classes = c ? Object.entries(c.by_class || {}) : [];
  return html`<section class="patrol" aria-label=${t('patrol')} id="hh-patrol" data-day=${patrol.day}>
    ${plan ? html`<div class="card" id="hh-plan">
      <h2>${t('patrol.plan')} · ${patrol.day}</h2>
      <p>${t('patrol.window')} <strong>${hhmm(plan.window_start)}–${hhmm(plan.window_end)}</strong></p>
      <p class="small">${t('patrol.grid')} ${plan.responsibility_grid_id} · ${t('patrol.main')} ${plan.main_road_passes}
        ${t('patrol.times')} · ${t('patrol.secondary')} ${plan.secondary_road_passes} ${t('patrol.times')}</p>
    </div>` : html`<p class="empty" id="hh-no-plan">${t('patrol.no_plan')}</p>`}
    ${c ? html`<div class="card" id="hh-coverage" data-pct=${pct} data-updated=${c.updated_at || ''}>
      <h2>${t('patrol.coverage')}</h2>
      <div class="meter" role="meter" aria-valuemin="0" aria-valuemax="100" aria-valuenow=${pct}
        aria-label=${t('patrol.coverage')}><span style=${`width:${Math.min(100, pct)}%`}></span></div>
      <p class="big">${pct.toFixed(1)}%</p>
      <p>${t('patrol.segments')} <strong id="hh-segments">${c.segments_met}/${c.segments_required}</strong></p>
      ${classes.length ? html`<ul class="classes">${classes.map(([k, v]) => html`<li key=${k}>
        ${t('patrol.' + k)}: ${v.segments_met}/${v.segments}</li>`)}</ul>` : null}
      <p class="small">${t('patrol.walked')} ${distance(c.distance_m)} · ${t('patrol.cells')} ${c.cells_visited}
        ${c.updated_at ? ` · ${t('patrol.updated')} ${new Date(c.updated_at).toLocaleTimeString('zh-CN', { hour: '2-digit', minute: '2-digit' })}` : ''}</p>
    </div>` : null}
    ${error ? html`<p class="small">${t('patrol.stale')}</p>` : null}
  </section>`;
}
