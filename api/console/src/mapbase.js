// The city's own base map for MapLibre: cells, streets and components as vector tiles from PostGIS, the
// responsibility grids as GeoJSON (no internet basemap), an optional raster tile URL (a Chinese provider,
// overlays then in GCJ-02). Every request to the API carries the login token (transformRequest).
// The first render fetches only what the view needs, off the main thread (MapLibre's worker fetches and
// parses the tiles and the grids); cell colours are feature states keyed by cell code, so a new count or a
// patrol heat table repaints without re-sending any geometry. docs/performance.md, "Map first render".
import 'maplibre-gl/dist/maplibre-gl.css';
import { Map as MlMap, NavigationControl, Popup, ScaleControl, prewarm, setWorkerUrl } from 'maplibre-gl';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import { api, auth, authHeaders } from './api.js';
import { fmtTime, t } from './i18n.js';
import { mapConfig } from './mapconfig.js';

setWorkerUrl(workerUrl);
prewarm();  // start the worker (half a megabyte of JavaScript to fetch and parse) while /map/config is asked

export { mapConfig };
const CELLS = { source: 'city', sourceLayer: 'cells' };

function cityTiles(crs) {
  return `${location.origin}/map/tiles/cells,streets,components/{z}/{x}/{y}.pbf?crs=${crs}`;
}

/**
 * Ask for the view's city tiles now, into the browser's cache: MapLibre's worker is still starting (half a
 * megabyte of JavaScript) and would ask for them only then; its requests for the same URLs are answered from
 * these. The tiles of a vector source at map zoom z are those of zoom floor(z).
 */
function prefetchTiles(map, template, minzoom, maxzoom) {
  const z = Math.floor(map.getZoom());
  if (z < minzoom) return;
  const tz = Math.min(z, maxzoom);
  const n = 2 ** tz;
  const b = map.getBounds();
  const col = (lon) => Math.max(0, Math.min(n - 1, Math.floor(((lon + 180) / 360) * n)));
  const row = (lat) => Math.max(0, Math.min(n - 1, Math.floor(((1 - Math.asinh(Math.tan((lat * Math.PI) / 180)) / Math.PI) / 2) * n)));
  const [x0, x1, y0, y1] = [col(b.getWest()), col(b.getEast()), row(b.getNorth()), row(b.getSouth())];
  if ((x1 - x0 + 1) * (y1 - y0 + 1) > 36) return;  // a view this large is not a first view of a city
  for (let x = x0; x <= x1; x += 1) {
    for (let y = y0; y <= y1; y += 1) {
      fetch(template.replace('{z}', tz).replace('{x}', x).replace('{y}', y), { headers: authHeaders() }).catch(() => {});
    }
  }
}

function baseStyle(config, extra) {
  const crs = config.overlay_crs;
  const sources = {
    // Cells, streets and components in one tile per place (one request, one arrival to draw); components come
    // from zoom 12 and are drawn from 13.
    city: { type: 'vector', minzoom: 8, maxzoom: 16, promoteId: { cells: 'code' },
      tiles: [cityTiles(crs)] },
    grids: { type: 'geojson', data: `${location.origin}/map/grids?crs=${crs}` },
    ...(extra && extra.sources),
  };
  const layers = [{ id: 'background', type: 'background', paint: { 'background-color': '#f3f1ea' } }];
  if (config.tile_url) {
    sources.basemap = { type: 'raster', tiles: [config.tile_url], tileSize: 256 };
    layers.push({ id: 'basemap', type: 'raster', source: 'basemap' });
  }
  layers.push(
    { id: 'cells-fill', type: 'fill', source: 'city', 'source-layer': 'cells', paint: {
      'fill-outline-color': '#c4c8bf',  // drawn from the fill's own vertices: no line geometry to build
      'fill-color': ['step', ['coalesce', ['feature-state', 'value'], 0], '#e4ece0', 1, '#fde3a7', 3, '#f6a35b', 6, '#d9534f'],
      'fill-opacity': config.tile_url ? 0.35 : 0.75 } },
    { id: 'streets-casing', type: 'line', source: 'city', 'source-layer': 'streets', layout: { 'line-cap': 'round' }, paint: {
      'line-color': '#c8bfa8',
      'line-width': ['match', ['get', 'road_class'], 'main', 7, 'secondary', 4.5, 2.5] } },
    { id: 'streets', type: 'line', source: 'city', 'source-layer': 'streets', layout: { 'line-cap': 'round' }, paint: {
      'line-color': '#ffffff',
      'line-width': ['match', ['get', 'road_class'], 'main', 5, 'secondary', 3, 1.2] } },
    { id: 'grids-line', type: 'line', source: 'grids', paint: {
      'line-color': '#2f5f98', 'line-width': 2, 'line-dasharray': [3, 2] } },
    { id: 'components', type: 'circle', source: 'city', 'source-layer': 'components', minzoom: 13, paint: {
      'circle-radius': ['interpolate', ['linear'], ['zoom'], 13, 1.5, 17, 4],
      'circle-color': ['match', ['get', 'state'], 'damaged', '#c0392b', 'missing', '#8e44ad', '#7a6a4f'],
      'circle-opacity': 0.8 } },
    ...((extra && extra.layers) || []),
  );
  return { version: 8, sources, layers };
}

