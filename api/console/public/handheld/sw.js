// The handheld web app's service worker (docs/handheld.md): the app shell is cached at install so the app starts
// with no network at all — in a lane, a basement, a lift. Copied verbatim into dist/handheld/ (not bundled), so
// its URL, and therefore its scope (/handheld/), never changes between builds.
//
// At install it reads the start page, caches it with every script, style and icon it names (Vite's hashed
// /assets/ files), and the manifest. Then:
//   - a page load: the network first (a new build is picked up at once), the cached start page when it fails;
//   - /assets/…: the cache first (hashed names never change content), the network otherwise;
//   - everything else (the API: /media, /handhelds/…): untouched — the app's own queue (IndexedDB) is what
//     carries reports across a dead network, never a cached API answer.
const VERSION = 'v1';
const CACHE = `civicgrid-handheld-${VERSION}`;
const START = '/handheld/';
const STATIC = ['/handheld/manifest.json', '/handheld/icon-192.png', '/handheld/icon-512.png'];

async function shell() {
  const response = await fetch(START, { cache: 'no-cache' });
  if (!response.ok) throw new Error(`start page: HTTP ${response.status}`);
  const html = await response.clone().text();
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
  const cache = await caches.open(CACHE);
  await cache.put(START, response);
  await cache.addAll([...new Set([...assets, ...STATIC])]);
}

self.addEventListener('install', (event) => {
  event.waitUntil(shell().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('civicgrid-handheld-') && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate' && url.pathname.startsWith(START)) {
    event.respondWith((async () => {
      try {
        const fresh = await fetch(request);
        if (fresh.ok && url.pathname === START) {
          const cache = await caches.open(CACHE);
          await cache.put(START, fresh.clone());
        }
        return fresh;
      } catch (err) {
        const cached = await caches.match(START);
        if (cached) return cached;
        throw err;
      }
    })());
    return;
  }
  if (url.pathname.startsWith('/assets/') || STATIC.includes(url.pathname)) {
    event.respondWith((async () => {
      const cached = await caches.match(request);
      if (cached) return cached;
      const fresh = await fetch(request);
      if (fresh.ok) (await caches.open(CACHE)).put(request, fresh.clone());
      return fresh;
    })());
  }
});
