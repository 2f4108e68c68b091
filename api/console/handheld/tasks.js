// Verification (核实) and check (核查) tasks on the phone: the case's place and words, photos, the answer queued
// as a `verification` / `check` report with the case id as task_id (docs/handheld.md).
import { t } from './i18n.js';
import { Thumbs, usePhotos } from './photos.js';
import { enqueue, putTask } from './store.js';
import { html, newId, round7 } from './util.js';

const ANSWERS = { verify: [['confirmed', 'task.confirmed'], ['not_found', 'task.not_found']],
  check: [['fixed', 'task.fixed'], ['not_fixed', 'task.not_fixed']] };

function TaskItem({ task, fix, onQueued }) {
  const [photos, addPhotos] = usePhotos();
  const a = task.args || {};
  const kind = task.name === 'verify' ? 'task.verify' : 'task.check';
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
    await putTask({ ...task, answered: true, result });
    onQueued();
  }
  const inputId = `hh-task-photo-${task.task_id}`;
  return html`<li data-task=${task.task_id}>
    <strong>${t(kind)}</strong> ${a.case_no || ''}
    <p>${a.description || ''}</p>
    <p class="small">${a.category_code || ''} ${a.grid_cell_code || ''}</p>
    <${Thumbs} photos=${photos} />
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
