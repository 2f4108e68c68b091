// 城管通: the inspector's handheld as a web app (docs/handheld.md). Served by the API at /handheld/, installable
// (manifest + service worker), Chinese by default, one-handed: large buttons at the bottom of the screen.
// Everything the inspector does is written to the phone's queue first (store.js) and sent when it can be
// (outbox.js), so the app works the same in a basement as on the street.
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { matchCategories } from '../src/category-search.js';
import { Outbox, apiGet, basic } from './outbox.js';
import { enqueue, getKv, pruneSent, queueItems, savePairing, setKv, tasks as loadTasks } from './store.js';
import { t, lang, setLang } from './i18n.js';
import { MAX_PHOTOS, Thumbs, labelledComponent, usePhotos } from './photos.js';
import { VoiceField, useVoice } from './voice.js';
import { TasksView, keepTaskPhotos } from './tasks.js';
import { PatrolView } from './patrol.js';
import { Duplicates, linkReport, useDuplicates } from './duplicates.js';
import { html, metres, newId, round7 } from './util.js';
import './style.css';

const TRACK_EVERY_MS = 30_000;
const TRACK_TICK_MS = 5_000;
const FIX_STALE_MS = 120_000;  // no track point from a fix this old (GPS lost indoors)
const PATROL_EVERY_MS = 60_000;  // the patrol card is read again this often while the app is open and online
const PLACE_AGAIN_M = 15;  // the cell and address are looked up again when the phone has moved this far
// Shown before anything is typed: the categories inspectors report most (the phone's own counts come first).
const COMMON = ['E0102', 'E0104', 'E0103', 'E0107', 'E0108', 'C0305', 'C0101', 'C0102'];

/** The pairing payload from a `#pair=` link (civicgrid/handheld.py writes it), or null. */
export function readPairing(hash) {
  if (!hash.startsWith('#pair=')) return null;
  try {
    const b64 = hash.slice(6).replace(/-/g, '+').replace(/_/g, '/');
    const json = new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
    const data = JSON.parse(json);
    if (data.v !== 1 || !data.device_id || !data.secret) return null;
    return data;
  } catch {
    return null;
  }
}

function useGps() {
  const [fix, setFix] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!navigator.geolocation) { setError(t('gps.none')); return undefined; }
    const watch = navigator.geolocation.watchPosition(
      (p) => { setError(null); setFix({ lon: p.coords.longitude, lat: p.coords.latitude, accuracy: p.coords.accuracy,
        speed: p.coords.speed, heading: p.coords.heading, at: p.timestamp }); },
      (e) => setError(e.message || t('gps.none')),
      { enableHighAccuracy: true, maximumAge: 10_000, timeout: 30_000 });
    return () => navigator.geolocation.clearWatch(watch);
  }, []);
  return [fix, error];
}

function Unpaired() {
  return html`<main class="unpaired">
    <h1>城管通</h1>
    <p>${t('pair.needed')}</p>
    <p class="small">${t('pair.how')}</p>
  </main>`;
}

function CategoryPicker({ categories, value, onChange, usage }) {
  const [query, setQuery] = useState('');
  const chosen = categories.find((c) => c.code === value);
  if (chosen) {
    return html`<div class="field"><span class="label">${t('category')}</span>
      <button type="button" class="chosen" id="hh-category-chosen" data-code=${chosen.code}
        onClick=${() => onChange(null)}>${chosen.name} <span class="code">${chosen.code}</span> <span class="change">${t('change')}</span></button></div>`;
  }
  const byCode = new Map(categories.map((c) => [c.code, c]));
  const common = [...Object.entries(usage).sort((a, b) => b[1] - a[1]).map(([code]) => code), ...COMMON]
    .filter((code, i, all) => byCode.has(code) && all.indexOf(code) === i).slice(0, 6).map((code) => byCode.get(code));
  const found = query.trim() ? matchCategories(categories, query, 8) : common;
  return html`<div class="field">
    <label for="hh-category">${t('category')}</label>
    <input id="hh-category" type="search" value=${query} autocomplete="off" placeholder=${t('category.hint')}
      onInput=${(e) => setQuery(e.currentTarget.value)} />
    ${!categories.length ? html`<p class="small">${t('category.none')}</p>` : null}
    <ul class="options" aria-label=${query.trim() ? t('category') : t('category.common')}>
      ${found.map((c) => html`<li key=${c.code}><button type="button" class="option" data-code=${c.code}
        onClick=${() => { onChange(c.code); setQuery(''); }}>${c.name} <span class="code">${c.code}</span></button></li>`)}
    </ul>
  </div>`;
}