/**
 * Draw nothing until the first view is complete. MapLibre redraws the whole canvas whenever a tile or a source
 * arrives; in software WebGL (a server without a GPU, the headless browser in CI) each redraw costs 70–220 ms of the
 * CPU the tiles are still being decoded on, and an operator would only watch the map fill in piece by piece. Its
 * render loop still runs (it is what asks for the tiles): only the painter's drawing is held. `release(done)` draws
 * one frame and calls `done` when the map is next idle; after `maxHoldMs` the map draws whatever it has, so a tile
 * that never comes does not keep the rest off the screen. `frames`: frames drawn until `done` (one, normally).
 * docs/performance.md, "One frame for the first view".
 */
function holdPainting(map, maxHoldMs = 3000) {
  const { painter } = map;
  const paint = painter.render;
  const gate = { frames: 0, open: false };
  painter.render = function render(...args) {
    if (!gate.open) return undefined;
    gate.frames += 1;
    return paint.apply(this, args);
  };
  const open = () => { gate.open = true; map.triggerRepaint(); };
  const timer = setTimeout(open, maxHoldMs);
  map.once('remove', () => clearTimeout(timer));  // the page left before the first view was in
  gate.release = (done) => {
    clearTimeout(timer);
    map.once('idle', () => {
      painter.render = paint;
      done();
    });
    open();
  };
  return gate;
}

/**
 * Create the map in `container`; resolves once its style has loaded (sources and layers can be added), while
 * the tiles are still coming. `extra` = {sources, layers} drawn from the start (over the base layers); `before`
 * (map) => promise: what else the first render waits for (a page's own data). When the map is first idle after
 * that and the open-case colours, the page marks `map-first-render` and sets `data-rendered` on the container.
 */
export async function createCityMap(container, { onFirstRender, extra, before } = {}) {
  const config = await mapConfig();
  performance.mark('map-config');
  const b = config.bounds || [116.9, 31.43, 116.98, 31.49];
  performance.mark('map-webgl-start');
  const map = new MlMap({
    container,
    style: baseStyle(config, extra),
    bounds: [[b[0], b[1]], [b[2], b[3]]],
    fitBoundsOptions: { padding: 20 },
    attributionControl: false,
    fadeDuration: 0,  // no label or raster fade-in to wait for: nothing here is faded
    transformRequest: (url) => (url.startsWith(`${location.origin}/`) && auth.token
      ? { url, headers: { Authorization: `Bearer ${auth.token}` } } : { url }),
  });
  performance.measure('map-webgl', 'map-webgl-start');  // the constructor: canvas, WebGL context, style parse
  prefetchTiles(map, cityTiles(config.overlay_crs), 8, 16);  // the camera is set: the view is known
  map.addControl(new NavigationControl({ showCompass: false }), 'top-left');
  map.addControl(new ScaleControl({ unit: 'metric' }), 'bottom-left');
  map.cgConfig = config;
  map.cgOpenCases = {};
  const gate = holdPainting(map);
  const counts = reloadCells(map);
  await new Promise((resolve) => (map.isStyleLoaded() ? resolve() : map.once('style.load', resolve)));
  performance.mark('map-style-loaded');
  Promise.all([counts.then(() => { if (map.cgCellsBy !== 'table') setCellValues(map, 'open_cases'); }),
    before ? before(map) : null]).catch(() => {}).then(() => {
    performance.mark('map-data');
    // Idle with the gate shut: every tile and source of the view is loaded. Then one frame draws them all.
    map.once('idle', () => gate.release(() => {
      performance.mark('map-first-render');
      // The frame just drawn reaches the screen at the next commit (in software WebGL: the canvas's read-back, which
      // the next animation frame waits for). For the bench: when the first render was on screen.
      requestAnimationFrame(() => performance.mark('map-painted'));
      const entry = performance.getEntriesByName('map-first-render').pop();
      window.__cgMapFirstRenderMs = entry ? entry.startTime : null;
      // For benchmarks and tests: what the first render drew.
      window.__cgMapStats = () => ({
        zoom: map.getZoom(),
        frames: gate.frames,
        // Below zoom 15 the tiles carry no code: a component is its position (a tile's margin repeats some).
        components: new Set(map.querySourceFeatures('city', { sourceLayer: 'components' })
          .map((f) => f.properties.code || f.geometry.coordinates.map((v) => v.toFixed(6)).join())).size,
      });
      container.dataset.rendered = 'true';
      if (onFirstRender) onFirstRender(map);
    }));
    map.triggerRepaint();
  });
  return map;
}

/** Colour the cells by the open cases (`open_cases`), or by a {code: value} table (patrol visits). */
export function setCellValues(map, prop, table) {
  const values = table || (prop === 'open_cases' ? map.cgOpenCases : null) || {};
  map.cgCellsBy = table ? 'table' : prop;
  map.removeFeatureState(CELLS);
  for (const [code, value] of Object.entries(values)) {
    if (value) map.setFeatureState({ ...CELLS, id: code }, { value });
  }
}

/** Fetch the caller's open cases per cell again (after case events); `setCellValues` shows them. */
export async function reloadCells(map) {
  map.cgOpenCases = (await api('/map/open-cases')).cells;
}

/** Where a cell is: the middle of its outline in the tiles loaded (null when its tile is not). */
export function cellCenter(map, code) {
  let w = Infinity; let s = Infinity; let e = -Infinity; let n = -Infinity;
  for (const f of map.querySourceFeatures('city', { ...CELLS, filter: ['==', ['get', 'code'], code] })) {
    for (const [x, y] of f.geometry.coordinates.flat(f.geometry.type === 'Polygon' ? 1 : 2)) {
      w = Math.min(w, x); e = Math.max(e, x); s = Math.min(s, y); n = Math.max(n, y);
    }
  }
  return w <= e ? [(w + e) / 2, (s + n) / 2] : null;
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
