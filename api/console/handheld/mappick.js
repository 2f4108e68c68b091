// The map pick (docs/handheld.md): when the GPS is poor, the inspector moves the map under a fixed cross until the
// cross is on the problem, and the report goes with that point. Loaded only when first opened (MapLibre is most of
// a megabyte; the rest of the app does without it), then kept by the service worker for offline use. The map is
// the city's own (cells and streets as vector tiles from /map/tiles, read with the device's credentials, the ones
// seen before kept on the phone): no internet basemap, nothing but what the phone may read.
import 'maplibre-gl/dist/maplibre-gl.css';
import { Map as MlMap, addProtocol, setWorkerUrl } from 'maplibre-gl';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import { useEffect, useRef, useState } from 'preact/hooks';
import { t } from './i18n.js';
import { html, metres } from './util.js';

setWorkerUrl(workerUrl);
const TILES = 'civicgrid-tiles-v1';  // the tiles seen, for a map opened offline (a cache of its own: kept across builds)
const TILES_KEPT = 2000;
const TRIM_EVERY = 50;
let authorization = null;  // the device's HTTP Basic header, set by the open map
let onKept = () => {};  // the open map is told when a tile came from the phone's copy (it says so)
let puts = 0;

/**
 * One city tile, loaded on the page (MapLibre's worker asks the page for `cgtiles://` URLs): the network first,
 * kept in the tiles cache; the kept copy when the network fails. On the page rather than in the service worker,
 * so that it holds whether or not the browser lets the service worker see MapLibre's worker's requests.
 */
async function tile(params, abort) {
  const url = params.url.replace(/^cgtiles:\/\//, `${location.origin}/`);
  const cache = typeof caches !== 'undefined' ? await caches.open(TILES) : null;
  try {
    // no-cache: the browser's copy is revalidated (a 304 when unchanged), so that offline the fetch fails and the
    // kept copy answers, saying so, rather than the browser's copy while its max-age lasts.
    const res = await fetch(url, { headers: { Authorization: authorization }, signal: abort.signal, cache: 'no-cache' });
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    const data = await res.arrayBuffer();
    if (cache) {
      await cache.put(url, new Response(data, { headers: { 'Content-Type': 'application/vnd.mapbox-vector-tile' } }));
      if (++puts % TRIM_EVERY === 0) {
        const keys = await cache.keys();  // oldest first
        for (const old of keys.slice(0, Math.max(0, keys.length - TILES_KEPT))) await cache.delete(old);
      }
    }
    return { data };
  } catch (err) {
    const kept = !abort.signal.aborted && cache ? await cache.match(url) : null;
    if (kept) {
      onKept();
      return { data: await kept.arrayBuffer() };
    }
    throw err;
  }
}
addProtocol('cgtiles', tile);

const PICK_ZOOM = 17;  // half a metre a CSS pixel at 31° N: a 100 m cell is two hundred pixels across

/** Fetch MapLibre's worker once, so that the service worker keeps it for a map opened offline. */
export function warm() {
  return fetch(workerUrl).then(() => true, () => false);
}

function style() {
  return {
    version: 8,
    sources: {
      city: { type: 'vector', minzoom: 8, maxzoom: 16,
        tiles: ['cgtiles://map/tiles/cells,streets/{z}/{x}/{y}.pbf'] },
    },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': '#f3f1ea' } },
      { id: 'cells-fill', type: 'fill', source: 'city', 'source-layer': 'cells',
        paint: { 'fill-color': '#e4ece0', 'fill-antialias': false } },
      { id: 'cells-line', type: 'line', source: 'city', 'source-layer': 'cells',
        paint: { 'line-color': '#8d958a', 'line-width': 1 } },
      { id: 'streets-casing', type: 'line', source: 'city', 'source-layer': 'streets', layout: { 'line-cap': 'round' },
        paint: { 'line-color': '#c8bfa8', 'line-width': ['match', ['get', 'road_class'], 'main', 12, 'secondary', 8, 5] } },
      { id: 'streets', type: 'line', source: 'city', 'source-layer': 'streets', layout: { 'line-cap': 'round' },
        paint: { 'line-color': '#ffffff', 'line-width': ['match', ['get', 'road_class'], 'main', 9, 'secondary', 6, 3] } },
    ],
  };
}

/**
 * The map, centred on `start` ({lon, lat}); `onPick({lon, lat})` with the point under the cross, `onCancel()`.
 * `authorization` is the device's HTTP Basic header for the tiles. `gps` (the fix) is shown for reference.
 */
export function MapPick({ start, gps, authorization: header, onPick, onCancel }) {
  const box = useRef(null);
  const mapRef = useRef(null);
  const [centre, setCentre] = useState(start);
  const [kept, setKept] = useState(false);
  useEffect(() => {
    authorization = header;
    onKept = () => setKept(true);
    const map = new MlMap({
      container: box.current, style: style(), center: [start.lon, start.lat], zoom: PICK_ZOOM,
      minZoom: 12, maxZoom: 19, attributionControl: false, fadeDuration: 0, dragRotate: false, pitchWithRotate: false,
      // A phone's 3× screen drawn at 2×: streets and cells need no more, and each frame is half the pixels.
      pixelRatio: Math.min(devicePixelRatio, 2),
    });
    map.touchZoomRotate.disableRotation();
    const moved = () => { const c = map.getCenter(); setCentre({ lon: c.lng, lat: c.lat }); };
    map.on('move', moved);
    // A tap brings the tapped point under the cross: one thumb, no precise drag needed.
    map.on('click', (e) => map.easeTo({ center: e.lngLat, duration: 250 }));
    map.once('idle', () => { box.current.dataset.ready = 'true'; });
    mapRef.current = map;
    map.getCanvas().focus();
    return () => { onKept = () => {}; map.remove(); };
  }, []);
  const away = gps ? Math.round(metres(centre, gps)) : null;
  return html`<div class="mappick" role="dialog" aria-modal="true" aria-label=${t('map.title')}>
    <p class="small">${t('map.hint')}</p>
    ${kept ? html`<p class="small" id="hh-map-kept">${t('map.kept')}</p>` : null}
    <div class="mapbox" ref=${box} id="hh-map" aria-label=${t('map.title')} data-kept=${kept}>
      <div class="cross" aria-hidden="true"></div>
    </div>
    <p class="small" id="hh-map-point" data-lon=${centre.lon} data-lat=${centre.lat}>
      ${centre.lon.toFixed(5)}, ${centre.lat.toFixed(5)}${away != null ? ` · ${t('map.from_gps')} ${away} ${t('metres')}` : ''}</p>
    <div class="answers">
      <button type="button" class="button" id="hh-map-cancel" onClick=${onCancel}>${t('map.cancel')}</button>
      <button type="button" class="button primary" id="hh-map-use" onClick=${() => onPick(centre)}>${t('map.use')}</button>
    </div>
  </div>`;
}
