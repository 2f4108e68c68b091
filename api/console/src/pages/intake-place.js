// The intake screen's shared fields: where (an address with live geocoding suggestions, or a point picked on the
// city's map, reverse-geocoded) and what (the category, searched in Chinese, English, by code or by pinyin
// initials — the keys come precomputed from GET /intake/categories), and what a form filed.
import { Marker } from 'maplibre-gl';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { matchCategories } from '../category-search.js';
import { t } from '../i18n.js';
import { createCityMap } from '../mapbase.js';
import { sourceName, useSources } from '../sources.js';
import { html, useLoad } from '../ui.js';

const SUGGEST_DELAY_MS = 250;

/** A map of the city to pick a point on: `onPick({lon, lat})`; `point` shows as a marker. */
export function PickMap({ id, point, onPick }) {
  const ref = useRef(null);
  const state = useRef({ map: null, marker: null, onPick });
  state.current.onPick = onPick;
  const [error, setError] = useState(null);
  const [ready, setReady] = useState(false);
  useEffect(() => {
    let alive = true;
    createCityMap(ref.current).then((map) => {
      if (!alive) { map.remove(); return; }
      state.current.map = map;
      map.on('click', (e) => state.current.onPick({ lon: e.lngLat.lng, lat: e.lngLat.lat }));
      // Where the map came to rest (tests and the screenshot wait for it before picking by clicking).
      map.on('moveend', () => { const c = map.getCenter(); ref.current.dataset.centre = `${c.lng.toFixed(5)},${c.lat.toFixed(5)}`; });
      setReady(true);
    }, setError);
    return () => { alive = false; if (state.current.map) state.current.map.remove(); };
  }, []);
  useEffect(() => {
    const s = state.current;
    if (!s.map) return;
    if (!point) { if (s.marker) { s.marker.remove(); s.marker = null; } return; }
    if (!s.marker) s.marker = new Marker({ color: '#c2185b' }).setLngLat([point.lon, point.lat]).addTo(s.map);
    else s.marker.setLngLat([point.lon, point.lat]);
    s.map.easeTo({ center: [point.lon, point.lat], zoom: Math.max(s.map.getZoom(), 16) });
  }, [point && point.lon, point && point.lat, ready]);
  return html`<div class="pick-map-wrap">
    <div id=${id} class="pick-map" ref=${ref} data-ready=${ready ? 'true' : 'false'} role="application"
      aria-label=${t('in.map_pick')}></div>
    ${error ? html`<div class="error" role="alert">${String(error.message || error)}</div>` : null}
  </div>`;
}

/**
 * Address with live suggestions, and a map pick. `value` = {address, lon, lat, cell, score}; a suggestion or a
 * map click sets the point and the cell; typing clears them (the address alone is geocoded by the API on filing,
 * and a case it cannot place waits in the unlocated list).
 */