/** The map pick's component, loaded on first use (MapLibre stays out of the app's start). */
function useMapPick() {
  const [MapPick, setMapPick] = useState(null);
  const load = () => import('./mappick.js').then((m) => setMapPick(() => m.MapPick));
  return [MapPick, load];
}

function ReportForm({ categories, fix, gpsError, place, usage, onQueued, pick, setPick, pairing, online }) {
  const [category, setCategory] = useState(null);
  const [MapPick, loadMapPick] = useMapPick();
  const [picking, setPicking] = useState(false);
  const point = pick || fix;
  const [photos, addPhotos, clearPhotos] = usePhotos(pairing);
  const component = labelledComponent(photos);
  const voice = useVoice();
  const [description, setDescription] = useState('');
  const [selfHandled, setSelfHandled] = useState(false);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState(null);
  // A report fixed on the spot is the inspector's own work: no earlier case to link it to.
  const found = useDuplicates(pairing, selfHandled ? null : category, point, online);

  function reset() {
    setCategory(null); clearPhotos(); voice.clear(); setDescription(''); setSelfHandled(false); setPick(null);
  }

  async function link(d) {
    setBusy(true);
    try {
      await linkReport(pairing, d.case_id, { description: description.trim(), media: [...photos, ...voice.voices] });
      reset();
      setMessage(`${t('dup.linked')} ${d.case_no}`);
    } catch (err) {
      setMessage(`${t('dup.failed')}: ${err.message || err}`);
    } finally {
      setBusy(false);
    }
  }

  async function submit(e) {
    e.preventDefault();
    if (!category || !point) return;
    setBusy(true);
    try {
      const chosen = categories.find((c) => c.code === category);
      const reportId = newId('r');
      const fields = { report_id: reportId, kind: selfHandled ? 'self_handled' : 'report', category_code: category,
        description: description.trim() || chosen?.name || category, lon: round7(point.lon), lat: round7(point.lat) };
      // A point moved on the map is the inspector's, not the GPS's: it goes without the GPS's accuracy.
      if (pick) fields.location_source = 'map';
      else fields.accuracy_m = Math.min(10000, Math.round(fix.accuracy * 10) / 10);
      if (photos.length) fields.photo_ids = photos.map((p) => p.id);
      if (component) fields.component_code = component;  // read from a QR label on a photo by the API
      if (voice.voices.length) fields.voice_ids = voice.voices.map((v) => v.id);
      if (place?.address && metres(place, point) <= PLACE_AGAIN_M) fields.address = place.address.slice(0, 200);
      // (the queue's `photos` are the media uploaded before the message: photos and voice notes)
      await enqueue(reportId, 'report', fields, { photos: [...photos, ...voice.voices], label: `${chosen?.name || category}${selfHandled ? ' · ' + t('self_handled') : ''}` });
      usage[category] = (usage[category] || 0) + 1;
      await setKv('usage', usage);
      reset();
      setMessage(navigator.onLine ? t('report.queued') : t('report.queued_offline'));
      onQueued();
    } finally {
      setBusy(false);
    }
  }

  return html`<form class="report" onSubmit=${submit} aria-label=${t('report')}>
    <${CategoryPicker} categories=${categories} value=${category} onChange=${setCategory} usage=${usage} />
    <div class="field">
      <span class="label">${t('photos')} (${photos.length}/${MAX_PHOTOS})</span>
      <${Thumbs} photos=${photos} />
      ${component ? html`<p class="small" id="hh-component" data-code=${component}>${t('photo.component')} ${component}</p>` : null}
      <label class="button secondary" for="hh-photo">📷 ${t('photo.take')}</label>
      <input id="hh-photo" class="visually-hidden" type="file" accept="image/*" capture="environment"
        multiple onChange=${addPhotos} />
    </div>
    <${VoiceField} voice=${voice} />
    <div class="field">
      <span class="label">${t('location')}</span>
      <p id="hh-gps" class=${fix ? (fix.accuracy <= 30 ? 'gps good' : 'gps poor') : 'gps none'}
        data-accuracy=${fix ? Math.round(fix.accuracy) : ''}>
        ${fix ? html`${t('gps.accuracy')} ±${Math.round(fix.accuracy)} ${t('metres')} · ${fix.lon.toFixed(5)}, ${fix.lat.toFixed(5)}`
          : gpsError || t('gps.waiting')}</p>
      ${pick ? html`<p id="hh-picked" class="gps good">${t('map.picked')} · ${pick.lon.toFixed(5)}, ${pick.lat.toFixed(5)}
        <button type="button" class="button secondary" id="hh-use-gps" onClick=${() => setPick(null)}>${t('map.use_gps')}</button></p>` : null}
      ${place && point && metres(place, point) <= PLACE_AGAIN_M ? html`<p id="hh-cell" class="small" data-cell=${place.grid_cell_code || ''}>
        ${t('cell')} ${place.grid_cell_code || t('cell.outside')}${place.address ? ` · ${place.address}` : ''}</p>` : null}
      <button type="button" class="button secondary" id="hh-map-open" disabled=${!point}
        onClick=${() => { loadMapPick().then(() => setPicking(true), () => null); }}>🗺 ${t('map.open')}</button>
    </div>
    ${picking && MapPick ? html`<${MapPick} start=${point} gps=${fix} authorization=${basic(pairing)}
      onPick=${(p) => { setPick(p); setPicking(false); }} onCancel=${() => setPicking(false)} />` : null}
    <div class="field">
      <label for="hh-description">${t('description')}</label>
      <textarea id="hh-description" rows="3" maxlength="2000" value=${description}
        onInput=${(e) => setDescription(e.currentTarget.value)} placeholder=${t('description.hint')}></textarea>
    </div>
    <label class="check"><input id="hh-self-handled" type="checkbox" checked=${selfHandled}
      onChange=${(e) => setSelfHandled(e.currentTarget.checked)} /> ${t('self_handled')} <span class="small">${t('self_handled.hint')}</span></label>
    <${Duplicates} found=${found} onLink=${link} busy=${busy || voice.seconds !== null} />
    <button id="hh-submit" class="button primary" type="submit" disabled=${busy || !category || !point
      || voice.seconds !== null}>${t('submit')}</button>
    ${message ? html`<p class="notice" role="status" id="hh-message">${message}</p>` : null}
  </form>`;
}

