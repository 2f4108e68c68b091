// The phone's own storage (IndexedDB): the pairing, the queue of everything the inspector did, the category list,
// the tasks received, and the message counter. Nothing the inspector does waits for the network: an action is
// written here first, with its own report id, its MQTT seq and its exact payload bytes, and only then sent
// (outbox.js). A resend after a lost acknowledgement is therefore byte-identical: the gateway drops it by
// (device, seq), and the case builder by report id.
const DB_NAME = 'civicgrid-handheld';
const DB_VERSION = 1;
let opened = null;

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
  });
}

export function openDb() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        db.createObjectStore('kv');
        const queue = db.createObjectStore('queue', { keyPath: 'id' });
        queue.createIndex('seq', 'seq');
        db.createObjectStore('tasks', { keyPath: 'task_id' });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return opened;
}

export async function getKv(key) {
  const db = await openDb();
  return promised(db.transaction('kv').objectStore('kv').get(key));
}

export async function setKv(key, value) {
  const db = await openDb();
  const tx = db.transaction('kv', 'readwrite');
  tx.objectStore('kv').put(value, key);
  await done(tx);
}

/** A new pairing: the credentials replace the old ones; the old device's unsent queue is dropped with it
 * (its messages carry the old device's seq and could not be sent under the new id). */
export async function savePairing(pairing) {
  const db = await openDb();
  const tx = db.transaction(['kv', 'queue', 'tasks'], 'readwrite');
  const kv = tx.objectStore('kv');
  kv.put(pairing, 'pairing');
  kv.put(0, 'seq');
  tx.objectStore('queue').clear();
  tx.objectStore('tasks').clear();
  await done(tx);
}

/**
 * Queue one message: `channel` (report, track, event, cmd/ack…), its fields, photos as {id, blob, type}.
 * The seq is taken from the counter in the same transaction, and the payload serialised now, once.
 */
export async function enqueue(id, channel, fields, { photos = [], label = '', ts = new Date() } = {}) {
  const db = await openDb();
  const tx = db.transaction(['kv', 'queue'], 'readwrite');
  const kv = tx.objectStore('kv');
  const seq = ((await promised(kv.get('seq'))) || 0) + 1;
  kv.put(seq, 'seq');
  const body = channel === 'cmd/ack' ? JSON.stringify(fields) : JSON.stringify({ seq, ts: ts.toISOString(), ...fields });
  const item = { id, channel, seq, body, photos, label, created: ts.getTime(), state: 'pending', sent_at: null, error: null };
  tx.objectStore('queue').add(item);
  await done(tx);
  return item;
}

export async function queueItems() {
  const db = await openDb();
  const items = await promised(db.transaction('queue').objectStore('queue').index('seq').getAll());
  return items;
}

/** Change a queued item; with `onlyIf`, only while it is in that state. */
export async function updateItem(id, changes, onlyIf = null) {
  const db = await openDb();
  const tx = db.transaction('queue', 'readwrite');
  const store = tx.objectStore('queue');
  const item = await promised(store.get(id));
  if (item && (!onlyIf || item.state === onlyIf)) store.put({ ...item, ...changes });
  await done(tx);
}

/** The item a gateway refusal notice names ({seq, report_id, command_id}) set aside as refused, photos dropped.
 * By report id or command id when the notice has one, else by seq; a notice naming none is ignored. */
export async function refuseItem(notice, reason) {
  const db = await openDb();
  const tx = db.transaction('queue', 'readwrite');
  const store = tx.objectStore('queue');
  let item = null;
  if (notice.report_id) item = await promised(store.get(notice.report_id));
  else if (notice.command_id) item = await promised(store.get(`ack-${notice.command_id}`));
  else if (Number.isInteger(notice.seq)) item = await promised(store.index('seq').get(notice.seq));
  if (item && item.state !== 'failed') store.put({ ...item, state: 'failed', error: reason, photos: [] });
  await done(tx);
  return !!item;
}

/** Sent items are kept a day for the queue view (without their photos), then forgotten. */
export async function pruneSent(now = Date.now(), keepMs = 24 * 3600 * 1000) {
  const db = await openDb();
  const tx = db.transaction('queue', 'readwrite');
  const store = tx.objectStore('queue');
  for (const item of await promised(store.getAll())) {
    if (item.state === 'sent' && now - item.sent_at > keepMs) store.delete(item.id);
  }
  await done(tx);
}

export async function putTask(task) {
  const db = await openDb();
  const tx = db.transaction('tasks', 'readwrite');
  tx.objectStore('tasks').put(task);
  await done(tx);
}

/** Change a kept task, only while it is the one `received` then (a newer task for the case replaced it: left alone). */
export async function updateTask(taskId, received, changes) {
  const db = await openDb();
  const tx = db.transaction('tasks', 'readwrite');
  const store = tx.objectStore('tasks');
  const task = await promised(store.get(taskId));
  if (task && task.received === received) store.put({ ...task, ...changes });
  await done(tx);
}

export async function tasks() {
  const db = await openDb();
  return promised(db.transaction('tasks').objectStore('tasks').getAll());
}
