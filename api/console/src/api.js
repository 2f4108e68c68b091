// The API client: token in localStorage, JSON in and out, RFC 9457 problems turned into words.
const TOKEN_KEY = 'civicgrid.token';

export class ApiError extends Error {
  constructor(status, detail, body) {
    super(detail);
    this.status = status;
    this.body = body;
  }
}

export const auth = {
  get token() { return localStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value) localStorage.setItem(TOKEN_KEY, value); else localStorage.removeItem(TOKEN_KEY);
  },
};

export function authHeaders(extra = {}) {
  const t = auth.token;
  return t ? { ...extra, Authorization: `Bearer ${t}` } : extra;
}

function problemText(status, body) {
  if (body && typeof body === 'object') {
    let text = body.detail || body.title || `HTTP ${status}`;
    if (Array.isArray(body.detail)) text = body.detail.map((d) => `${(d.loc || []).join('.')}: ${d.msg}`).join('; ');
    if (Array.isArray(body.errors)) text += ': ' + body.errors.map((e) => `${e.loc ? e.loc.join('.') + ': ' : ''}${e.msg || e.message || JSON.stringify(e)}`).join('; ');
    if (body.allowed_actions) text += ` (allowed: ${body.allowed_actions.join(', ') || '—'})`;
    return text;
  }
  return `HTTP ${status}`;
}

export async function api(path, { method = 'GET', body, form, raw = false, signal } = {}) {
  const headers = authHeaders({ Accept: 'application/json' });
  let payload;
  if (form) payload = form;
  else if (body !== undefined) { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
  const res = await fetch(path, { method, headers, body: payload, signal });
  if (raw && res.ok) return res;
  const type = res.headers.get('content-type') || '';
  const data = type.includes('json') ? await res.json().catch(() => null) : null;
  if (!res.ok) {
    if (res.status === 401 && path !== '/auth/token') window.dispatchEvent(new CustomEvent('cg-unauthorized'));
    throw new ApiError(res.status, problemText(res.status, data), data);
  }
  return data;
}

/** GET that answers `fallback` when the endpoint is not there (yet): pages show an empty state. */
export async function optional(path, fallback) {
  try {
    return await api(path);
  } catch (e) {
    if (e.status === 404 || e.status === 405 || e.status === 501) return fallback;
    throw e;
  }
}

export async function login(username, password) {
  const form = new URLSearchParams({ username, password });
  const res = await fetch('/auth/token', { method: 'POST', body: form, headers: { Accept: 'application/json' } });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, problemText(res.status, data), data);
  auth.token = data.access_token;
  return api('/auth/me');
}

export async function mediaUrl(mediaId) {
  const res = await api(`/media/${mediaId}`, { raw: true });
  return URL.createObjectURL(await res.blob());
}

export async function download(path, filename) {
  const res = await api(path, { raw: true });
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