export function PlaceField({ idPrefix, value, onChange }) {
  const [suggestions, setSuggestions] = useState([]);
  const timer = useRef(null);
  const seq = useRef(0);
  function typed(text) {
    onChange({ address: text, lon: null, lat: null, cell: null, score: null });
    clearTimeout(timer.current);
    if (!text.trim()) { setSuggestions([]); return; }
    const mine = ++seq.current;
    timer.current = setTimeout(() => {
      api(`/geocode?${new URLSearchParams({ q: text.trim(), limit: 5 })}`).then(
        (a) => { if (mine === seq.current) setSuggestions(a.candidates); },
        () => { if (mine === seq.current) setSuggestions([]); });
    }, SUGGEST_DELAY_MS);
  }
  useEffect(() => () => clearTimeout(timer.current), []);
  function pickSuggestion(c) {
    setSuggestions([]);
    onChange({ address: c.address, lon: c.lon, lat: c.lat, cell: c.grid_cell_code, score: c.score });
  }
  async function pickPoint(p) {
    seq.current += 1;
    setSuggestions([]);
    const near = await api(`/geocode/reverse?${new URLSearchParams({ lon: p.lon, lat: p.lat })}`).catch(() => null);
    onChange({ address: (near && near.address) || value.address || '', lon: p.lon, lat: p.lat,
      cell: near ? near.grid_cell_code : null, score: null, picked: true });
  }
  const point = value.lon != null && value.lat != null ? { lon: value.lon, lat: value.lat } : null;
  return html`<fieldset class="place-field">
    <legend>${t('in.where')}</legend>
    <label for=${idPrefix + '-address'}>${t('address')}
      <input id=${idPrefix + '-address'} value=${value.address || ''} autocomplete="off" maxlength="500"
        onInput=${(e) => typed(e.currentTarget.value)} aria-describedby=${idPrefix + '-place-state'} /></label>
    ${suggestions.length ? html`<ul class="suggestions" role="listbox" aria-label=${t('in.suggestions')}>
      ${suggestions.map((c) => html`<li key=${c.address + c.lon}><button type="button" class="suggestion" role="option"
        aria-selected="false" data-address=${c.address} onClick=${() => pickSuggestion(c)}>${c.address}
        <span class="small">${Math.round(c.score * 100)}% · ${c.grid_cell_code || t('in.no_cell')}</span></button></li>`)}
    </ul>` : null}
    <p id=${idPrefix + '-place-state'} class="small place-state" data-cell=${value.cell || ''} data-picked=${value.picked ? 'true' : 'false'}>
      ${point ? html`${t('cell')} <span class="code">${value.cell || t('in.no_cell')}</span> ·
        ${point.lon.toFixed(6)}, ${point.lat.toFixed(6)}` : t('in.no_point')}</p>
    <${PickMap} id=${idPrefix + '-map'} point=${point} onPick=${pickPoint} />
  </fieldset>`;
}

let categoriesPromise = null;
function loadCategories() {
  if (!categoriesPromise) categoriesPromise = api('/intake/categories').catch((e) => { categoriesPromise = null; throw e; });
  return categoriesPromise;
}

/** Category search: `value` is the chosen code (or null). */
export function CategoryField({ idPrefix, value, onChange }) {
  const [list] = useLoad(loadCategories, []);
  const [query, setQuery] = useState('');
  const chosen = (list || []).find((c) => c.code === value);
  const found = chosen ? [] : matchCategories(list || [], query);
  return html`<div class="category-field">
    <label for=${idPrefix + '-category'}>${t('category')}
      <input id=${idPrefix + '-category'} value=${chosen ? `${chosen.name} ${chosen.code}` : query} autocomplete="off"
        placeholder=${t('in.category_hint')} onInput=${(e) => { setQuery(e.currentTarget.value); onChange(null); }} /></label>
    ${found.length ? html`<ul class="suggestions" role="listbox" aria-label=${t('category')}>
      ${found.map((c) => html`<li key=${c.code}><button type="button" class="category-option" role="option" aria-selected="false"
        data-code=${c.code} onClick=${() => { onChange(c.code); setQuery(''); }}>${c.name} <span class="code">${c.code}</span>
        <span class="small">${c.group || ''} · ${c.disposal_class}</span></button></li>`)}</ul>` : null}
  </div>`;
}

/** What was filed (or linked): the case number, its source and cell, a link to the board. */
export function Filed({ result }) {
  const [sources] = useSources();
  if (!result) return null;
  const c = result.case;
  return html`<div class="filed" role="status" data-case-id=${c.id} data-linked=${result.linked ? 'true' : 'false'}>
    <span class="ok">${result.linked ? t('in.linked') : t('in.filed')}</span>
    <a href=${'#/cases/' + c.id}>${c.case_no || c.id.slice(0, 8)}</a>
    ${c.source ? html` · ${sourceName(sources, c.source)}` : null}
    ${c.state ? html` · ${t('state.' + c.state)}` : null}
    · ${t('cell')} <span class="code">${c.grid_cell_code || t('in.no_cell')}</span>
  </div>`;
}
