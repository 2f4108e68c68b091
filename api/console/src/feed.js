// The live feed: GET /feed (Server-Sent Events) read with fetch, because EventSource cannot send the
// Authorization header. Resumes after a reconnect from the last event id (Last-Event-ID), and drops
// any event id already seen, so entries are neither lost nor repeated.
import { api, authHeaders } from './api.js';

const MAX_ENTRIES = 300;

export class Feed {
  constructor() {
    this.entries = [];          // newest first
    this.seen = new Set();
    this.lastId = null;
    this.listeners = new Set();
    this.status = 'idle';
    this.abort = null;
    this.stopped = true;
    this.acked = new Map();     // alarm id → who acknowledged it (this console or another, from the feed)
  }

  subscribe(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }
  emit(entry) { for (const fn of this.listeners) fn(this, entry); }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop();
  }

  stop() {
    this.stopped = true;
    if (this.abort) this.abort.abort();
  }

  // Acknowledge for every console: POST /alarms/{id}/ack; the other consoles learn it from the feed
  // (`alarm_ack`). Shown at once here, and taken back with the API's words if it refuses.
  async ack(alarmId) {
    if (this.acked.has(alarmId)) return;
    this.acked.set(alarmId, '…');
    this.emit(null);
    try {
      const ack = await api(`/alarms/${encodeURIComponent(alarmId)}/ack`, { method: 'POST', body: {} });
      this.acked.set(alarmId, ack.acked_by);
    } catch (e) {
      this.acked.delete(alarmId);
      this.ackError = `${alarmId}: ${e.message}`;
    }
    this.emit(null);
  }

  setStatus(s) { this.status = s; this.emit(null); }

  async loop() {
    let delay = 500;
    while (!this.stopped) {
      this.abort = new AbortController();
      try {
        const headers = authHeaders({ Accept: 'text/event-stream' });
        if (this.lastId) headers['Last-Event-ID'] = this.lastId;
        const res = await fetch('/feed', { headers, signal: this.abort.signal, cache: 'no-store' });
        if (!res.ok || !res.body) throw new Error(`feed HTTP ${res.status}`);
        this.setStatus('live');
        delay = 500;
        await this.read(res.body.getReader());
      } catch (e) {
        if (this.stopped) break;
      }
      if (this.stopped) break;
      this.setStatus('reconnecting');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10000);
    }
    this.setStatus('idle');
  }

  async read(reader) {
    const decoder = new TextDecoder();
    let buffer = '';
    let event = {};
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buffer.search(/\r?\n/)) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer[nl] === '\r' ? 2 : 1));
        if (line === '') {
          if (event.data !== undefined) this.dispatch(event);
          event = {};
        } else if (!line.startsWith(':')) {
          const i = line.indexOf(':');
          const field = i < 0 ? line : line.slice(0, i);
          const val = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
          if (field === 'data') event.data = event.data === undefined ? val : event.data + '\n' + val;
          else event[field] = val;
        }
      }
    }
  }

  dispatch(ev) {
    if (ev.id) {
      this.lastId = ev.id;
      if (this.seen.has(ev.id)) return;
      this.seen.add(ev.id);
      if (this.seen.size > 5000) {  // ids only repeat around a reconnect: the recent ones suffice
        let drop = 1000;
        for (const id of this.seen) { this.seen.delete(id); if (--drop === 0) break; }
      }
    }
    let data;
    try { data = JSON.parse(ev.data); } catch { return; }
    if (ev.event === 'alarm_ack') {  // another console (or this one) acknowledged an alarm: not a list entry
      this.acked.set(data.alarm_id, data.acked_by);
      if (this.acked.size > 5000) this.acked.delete(this.acked.keys().next().value);
      this.emit(null);
      return;
    }
    const entry = { id: ev.id || `local-${Date.now()}-${Math.random()}`, kind: ev.event || 'message', data, received: Date.now() };
    this.entries.unshift(entry);
    if (this.entries.length > MAX_ENTRIES) this.entries.length = MAX_ENTRIES;
    if (entry.kind === 'alarm' && data.action === 'raise' && data.urgency === 'A') beep();
    window.dispatchEvent(new CustomEvent('cg-feed-entry', { detail: entry }));
    this.emit(entry);
  }
}

export const feed = new Feed();

// A short two-tone beep from the Web Audio API (no sound file to fetch); muted state persists.
let audio;
export function beep() {
  if (localStorage.getItem('civicgrid.muted') === '1') return;
  try {
    audio = audio || new AudioContext();
    const now = audio.currentTime;
    for (const [i, f] of [[0, 880], [1, 660]]) {
      const o = audio.createOscillator();
      const g = audio.createGain();
      o.frequency.value = f;
      g.gain.setValueAtTime(0.15, now + i * 0.18);
      g.gain.exponentialRampToValueAtTime(0.001, now + i * 0.18 + 0.16);
      o.connect(g).connect(audio.destination);
      o.start(now + i * 0.18);
      o.stop(now + i * 0.18 + 0.17);
    }
  } catch { /* no audio device: the highlight is enough */ }
}
