// Verification (核实) and check (核查) tasks on the phone: the case's place, words and photos, the answer queued
// as a `verification` / `check` report with the case id as task_id (docs/handheld.md). The case's photos are
// downloaded when the task arrives (GET /handhelds/media/<id>, with the device's credentials: only the photos of
// tasks sent to this phone) and kept with the task in IndexedDB, so the card shows them in a basement too.
import { t } from './i18n.js';
import { basic } from './outbox.js';
import { Thumbs, usePhotos } from './photos.js';
import { enqueue, putTask, tasks as loadTasks, updateTask } from './store.js';
import { html, newId, round7 } from './util.js';

const MEDIA_ID = /^[0-9a-f]{64}$/;
const GONE = new Set([401, 403, 404]);  // never there for this phone: not asked again

/** The photo ids a task names (as many as a report may carry), well-formed only. */
function wanted(task) {
  const ids = Array.isArray(task.args?.photo_ids) ? task.args.photo_ids : [];
  return ids.filter((id) => typeof id === 'string' && MEDIA_ID.test(id)).slice(0, 9);
}

/** Download the case photos the open tasks lack; true when any was kept. Stops at the first network failure
 * (the next time online goes on). */
export async function keepTaskPhotos(pairing) {
  let kept = false;
  for (const task of await loadTasks()) {
    if (task.answered) continue;
    const photos = task.photos || [];
    const gone = task.photos_gone || [];
    const missing = wanted(task).filter((id) => !photos.some((p) => p.id === id) && !gone.includes(id));
    if (!missing.length) continue;
    for (const id of missing) {
      let res;
      try {
        res = await fetch(`/handhelds/media/${id}`, { headers: { Authorization: basic(pairing) } });
      } catch {
        return kept;
      }
      if (res.ok) photos.push({ id, blob: await res.blob(), type: res.headers.get('Content-Type') || 'image/jpeg' });
      else if (GONE.has(res.status)) gone.push(id);
      else return kept;
      await updateTask(task.task_id, task.received, { photos, photos_gone: gone });
      kept = true;
    }
  }
  return kept;
}

const ANSWERS = { verify: [['confirmed', 'task.confirmed'], ['not_found', 'task.not_found']],
  check: [['fixed', 'task.fixed'], ['not_fixed', 'task.not_fixed']] };

function TaskItem({ task, fix, onQueued }) {
  const [photos, addPhotos] = usePhotos();
  const a = task.args || {};
  const kind = task.name === 'verify' ? 'task.verify' : 'task.check';
  const ids = wanted(task);
  const shown = ids.map((id) => (task.photos || []).find((p) => p.id === id)).filter(Boolean);
  const waiting = ids.length - shown.length - ids.filter((id) => (task.photos_gone || []).includes(id)).length;
  async function answer(result) {
    const lon = fix ? fix.lon : a.lon;
    const lat = fix ? fix.lat : a.lat;
    if (lon == null || lat == null) return;
    const reportId = newId('a');
    const said = t(ANSWERS[task.name].find(([r]) => r === result)[1]);
    const fields = { report_id: reportId, kind: task.name === 'verify' ? 'verification' : 'check',
      task_id: task.task_id, result, category_code: a.category_code || 'E0102', description: said,
      lon: round7(lon), lat: round7(lat) };
    if (fix) fields.accuracy_m = Math.round(fix.accuracy * 10) / 10;
    if (photos.length) fields.photo_ids = photos.map((p) => p.id);
    await enqueue(reportId, 'report', fields, { photos, label: `${t(kind)} ${a.case_no || ''} · ${said}` });
    await putTask({ ...task, answered: true, result, photos: [] });  // (the case's photos: not kept once answered)
    onQueued();
  }
  const inputId = `hh-task-photo-${task.task_id}`;
  return html`<li data-task=${task.task_id}>
    <strong>${t(kind)}</strong> ${a.case_no || ''}
    <p>${a.description || ''}</p>
    <p class="small place" data-cell=${a.grid_cell_code || ''}>📍 ${a.address ? `${a.address} · ` : ''}${t('cell')}
      ${a.grid_cell_code || t('cell.outside')}${a.lon != null && a.lat != null
        ? ` · ${Number(a.lon).toFixed(5)}, ${Number(a.lat).toFixed(5)}` : ''} · ${a.category_code || ''}</p>
    ${ids.length ? html`<div class="case-photos" aria-label=${t('task.photos')}>
      <${Thumbs} photos=${shown} />
      ${waiting ? html`<p class="small">${waiting} ${t('task.photos_waiting')}</p>` : null}</div>` : null}
    <div class="answer-photos" aria-label=${t('task.answer_photos')}><${Thumbs} photos=${photos} /></div>
    <label class="button secondary" for=${inputId}>📷 ${t('photo.take')} (${photos.length})</label>
    <input id=${inputId} class="visually-hidden task-photo" type="file" accept="image/*" capture="environment" multiple
      onChange=${addPhotos} />
    <div class="answers">${ANSWERS[task.name].map(([result, label]) => html`<button type="button" class="button"
      data-result=${result} onClick=${() => answer(result)}>${t(label)}</button>`)}</div>
  </li>`;
}

export function TasksView({ tasks, fix, onQueued }) {
  const open = tasks.filter((x) => !x.answered);
  return html`<section class="tasks" aria-label=${t('tasks')}>
    ${open.length ? html`<ul id="hh-tasks">${open.map((task) => html`<${TaskItem} key=${task.task_id} task=${task}
      fix=${fix} onQueued=${onQueued} />`)}</ul>` : html`<p class="empty">${t('tasks.empty')}</p>`}
  </section>`;
}