/** What a queued item will upload: photos and voice notes, counted. */
function media(items) {
  const voices = items.filter((m) => m.type.startsWith('audio/')).length;
  const photos = items.length - voices;
  return `${photos ? ` · 📷${photos}` : ''}${voices ? ` · 🎤${voices}` : ''}`;
}

const STATE = { pending: 'queue.pending', sent: 'queue.sent', failed: 'queue.failed' };

function QueueView({ items, error }) {
  const shown = items.filter((i) => i.channel === 'report');
  const tracks = items.filter((i) => i.channel === 'track' && i.state === 'pending').length;
  return html`<section class="queue" aria-label=${t('queue')}>
    ${error ? html`<p class="small error" id="hh-link-error">${t('queue.link_error')}: ${error}</p>` : null}
    <p class="small">${t('queue.tracks')}: ${tracks}</p>
    ${shown.length ? html`<ul id="hh-queue">${shown.slice().reverse().map((i) => html`<li key=${i.id} data-id=${i.id} data-state=${i.state}>
      <span class="what">${i.label}</span>
      <span class=${'state ' + i.state}>${t(STATE[i.state])}</span>
      <span class="small">${new Date(i.created).toLocaleString(lang() === 'zh' ? 'zh-CN' : 'en-GB')}${media(i.photos)}</span>
      ${i.error && i.state !== 'sent' ? html`<span class="small error">${i.error}</span>` : null}
    </li>`)}</ul>` : html`<p class="empty">${t('queue.empty')}</p>`}
  </section>`;
}

