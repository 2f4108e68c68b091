// Sending the queue: the handheld's device contract over MQTT on WebSockets (the same topics, payloads and QoS 1
// as every handheld: cg/<device>/report, track, event, status, cmd, cmd/ack; device-profiles/handheld.yaml),
// photos first over HTTPS (POST /media, HTTP Basic with the device's id and secret). An item leaves the queue
// only when the broker acknowledged it (PUBACK); until then it is retried, in seq order, whenever the phone is
// online and connected. The broker acknowledges before the gateway has read the message: when the gateway refuses
// it, its notice on cg/<device>/refused sets the item aside as refused, with the reason. See docs/handheld.md.
import mqtt from 'mqtt';
import { enqueue, putTask, queueItems, refuseItem, updateItem } from './store.js';

const PUBACK_TIMEOUT_MS = 30_000;
const REFUSED = new Set([413, 415, 422]);

export function mqttUrl(pairing, where = location) {
  if (pairing.mqtt_url) return pairing.mqtt_url;
  return `${where.protocol === 'https:' ? 'wss' : 'ws'}://${where.hostname}:${pairing.ws_port}/`;
}

export function basic(pairing) {
  return 'Basic ' + btoa(`${pairing.device_id}:${pairing.secret}`);
}

export async function apiGet(pairing, path) {
  const res = await fetch(path, { headers: { Authorization: basic(pairing), Accept: 'application/json' } });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

/** An online action over HTTP (not queued: the caller says what happens when it fails). */
export async function apiPost(pairing, path, body) {
  const res = await fetch(path, { method: 'POST', body: JSON.stringify(body),
    headers: { Authorization: basic(pairing), Accept: 'application/json', 'Content-Type': 'application/json' } });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  return res.json();
}

/** Upload one photo or voice note (idempotent: named by its SHA-256); the API's answer, with the component ids
 * its label reader found in a photo's QR labels. */
export async function upload(pairing, photo) {
  const form = new FormData();
  const names = { 'image/png': 'photo.png', 'image/webp': 'photo.webp', 'audio/ogg': 'voice.ogg', 'audio/webm': 'voice.webm',
    'audio/mp4': 'voice.m4a' };
  form.append('file', photo.blob, names[photo.type] || 'photo.jpg');
  const res = await fetch('/media', { method: 'POST', headers: { Authorization: basic(pairing) }, body: form });
  if (res.status !== 201) {
    const what = photo.type.startsWith('audio/') ? 'voice note' : 'photo';
    const err = new Error(`${what} upload: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    // The API will never take this photo (too large, not a photo): retrying would hold the whole queue up.
    err.permanent = REFUSED.has(res.status);
    throw err;
  }
  const answer = await res.json();
  if (answer.id !== photo.id) throw new Error(`the API named the photo ${answer.id}, not its SHA-256 ${photo.id}`);
  return answer;
}

/** The MQTT link of one paired phone; `onChange()` is called whenever its state or the queue changes. */
export class Outbox {
  constructor(pairing, onChange) {
    this.pairing = pairing;
    this.onChange = onChange;
    this.client = null;
    this.connected = false;
    this.flushing = null;
    this.lastError = null;
    this.online = () => this.start();
    this.offline = () => this.stop();
    addEventListener('online', this.online);
    addEventListener('offline', this.offline);
  }

  start() {
    if (this.client || !navigator.onLine) return;
    const { device_id: id, secret } = this.pairing;
    const client = mqtt.connect(mqttUrl(this.pairing), {
      // A persistent session (clean: false, the device id as client id): the broker keeps the phone's subscription
      // and queues the tasks sent to it while it is offline.
      username: id, password: secret, clientId: id, protocolVersion: 4, clean: false, keepalive: 60,
      reconnectPeriod: 5000, connectTimeout: 15000,
      will: { topic: `cg/${id}/status`, payload: 'offline', qos: 1, retain: false },
    });
    this.client = client;
    client.on('connect', () => {
      this.connected = true;
      this.lastError = null;
      client.publish(`cg/${id}/status`, 'online', { qos: 1 });
      client.subscribe([`cg/${id}/cmd`, `cg/${id}/refused`], { qos: 1 });
      this.onChange();
      this.flush();
    });
    client.on('close', () => { this.connected = false; this.onChange(); });
    client.on('error', (err) => { this.lastError = String(err.message || err); this.onChange(); });
    client.on('message', (topic, payload) => {
      const handled = topic.endsWith('/refused') ? this.refused(payload) : this.command(payload);
      handled.catch((e) => console.warn(topic, e));
    });
  }

  /** Drop the connection (the phone went offline): the queue waits, and a new connection is made when it returns. */
  stop() {
    const client = this.client;
    this.client = null;
    this.connected = false;
    if (client) client.end(true);
    this.onChange();
  }

  close() {
    removeEventListener('online', this.online);
    removeEventListener('offline', this.offline);
    this.stop();
  }

  publish(channel, body) {
    return new Promise((resolve, reject) => {
      if (!this.client || !this.connected) { reject(new Error('not connected')); return; }
      // No PUBACK in time (a dead link the socket has not noticed yet): the item stays queued and goes again.
      const timer = setTimeout(() => reject(new Error('no acknowledgement from the broker')), PUBACK_TIMEOUT_MS);
      this.client.publish(`cg/${this.pairing.device_id}/${channel}`, body, { qos: 1 }, (err) => {
        clearTimeout(timer);
        if (err) reject(err); else resolve();
      });
    });
  }

  /** Send what is pending, oldest first; one pass at a time (a later call runs again after it). */
  flush() {
    if (this.flushing) { this.again = true; return this.flushing; }
    this.flushing = (async () => {
      do {
        this.again = false;
        for (const item of await queueItems()) {
          if (item.state !== 'pending') continue;
          if (!this.connected || !navigator.onLine) return;
          try {
            // (a photo uploaded when it was taken, for its label, is kept by the API: media are never deleted)
            for (const photo of item.photos) if (!photo.uploaded) await upload(this.pairing, photo);
            await this.publish(item.channel, item.body);
            // (unless the gateway's refusal came first: it stays refused)
            await updateItem(item.id, { state: 'sent', sent_at: Date.now(), photos: [], error: null }, 'pending');
          } catch (err) {
            if (err.permanent) {  // set aside with its reason, shown in the queue; the rest goes on
              await updateItem(item.id, { state: 'failed', error: String(err.message || err) });
              this.onChange();
              continue;
            }
            await updateItem(item.id, { error: String(err.message || err) });
            this.onChange();
            return;  // in order: the next pass (reconnect, online, new item) starts again here
          }
          this.onChange();
        }
      } while (this.again);
    })().finally(() => { this.flushing = null; });
    return this.flushing;
  }

  /** The gateway refused a message the broker had acknowledged (gateway/refusals.py): the queued item it names (by
   * report id, command id or seq) is set aside as refused with the reason, never sent again. */
  async refused(payload) {
    let notice;
    try { notice = JSON.parse(new TextDecoder().decode(payload)); } catch { return; }
    if (!notice || typeof notice !== 'object') return;
    const reason = `${notice.reason}: ${String(notice.detail || '').slice(0, 300)}`;
    if (await refuseItem(notice, reason)) this.onChange();
  }

  /** A verification (核实) or check (核查) task: acknowledged at once, kept until answered. */
  async command(payload) {
    let command;
    try { command = JSON.parse(new TextDecoder().decode(payload)); } catch { return; }
    if (!command || typeof command !== 'object' || !command.command_id) return;
    const known = command.name === 'verify' || command.name === 'check';
    const ack = { command_id: command.command_id, status: known ? 'ok' : 'failed',
      detail: known ? '' : `unknown command ${command.name}` };
    // A command delivered again (QoS 1) finds its acknowledgement already queued: it is not taken twice.
    const fresh = await enqueue(`ack-${command.command_id}`, 'cmd/ack', ack, { label: command.name })
      .then(() => true, () => false);
    if (known && fresh) {
      const args = command.args || {};
      const taskId = String(args.task_id || command.command_id).slice(0, 64);
      await putTask({ task_id: taskId, name: command.name, args, received: Date.now(), answered: false });
      await enqueue(`task-${command.command_id}`, 'event', { type: 'task_received', task_id: taskId }).catch(() => null);
    }
    this.onChange();
    this.flush();
  }
}
