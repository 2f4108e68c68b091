// The console's shell: login, role-based navigation (hash routes), language switch, mute, live feed.
// Every page is its own chunk, loaded when first opened; the page in the URL (the map for every role's first
// page) is asked for at once, beside /auth/me and the map's settings, so neither waits for the other and
// MapLibre (a megabyte of JavaScript) is not in the shell's way. docs/performance.md, "Map first render".
import './style.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, auth, login } from './api.js';
import { feed } from './feed.js';
import { lang, setLang, t } from './i18n.js';
import { mapConfig } from './mapconfig.js';
import { ErrorBox, html } from './ui.js';

const WATCHERS = ['operator', 'dispatcher', 'shift_leader', 'leader', 'admin'];
const once = (load) => { let p = null; return () => (p = p || load().catch((e) => { p = null; throw e; })); };
// Which pages each role sees (the API enforces the same on every call).
export const PAGES = [
  { id: 'map', roles: null, load: once(() => import('./pages/map.js').then((m) => m.MapPage)) },
  { id: 'cases', roles: null, load: once(() => import('./pages/cases.js').then((m) => m.CasesPage)) },
  { id: 'intake', roles: ['operator', 'shift_leader', 'leader', 'admin'], load: once(() => import('./pages/intake.js').then((m) => m.IntakePage)) },
  { id: 'patrol', roles: [...WATCHERS, 'inspector'], load: once(() => import('./pages/patrol.js').then((m) => m.PatrolPage)) },
  { id: 'scoring', roles: WATCHERS, load: once(() => import('./pages/scoring.js').then((m) => m.ScoringPage)) },
  { id: 'statistics', roles: WATCHERS, load: once(() => import('./pages/statistics.js').then((m) => m.StatisticsPage)) },
  { id: 'devices', roles: WATCHERS, load: once(() => import('./pages/devices.js').then((m) => m.DevicesPage)) },
  { id: 'cameras', roles: WATCHERS, load: once(() => import('./pages/cameras.js').then((m) => m.CamerasPage)) },
  { id: 'basedata', roles: WATCHERS, load: once(() => import('./pages/basedata.js').then((m) => m.BaseDataPage)) },
  { id: 'rules', roles: ['admin'], load: once(() => import('./pages/rules.js').then((m) => m.RulesPage)) },
  { id: 'centres', roles: ['admin'], load: once(() => import('./pages/centres.js').then((m) => m.CentresPage)) },
  { id: 'notifications', roles: ['operator', 'shift_leader', 'admin'], load: once(() => import('./pages/notifications.js').then((m) => m.NotificationsPage)) },
];

function parseHash() {
  const [path, query] = (location.hash.replace(/^#\/?/, '') || 'map').split('?');
  const [page, ...rest] = path.split('/');
  return { page, arg: (rest.join('/') + (query ? `?${query}` : '')) || null };
}

function Login({ onLogin }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function submit(e) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setBusy(true);
    setError(null);
    try {
      onLogin(await login(form.get('username'), form.get('password')));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return html`<main class="login">
    <form onSubmit=${submit} aria-labelledby="login-title">
      <h1 id="login-title">${t('title')}</h1>
      <label for="login-user">${t('username')}<input id="login-user" name="username" autocomplete="username" required /></label>
      <label for="login-password">${t('password')}<input id="login-password" name="password" type="password" autocomplete="current-password" required /></label>
      <button type="submit" disabled=${busy}>${t('login')}</button>
      ${error ? html`<div class="error" role="alert">${t('login_failed')}: ${error.message}</div>` : null}
      <button type="button" class="link" onClick=${() => { setLang(lang() === 'zh' ? 'en' : 'zh'); location.reload(); }}>${t('language')}</button>
    </form>
  </main>`;
}

// Logged in already: ask for the user, the page in the URL and (for the map) its settings all at once.
let me = null;
if (auth.token) {
  me = api('/auth/me');
  me.catch(() => {});
  const first = (PAGES.find((p) => p.id === parseHash().page) || PAGES[0]);
  first.load().catch(() => {});  // shown by the page's Lazy if it fails
  if (first.id === 'map') mapConfig().catch(() => {});
}

function Lazy({ load, ...props }) {
  const [Comp, setComp] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => { load().then((c) => setComp(() => c), setError); }, [load]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  return Comp ? html`<${Comp} ...${props} />` : html`<p class="empty">${t('loading')}</p>`;
}

function FeedStatus() {
  const [, setTick] = useState(0);
  useEffect(() => feed.subscribe(() => setTick((x) => x + 1)), []);
  return html`<span class="feed-status ${feed.status}" aria-live="polite">● ${t(feed.status)}</span>`;
}

function Shell({ user, onLogout }) {
  const [route, setRoute] = useState(parseHash());
  const [muted, setMuted] = useState(localStorage.getItem('civicgrid.muted') === '1');
  useEffect(() => {
    performance.mark('console-shell');  // the header is on screen (the user is known)
    const onHash = () => setRoute(parseHash());
    window.addEventListener('hashchange', onHash);
    feed.start();
    return () => { window.removeEventListener('hashchange', onHash); feed.stop(); };
  }, []);
  const pages = PAGES.filter((p) => !p.roles || p.roles.includes(user.role));
  const page = pages.find((p) => p.id === route.page) || pages[0];
  const toggleMute = () => {
    localStorage.setItem('civicgrid.muted', muted ? '0' : '1');
    setMuted(!muted);
  };
  const body = html`<${Lazy} key=${page.id} load=${page.load} user=${user} arg=${route.arg} />`;
  return html`<div class="shell">
    <header>
      <span class="brand">${t('title')}</span>
      <nav aria-label="main">
        ${pages.map((p) => html`<a href=${'#/' + p.id} class=${p.id === page.id ? 'active' : ''} aria-current=${p.id === page.id ? 'page' : undefined}>${t(p.id)}</a>`)}
      </nav>
      <span class="spacer"></span>
      <${FeedStatus} />
      <button type="button" class="small" onClick=${toggleMute} aria-pressed=${muted}>${muted ? t('unmute') : t('mute')}</button>
      <button type="button" class="small" onClick=${() => { setLang(lang() === 'zh' ? 'en' : 'zh'); location.reload(); }}>${t('language')}</button>
      <span class="who" data-role=${user.role}>${user.display_name || user.username} · ${t('role.' + user.role)}</span>
      <button type="button" class="small" onClick=${onLogout}>${t('logout')}</button>
    </header>
    <main id="page" data-page=${page.id}>${body}</main>
  </div>`;
}

function App() {
  const [user, setUser] = useState(null);
  const [ready, setReady] = useState(!auth.token);
  useEffect(() => {
    if (auth.token) {
      (me || api('/auth/me')).then(setUser, () => { auth.token = null; }).finally(() => setReady(true));
      me = null;  // a later login asks again
    }
    const onUnauthorized = () => { auth.token = null; setUser(null); };
    window.addEventListener('cg-unauthorized', onUnauthorized);
    return () => window.removeEventListener('cg-unauthorized', onUnauthorized);
  }, []);
  const logout = () => {
    feed.stop();
    auth.token = null;
    sessionStorage.clear();
    location.hash = '';
    location.reload();
  };
  if (!ready) return html`<p class="empty">${t('loading')}</p>`;
  return user ? html`<${Shell} user=${user} onLogout=${logout} />` : html`<${Login} onLogin=${setUser} />`;
}

performance.mark('console-main');  // the eager modules are fetched, parsed and run
setLang(lang());
render(html`<${App} />`, document.getElementById('app'));