function App() {
  const [pairing, setPairing] = useState(undefined);
  const [me, setMe] = useState(null);
  const [categories, setCategories] = useState([]);
  const [usage, setUsage] = useState({});
  const [items, setItems] = useState([]);
  const [taskList, setTaskList] = useState([]);
  const [tab, setTab] = useState('report');
  const [conn, setConn] = useState({ connected: false, online: navigator.onLine, error: null });
  const [, setLangState] = useState(lang());
  const outbox = useRef(null);
  const [fix, gpsError] = useGps();
  const fixRef = useRef(null);
  fixRef.current = fix;
  const [place, setPlace] = useState(null);
  const [pick, setPick] = useState(null);  // the report's point moved on the map (null: the GPS fix)
  const [patrol, setPatrol] = useState(undefined);
  const [patrolError, setPatrolError] = useState(null);

  async function refresh() {
    setItems(await queueItems());
    setTaskList(await loadTasks());
    const o = outbox.current;
    setConn({ connected: !!o?.connected, online: navigator.onLine, error: o?.lastError || null });
  }

  useEffect(() => {
    (async () => {
      const fresh = readPairing(location.hash);
      if (fresh) {
        history.replaceState(null, '', location.pathname);  // the secret leaves the address bar and history
        // The same link again changes nothing. Pairing again (a new device) drops the old device's unsent queue:
        // only with the inspector's yes.
        const waiting = (await queueItems()).filter((i) => i.state === 'pending' && i.channel === 'report').length;
        const old = await getKv('pairing');
        if (!old || (old.device_id !== fresh.device_id
            && (!waiting || confirm(t('pair.replace').replace('{n}', waiting))))) {
          await savePairing(fresh);
        }
      }
      const saved = await getKv('pairing');
      setPairing(saved || null);
      setCategories((await getKv('categories')) || []);
      setUsage((await getKv('usage')) || {});
      setMe((await getKv('me')) || null);
      setPatrol((await getKv('patrol')) || null);
      if (!saved) return;
      await pruneSent();
      outbox.current = new Outbox(saved, () => { refresh(); });
      outbox.current.start();
      await refresh();
      // Who the phone belongs to and the categories, kept for the next offline start.
      try {
        const who = await apiGet(saved, '/handhelds/me');
        setMe(who); await setKv('me', who);
        const list = await apiGet(saved, '/handhelds/categories');
        setCategories(list); await setKv('categories', list);
      } catch { /* offline: what was kept */ }
    })();
    const onNet = () => refresh();
    addEventListener('online', onNet);
    addEventListener('offline', onNet);
    return () => { removeEventListener('online', onNet); removeEventListener('offline', onNet); outbox.current?.close(); };
  }, []);

  // The patrol track: a point every TRACK_EVERY_MS while the app is open and has a fresh fix (the first at once),
  // queued like everything else and sent in a batch by the queue's flush whenever the connection allows.
  useEffect(() => {
    if (!pairing) return undefined;
    let last = 0;
    const tick = async () => {
      const f = fixRef.current;
      const now = Date.now();
      if (!f || now - f.at > FIX_STALE_MS || now - last < TRACK_EVERY_MS) return;
      last = now;
      const fields = { lon: round7(f.lon), lat: round7(f.lat), accuracy_m: Math.min(10000, Math.round(f.accuracy * 10) / 10) };
      if (f.speed != null && f.speed >= 0 && f.speed <= 100) fields.speed_mps = Math.round(f.speed * 100) / 100;
      if (f.heading != null && f.heading >= 0 && f.heading <= 360) fields.heading_deg = Math.round(f.heading * 10) / 10;
      await enqueue(newId('t'), 'track', fields, { ts: new Date(now) });
      queued();
    };
    const timer = setInterval(tick, TRACK_TICK_MS);
    tick();
    return () => clearInterval(timer);
  }, [pairing, fix !== null]);

  // Where the phone stands, as the platform will place it: the cell (and an address), looked up when online.
  const point = pick || fix;
  useEffect(() => {
    if (!pairing || !point || !conn.online || (place && metres(place, point) < PLACE_AGAIN_M)) return;
    const at = { lon: point.lon, lat: point.lat };
    apiGet(pairing, `/handhelds/place?lon=${at.lon}&lat=${at.lat}`)
      .then((found) => setPlace({ ...found, ...at }), () => null);
  }, [pairing, point, conn.online]);

  // The case photos of the tasks received, downloaded once online (a task arrives online; its photos may not all
  // come before the network goes again) and kept with the task. One pass at a time; a task that arrives during
  // one gets another.
  const keeping = useRef(null);
  useEffect(() => {
    if (!pairing || !conn.online) return;
    if (keeping.current) { keeping.current.again = true; return; }
    const pass = { again: false };
    keeping.current = pass;
    (async () => {
      let kept = false;
      do {
        pass.again = false;
        kept = (await keepTaskPhotos(pairing).catch(() => false)) || kept;
      } while (pass.again);
      keeping.current = null;
      if (kept) refresh();
    })();
  }, [pairing, conn.online, taskList]);

  // Online, once the app has started: the map pick's code fetched in the background, so that the service worker
  // has it for a map opened in a basement.
  useEffect(() => {
    if (!pairing || !conn.online) return undefined;
    const timer = setTimeout(() => import('./mappick.js').then((m) => m.warm()).catch(() => null), 5000);
    return () => clearTimeout(timer);
  }, [pairing, conn.online]);

  // The patrol card: today's plan and coverage, read when online (at start, every minute, on opening the tab),
  // the last one kept for an offline start.
  useEffect(() => {
    if (!pairing || !conn.online) return undefined;
    const read = () => apiGet(pairing, '/handhelds/patrol')
      .then(async (p) => { setPatrol(p); setPatrolError(null); await setKv('patrol', p); },
        (e) => setPatrolError(String(e.message || e)));
    read();
    const timer = setInterval(read, PATROL_EVERY_MS);
    return () => clearInterval(timer);
  }, [pairing, conn.online, tab === 'patrol']);

  function queued() {
    refresh();
    outbox.current?.flush();
  }

  if (pairing === undefined) return html`<main class="loading">…</main>`;
  if (!pairing) return html`<${Unpaired} />`;
  const pending = items.filter((i) => i.state === 'pending' && i.channel === 'report').length;
  const openTasks = taskList.filter((x) => !x.answered).length;
  const status = !conn.online ? 'offline' : conn.connected ? 'connected' : 'connecting';
  return html`<div class="app">
    <header>
      <span class="who">${me?.inspector || pairing.inspector || pairing.device_id}</span>
      <span id="hh-status" class=${'status ' + status} data-status=${status}>${t('status.' + status)}</span>
      <button type="button" class="lang" onClick=${() => { setLang(lang() === 'zh' ? 'en' : 'zh'); setLangState(lang()); }}>
        ${lang() === 'zh' ? 'EN' : '中文'}</button>
    </header>
    <main>
      ${tab === 'report' ? html`<${ReportForm} categories=${categories} fix=${fix} gpsError=${gpsError} place=${place}
        usage=${usage} onQueued=${queued} pick=${pick} setPick=${setPick} pairing=${pairing} online=${conn.online} />` : null}
      ${tab === 'queue' ? html`<${QueueView} items=${items} error=${conn.error} />` : null}
      ${tab === 'tasks' ? html`<${TasksView} tasks=${taskList} fix=${fix} onQueued=${queued} />` : null}
      ${tab === 'patrol' ? html`<${PatrolView} patrol=${patrol} error=${!conn.online || patrolError} />` : null}
    </main>
    <nav class="tabs">
      <button type="button" id="tab-report" aria-pressed=${tab === 'report'} onClick=${() => setTab('report')}>${t('report')}</button>
      <button type="button" id="tab-queue" aria-pressed=${tab === 'queue'} onClick=${() => setTab('queue')}>
        ${t('queue')} <span id="hh-pending" class="badge" data-count=${pending}>${pending}</span></button>
      <button type="button" id="tab-tasks" aria-pressed=${tab === 'tasks'} onClick=${() => setTab('tasks')}>
        ${t('tasks')} ${openTasks ? html`<span class="badge">${openTasks}</span>` : null}</button>
      <button type="button" id="tab-patrol" aria-pressed=${tab === 'patrol'} onClick=${() => setTab('patrol')}>${t('patrol')}</button>
    </nav>
  </div>`;
}

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/handheld/sw.js', { scope: '/handheld/' }).catch((e) => console.warn('service worker', e));
}
render(html`<${App} />`, document.getElementById('app'));
