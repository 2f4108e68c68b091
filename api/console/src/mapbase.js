// The city's own base map for MapLibre: cells, streets and responsibility grids from the API (no internet
// basemap), an optional raster tile URL (a Chinese provider, overlays then in GCJ-02), components as
// vector tiles from PostGIS. Every request to the API carries the login token (transformRequest).
import { Map as MlMap, NavigationControl, Popup, ScaleControl, setWorkerUrl } from 'maplibre-gl';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import { api, auth } from './api.js';
import { fmtTime, t } from './i18n.js';

setWorkerUrl(workerUrl);

const EMPTY = { type: 'FeatureCollection', features: [] };
let configPromise;
export function mapConfig() {
  configPromise = configPromise || api('/map/config');
  return configPromise;
}

function baseStyle(config) {
  const crs = config.overlay_crs;
  const sources = {
    cells: { type: 'geojson', data: EMPTY },
    grids: { type: 'geojson', data: EMPTY },
    streets: { type: 'geojson', data: EMPTY },
    components: {
      type: 'vector', minzoom: 12, maxzoom: 16,
      tiles: [`${location.origin}/map/tiles/components/{z}/{x}/{y}.pbf?crs=${crs}`],
    },
  };
  const layers = [{ id: 'background', type: 'background', paint: { 'background-color': '#f3f1ea' } }];
  if (config.tile_url) {
    sources.basemap = { type: 'raster', tiles: [config.tile_url], tileSize: 256 };
    layers.push({ id: 'basemap', type: 'raster', source: 'basemap' });
  }
  layers.push(
    { id: 'cells-fill', type: 'fill', source: 'cells', paint: {
      'fill-color': ['step', ['coalesce', ['get', 'value'], 0], '#e4ece0', 1, '#fde3a7', 3, '#f6a35b', 6, '#d9534f'],
      'fill-opacity': config.tile_url ? 0.35 : 0.75 } },
    { id: 'cells-line', type: 'line', source: 'cells', paint: { 'line-color': '#b4b9b0', 'line-width': 0.5 } },
    { id: 'streets-casing', type: 'line', source: 'streets', layout: { 'line-cap': 'round' }, paint: {
      'line-color': '#c8bfa8',
      'line-width': ['match', ['get', 'road_class'], 'main', 7, 'secondary', 4.5, 2.5] } },
    { id: 'streets', type: 'line', source: 'streets', layout: { 'line-cap': 'round' }, paint: {
      'line-color': '#ffffff',
      'line-width': ['match', ['get', 'road_class'], 'main', 5, 'secondary', 3, 1.2] } },
    { id: 'grids-line', type: 'line', source: 'grids', paint: {
      'line-color': '#2f5f98', 'line-width': 2, 'line-dasharray': [3, 2] } },
    { id: 'components', type: 'circle', source: 'components', 'source-layer': 'components', minzoom: 13, paint: {
      'circle-radius': ['interpolate', ['linear'], ['zoom'], 13, 1.5, 17, 4],
      'circle-color': ['match', ['get', 'state'], 'damaged', '#c0392b', 'missing', '#8e44ad', '#7a6a4f'],
      'circle-opacity': 0.8 } },
  );
  return { version: 8, sources, layers };
}

/** Create the map in `container`; resolves when the base layers have their data. */
export async function createCityMap(container, { onFirstRender } = {}) {
  const config = await mapConfig();
  performance.mark('map-config');
  const b = config.bounds || [116.9, 31.43, 116.98, 31.49];
  performance.mark('map-webgl-start');
  const map = new MlMap({
    container,
    style: baseStyle(config),
    bounds: [[b[0], b[1]], [b[2], b[3]]],
    fitBoundsOptions: { padding: 20 },
    attributionControl: false,
    transformRequest: (url) => (url.startsWith(`${location.origin}/`) && auth.token
      ? { url, headers: { Authorization: `Bearer ${auth.token}` } } : { url }),
  });
  performance.measure('map-webgl', 'map-webgl-start');  // the constructor: canvas, WebGL context, style parse
  map.once('load', () => performance.mark('map-style-loaded'));
  map.addControl(new NavigationControl({ showCompass: false }), 'top-left');
  map.addControl(new ScaleControl({ unit: 'metric' }), 'bottom-left');
  map.cgConfig = config;
  const crs = config.overlay_crs;
  const [cells, streets, grids] = await Promise.all([
    api(`/map/cells?crs=${crs}`), api(`/map/streets?crs=${crs}`), api(`/map/grids?crs=${crs}`),
  ]);
  performance.mark('map-data');
  map.cgCells = cells;
  await new Promise((resolve) => (map.loaded() ? resolve() : map.once('load', resolve)));
  setCellValues(map, 'open_cases');
  map.getSource('streets').setData(streets);
  map.getSource('grids').setData(grids);
  map.once('idle', () => {
    performance.mark('map-first-render');
    const entry = performance.getEntriesByName('map-first-render').pop();
    window.__cgMapFirstRenderMs = entry ? entry.startTime : null;
    // For benchmarks and tests: what the first render drew.
    window.__cgMapStats = () => ({
      zoom: map.getZoom(),
      components: new Set(map.querySourceFeatures('components', { sourceLayer: 'components' })
        .map((f) => f.properties.code)).size,
    });
    container.dataset.rendered = 'true';
    if (onFirstRender) onFirstRender(map);
  });
  return map;
}

/** Colour the cells by a property (`open_cases`), or by a {code: value} table (patrol visits). */
export function setCellValues(map, prop, table) {
  const cells = map.cgCells || EMPTY;
  for (const f of cells.features) {
    f.properties.value = table ? (table[f.properties.code] || 0) : (f.properties[prop] || 0);
  }
  map.getSource('cells').setData(cells);
}

export async function reloadCells(map) {
  map.cgCells = await api(`/map/cells?crs=${map.cgConfig.overlay_crs}`);
}

export function cellCenter(map, code) {
  const f = (map.cgCells || EMPTY).features.find((x) => x.properties.code === code);
  if (!f) return null;
  let xs = 0; let ys = 0; let n = 0;
  const ring = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0];
  for (const [x, y] of ring) { xs += x; ys += y; n += 1; }
  return n ? [xs / n, ys / n] : null;
}

const LABELS = {
  code: 'cell', open_cases: 'open_cases', grid: 'grids_layer', road_class: 'streets_layer', category: 'category',
  state: 'state', department: 'department', status: 'status', kind: 'kind', last_seen_at: 'last_seen',
  inspector: 'inspector', at: 'time', speed_mps: 'speed', id: 'name', name: 'name', device_id: 'device',
  visits: 'visits', value: null,
};

/** A popup listing a feature's properties (a DOM popup: no text rendering needs glyphs). */
export function featurePopup(map, lngLat, title, props, extra) {
  const root = document.createElement('div');
  root.className = 'feature-popup';
  const h = document.createElement('strong');
  h.textContent = title;
  root.appendChild(h);
  const dl = document.createElement('dl');
  for (const [k, v] of Object.entries(props)) {
    if (v === null || v === undefined || v === '' || LABELS[k] === null) continue;
    const dt = document.createElement('dt');
    dt.textContent = LABELS[k] ? t(LABELS[k]) : k;
    const dd = document.createElement('dd');
    dd.textContent = k.endsWith('_at') || k === 'at' ? fmtTime(v) : String(v);
    dl.append(dt, dd);
  }
  root.appendChild(dl);
  if (extra) root.appendChild(extra);
  return new Popup({ maxWidth: '320px' }).setLngLat(lngLat).setDOMContent(root).addTo(map);
}
