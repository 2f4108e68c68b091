// Patrol: today's coverage per inspector (% of plan, passes per road class), the cell-visit heat map, and
// track playback of a device for a time range with a time slider.
import { Marker } from 'maplibre-gl';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, optional } from '../api.js';
import { cityLocalToIso, cityToday, fmtTime, isoToCityLocal, t } from '../i18n.js';
import { createCityMap, setCellValues } from '../mapbase.js';
import { Empty, ErrorBox, html, useLoad } from '../ui.js';

const EMPTY = { type: 'FeatureCollection', features: [] };

function ClassCell({ c }) {
  if (!c) return html`<td>—</td>`;
  return html`<td>${c.segments_met}/${c.segments} <span class="small">(${t('passes')} ≥ ${c.required_passes})</span></td>`;
}

export function PatrolPage({ user }) {
  const [day, setDay] = useState(cityToday());
  const [coverage, error] = useLoad(() => optional(`/patrol/coverage?day=${day}`, null), [day]);
  const [heat] = useLoad(() => optional(`/patrol/heatmap?day=${day}`, null), [day]);
  const [devices] = useLoad(async () => {
    if (user.role === 'inspector') return (coverage || []).map((r) => r.device_id).filter(Boolean);
    const lists = await Promise.all(['handheld', 'gps-tracker'].map((k) => api(`/devices?kind=${k}`).catch(() => [])));
    return lists.flat().map((d) => d.id);
  }, [coverage]);
  const [device, setDevice] = useState('');
  const [range, setRange] = useState(() => ({ start: `${cityToday()}T07:30`, end: isoToCityLocal(new Date().toISOString()) }));
  const [track, setTrack] = useState(null);
  const [trackError, setTrackError] = useState(null);
  const [pos, setPos] = useState(0);
  const container = useRef(null);
  const mapRef = useRef(null);
  const marker = useRef(null);

  useEffect(() => {
    let map;
    let alive = true;
    createCityMap(container.current).then((m) => {
      if (!alive) { m.remove(); return; }
      map = m;
      m.addSource('track', { type: 'geojson', data: EMPTY });
      m.addLayer({ id: 'track', type: 'line', source: 'track', paint: { 'line-color': '#c2185b', 'line-width': 3 } });
      mapRef.current = m;
      if (heat) setCellValues(m, null, Object.fromEntries(heat.map((r) => [r.grid_cell_code, r.visits])));
    }, setTrackError);
    return () => { alive = false; if (map) map.remove(); };
  }, []);

  useEffect(() => {
    const m = mapRef.current;
    if (m && heat) setCellValues(m, null, Object.fromEntries(heat.map((r) => [r.grid_cell_code, r.visits])));
  }, [heat]);

  async function loadTrack(e) {
    e.preventDefault();
    setTrackError(null);
    try {
      const p = new URLSearchParams({ start: cityLocalToIso(range.start), end: cityLocalToIso(range.end), max_points: 5000 });
      const f = await api(`/patrol/tracks/${encodeURIComponent(device)}?${p}`);
      setTrack(f);
      setPos(0);
      const m = mapRef.current;
      if (m && f.geometry) {
        m.getSource('track').setData(f);
        const coords = f.geometry.coordinates;
        const xs = coords.map((c) => c[0]);
        const ys = coords.map((c) => c[1]);
        m.fitBounds([[Math.min(...xs), Math.min(...ys)], [Math.max(...xs), Math.max(...ys)]], { padding: 40, duration: 0 });
      }
    } catch (err) { setTrackError(err); }
  }

  useEffect(() => {
    const m = mapRef.current;
    if (!m || !track || !track.geometry) return;
    const at = track.geometry.coordinates[Math.min(pos, track.geometry.coordinates.length - 1)];
    if (!marker.current) {
      const el = document.createElement('div');
      el.className = 'alarm-marker urgency-C';
      el.setAttribute('aria-hidden', 'true');
      marker.current = new Marker({ element: el });
    }
    marker.current.setLngLat(at).addTo(m);
  }, [track, pos]);

  const n = track && track.geometry ? track.geometry.coordinates.length : 0;
  return html`<section class="patrol-page">
    <h1>${t('patrol')}</h1>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <label for="p-day">${t('date')}<input id="p-day" type="date" value=${day} onChange=${(e) => setDay(e.currentTarget.value)} /></label>
    </form>
    <${ErrorBox} error=${error} />
    <div class="panel"><h2>${t('coverage')}</h2>
      ${coverage === null ? html`<p class="empty">${t('not_available')}</p>` : null}
      ${coverage && coverage.length === 0 ? html`<${Empty} />` : null}
      ${coverage && coverage.length ? html`<table class="data coverage-table">
        <caption class="sr-only">${t('coverage')}</caption>
        <thead><tr><th scope="col">${t('inspector')}</th><th scope="col">${t('grid')}</th><th scope="col">${t('plan_met')}</th>
          <th scope="col">${t('main')}</th><th scope="col">${t('secondary')}</th><th scope="col">${t('cells_visited')}</th>
          <th scope="col">${t('distance')}</th></tr></thead>
        <tbody>${coverage.map((r) => html`<tr data-inspector=${r.inspector_user_id}><td>${r.inspector_name}</td>
          <td>${r.responsibility_grid_id || '—'}</td><td><meter min="0" max="100" value=${r.plan_met_pct} aria-label=${t('plan_met')}></meter> ${r.plan_met_pct.toFixed(1)} %</td>
          <${ClassCell} c=${r.by_class.main} /><${ClassCell} c=${r.by_class.secondary} />
          <td>${r.cells_visited}</td><td>${(r.distance_m / 1000).toFixed(1)} km</td></tr>`)}</tbody></table>` : null}
    </div>
    <div class="panel"><h2>${t('playback')} · ${t('heatmap')}</h2>
      <form class="filters" onSubmit=${loadTrack}>
        <label for="p-device">${t('device')}<select id="p-device" value=${device} onChange=${(e) => setDevice(e.currentTarget.value)} required>
          <option value="">—</option>${(devices || []).map((d) => html`<option value=${d}>${d}</option>`)}</select></label>
        <label for="p-start">${t('start')}<input id="p-start" type="datetime-local" value=${range.start} onChange=${(e) => setRange({ ...range, start: e.currentTarget.value })} /></label>
        <label for="p-end">${t('end')}<input id="p-end" type="datetime-local" value=${range.end} onChange=${(e) => setRange({ ...range, end: e.currentTarget.value })} /></label>
        <button type="submit">${t('load')}</button>
        ${n ? html`<label for="p-slider" class="slider">${t('time')}: ${fmtTime(track.properties.times[pos])}
          <input id="p-slider" type="range" min="0" max=${n - 1} value=${pos} onInput=${(e) => setPos(Number(e.currentTarget.value))} /></label>
          <span class="small">${n} ${t('points')}</span>` : null}
      </form>
      <${ErrorBox} error=${trackError} />
      <div class="small-map"><div ref=${container} class="map" id="patrol-map" aria-label=${t('heatmap')}></div></div>
    </div>
  </section>`;
}
