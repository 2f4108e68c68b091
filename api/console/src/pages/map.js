// The map page: the city map with cells (open cases or today's patrol), grids, streets, components,
// devices by status, inspectors' live positions; live alarms pulse until acknowledged; the alarm feed.
import { Marker } from 'maplibre-gl';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, optional } from '../api.js';
import { feed } from '../feed.js';
import { cityToday, t } from '../i18n.js';
import { cellCenter, createCityMap, featurePopup, mapConfig, reloadCells, setCellValues } from '../mapbase.js';
import { ACKERS, FeedPanel } from './feedpanel.js';
import { ErrorBox, html } from '../ui.js';

const WATCHERS = ['operator', 'dispatcher', 'shift_leader', 'leader', 'admin'];
const CLICKABLE = ['devices', 'inspectors', 'components', 'streets', 'cells-fill'];
const TOGGLES = [
  ['cells-fill', 'cells_layer'], ['grids-line', 'grids_layer'], ['streets', 'streets_layer'],
  ['components', 'components_layer'], ['devices', 'devices_layer'], ['inspectors', 'inspectors_layer'],
];

// Devices and inspectors are drawn from the first render (their data comes with it, see `before` below).
const LIVE = {
  sources: {
    devices: { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
    inspectors: { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
  },
  layers: [
    { id: 'devices', type: 'circle', source: 'devices', paint: {
      'circle-radius': 5, 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 1.5,
      'circle-color': ['match', ['get', 'status'], 'alarm', '#d62728', 'online', '#2ca02c', 'disabled', '#333333', '#8c8c8c'],
    } },
    { id: 'inspectors', type: 'circle', source: 'inspectors', paint: {
      'circle-radius': 7, 'circle-color': '#1f5fbf', 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2,
    } },
  ],
};

export function MapPage({ user }) {
  const container = useRef(null);
  const mapRef = useRef(null);
  const devicesById = useRef(new Map());
  const markers = useRef(new Map());
  const [error, setError] = useState(null);
  const [colorBy, setColorBy] = useState('cases');
  const [visible, setVisible] = useState(Object.fromEntries(TOGGLES.map(([id]) => [id, true])));
  const watcher = WATCHERS.includes(user.role);

  function fetchDevices() {
    return mapConfig().then(({ overlay_crs: crs }) => Promise.all([api(`/map/devices?crs=${crs}`), api(`/map/inspectors?crs=${crs}`)]));
  }

  async function loadDevices(map, fetched) {
    if (!watcher) return;
    const [devices, inspectors] = await (fetched || fetchDevices());
    devicesById.current = new Map(devices.features.map((f) => [f.properties.id, f]));
    map.getSource('devices').setData(devices);
    map.getSource('inspectors').setData(inspectors);
  }

  function placeAlarm(map, entry) {
    const a = entry.data;
    if (entry.kind !== 'alarm' || a.action !== 'raise' || feed.acked.has(a.alarm_id) || markers.current.has(a.alarm_id)) return;
    const device = devicesById.current.get(a.device_id);
    const at = device ? device.geometry.coordinates : cellCenter(map, a.cell);
    if (!at) return false;
    const el = document.createElement('button');
    el.type = 'button';
    el.className = `alarm-marker urgency-${a.urgency || 'C'}`;
    el.dataset.device = a.device_id;
    el.dataset.alarm = a.alarm_id;
    el.setAttribute('aria-label', `${t('alarm')} ${a.device_id} ${a.rule}`);
    el.addEventListener('click', (ev) => {
      ev.stopPropagation();
      const ack = document.createElement('button');
      ack.type = 'button';
      ack.textContent = t('ack');
      ack.addEventListener('click', () => feed.ack(a.alarm_id));
      featurePopup(map, at, `${t('alarm')} · ${a.rule}`, { device_id: a.device_id, urgency: a.urgency, category: a.category,
        code: a.cell, at: a.at }, ACKERS.has(user.role) ? ack : null);
    });
    markers.current.set(a.alarm_id, new Marker({ element: el }).setLngLat(at).addTo(map));  // keyed by alarm id
    return true;
  }

  function syncMarkers(map) {
    for (const [id, m] of markers.current) {
      if (feed.acked.has(id)) { m.remove(); markers.current.delete(id); }
    }
    let missing = false;
    for (const entry of feed.entries) if (placeAlarm(map, entry) === false) missing = true;
    return missing;
  }

  useEffect(() => {
    let map;
    let alive = true;
    let timer = null;
    let needCells = false;
    let poll = null;
    let unsubscribe = () => {};
    // Asked at once, beside the map's own start (not after it): the first render shows them.
    const first = watcher ? fetchDevices() : null;
    first?.catch(() => {});
    const before = (m) => loadDevices(m, first).then(() => performance.mark('map-devices'), setError);
    createCityMap(container.current, { extra: watcher ? LIVE : null, before }).then(async (m) => {
      if (!alive) { m.remove(); return; }
      map = m;
      mapRef.current = m;
      await first?.catch(() => {});
      syncMarkers(m);
      m.on('click', (e) => {
        const layers = CLICKABLE.filter((id) => m.getLayer(id));
        const [f] = m.queryRenderedFeatures(e.point, { layers });
        if (!f) return;
        // Below zoom 15 a component's tile carries no code (api/queries/map.py): zoom in to where it does.
        if (f.layer.id === 'components' && !f.properties.code) {
          m.flyTo({ center: e.lngLat, zoom: Math.max(m.getZoom() + 2, 16) });
          return;
        }
        const title = { devices: t('device'), inspectors: t('inspector'), components: t('components_layer'),
          streets: t('streets_layer'), 'cells-fill': t('cell') }[f.layer.id];
        let extra;
        const props = f.layer.id === 'cells-fill'
          ? { ...f.properties, open_cases: m.cgOpenCases[f.properties.code] || 0 } : f.properties;
        if (f.layer.id === 'cells-fill' && props.open_cases > 0) {
          extra = document.createElement('a');
          extra.href = `#/cases?cell_prefix=${f.properties.code}`;
          extra.textContent = `${t('open_cases')} → ${t('cases')}`;
        }
        featurePopup(m, e.lngLat, title, props, extra);
      });
      for (const id of CLICKABLE) {
        m.on('mouseenter', id, () => { m.getCanvas().style.cursor = 'pointer'; });
        m.on('mouseleave', id, () => { m.getCanvas().style.cursor = ''; });
      }
      // Inspectors move and devices go quiet without any feed event: poll their layer too.
      poll = setInterval(() => loadDevices(m).catch(() => {}), 30000);
      // New alarms and case events: pulse the alarm now; refresh counts and statuses shortly after.
      unsubscribe = feed.subscribe(async (_f, entry) => {
        if (syncMarkers(m) && entry) {
          await loadDevices(m).catch(() => {});
          syncMarkers(m);
        }
        if (entry && entry.kind === 'case_event') needCells = true;  // open-case counts move with case events
        if (entry && !timer) {
          timer = setTimeout(async () => {
            timer = null;
            try {
              if (needCells) {
                needCells = false;
                await reloadCells(m);
                if (m.cgColorBy !== 'coverage') setCellValues(m, 'open_cases');
              }
              await loadDevices(m);
            } catch { /* shown on the next user action */ }
            // Every source update redraws the WebGL canvas (costly in software GL): in an alarm storm the
            // pulsing markers show each alarm at once, device colours follow every few seconds.
          }, entry.kind === 'case_event' ? 1500 : 5000);
        }
      });
    }, setError);
    return () => {
      alive = false;
      unsubscribe();
      clearTimeout(timer);
      clearInterval(poll);
      markers.current.clear();
      if (map) map.remove();
    };
  }, []);

  async function changeColor(mode) {
    setColorBy(mode);
    const m = mapRef.current;
    if (!m) return;
    m.cgColorBy = mode;
    if (mode === 'coverage') {
      const rows = await optional(`/patrol/heatmap?day=${cityToday()}`, []);
      setCellValues(m, null, Object.fromEntries((rows || []).map((r) => [r.grid_cell_code, r.visits])));
    } else {
      setCellValues(m, 'open_cases');
    }
  }

  function toggle(id) {
    const next = { ...visible, [id]: !visible[id] };
    setVisible(next);
    const m = mapRef.current;
    if (!m) return;
    const ids = id === 'streets' ? ['streets', 'streets-casing'] : [id];
    for (const layer of ids) if (m.getLayer(layer)) m.setLayoutProperty(layer, 'visibility', next[id] ? 'visible' : 'none');
  }

  return html`<div class="map-page">
    <section class="map-wrap" aria-label=${t('map')}>
      <div ref=${container} class="map" id="city-map"></div>
      <fieldset class="layers">
        <legend>${t('layers')}</legend>
        ${TOGGLES.filter(([id]) => watcher || !['devices', 'inspectors'].includes(id)).map(([id, label]) => html`
          <label for=${'layer-' + id}><input type="checkbox" id=${'layer-' + id} checked=${visible[id]} onChange=${() => toggle(id)} /> ${t(label)}</label>`)}
        <label for="color-by">${t('color_by')}
          <select id="color-by" value=${colorBy} onChange=${(e) => changeColor(e.currentTarget.value)}>
            <option value="cases">${t('by_cases')}</option>
            <option value="coverage">${t('by_coverage')}</option>
          </select></label>
        <p class="hint">${t('click_for_details')}</p>
      </fieldset>
      <${ErrorBox} error=${error} />
    </section>
    <${FeedPanel} canAck=${ACKERS.has(user.role)} onLocate=${(entry) => {
      const m = mapRef.current;
      if (!m) return;
      const d = devicesById.current.get(entry.data.device_id);
      const at = d ? d.geometry.coordinates : cellCenter(m, entry.data.cell);
      if (at) m.flyTo({ center: at, zoom: Math.max(m.getZoom(), 16) });
    }} />
  </div>`;
}
