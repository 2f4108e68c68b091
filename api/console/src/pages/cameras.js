// Cameras: health, the latest snapshot with its regions of interest drawn over it; an operator edits the
// regions by drawing polygons (click to add corners, Finish to close) and saves them.
import { useEffect, useState } from 'preact/hooks';
import { api, optional } from '../api.js';
import { fmtTime, t } from '../i18n.js';
import { Empty, ErrorBox, html, useLoad } from '../ui.js';

function Snapshot({ cameraId }) {
  const [src, setSrc] = useState(null);
  useEffect(() => {
    let url;
    api(`/cameras/${cameraId}/snapshot`, { raw: true }).then((r) => r.blob()).then((b) => { url = URL.createObjectURL(b); setSrc(url); }, () => setSrc(''));
    return () => url && URL.revokeObjectURL(url);
  }, [cameraId]);
  return src ? html`<image href=${src} x="0" y="0" width="100%" height="100%" preserveAspectRatio="none" />` : null;
}

function Editor({ camera, canEdit, onSaved }) {
  const [rois, setRois] = useState(camera.rois);
  const [drawing, setDrawing] = useState(null);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(false);
  const w = camera.image_width || 1280;
  const h = camera.image_height || 720;
  function click(e) {
    if (!drawing) return;
    const box = e.currentTarget.getBoundingClientRect();
    const x = Math.round(((e.clientX - box.left) / box.width) * w);
    const y = Math.round(((e.clientY - box.top) / box.height) * h);
    setDrawing({ ...drawing, polygon: [...drawing.polygon, [x, y]] });
  }
  function finish(e) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    if (drawing.polygon.length < 3) { setError(new Error('≥ 3 points')); return; }
    setRois([...rois, { name: f.get('name'), event_code: f.get('event_code'), dwell_s: Number(f.get('dwell_s')), polygon: drawing.polygon }]);
    setDrawing(null);
  }
  async function save() {
    setError(null);
    try {
      const body = rois.map(({ id, name, event_code, polygon, dwell_s }) => ({ ...(id ? { id } : {}), name, event_code, polygon, dwell_s }));
      setRois(await api(`/cameras/${camera.device_id}/rois`, { method: 'PUT', body }));
      setSaved(true);
      onSaved();
    } catch (err) { setError(err); }
  }
  const pts = (poly) => poly.map(([x, y]) => `${x},${y}`).join(' ');
  return html`<div>
    <svg class="snapshot" viewBox=${`0 0 ${w} ${h}`} onClick=${click} role="img" aria-label=${`${t('snapshot')} ${camera.name}`}
      style=${{ width: '100%', maxWidth: '880px', background: '#222', cursor: drawing ? 'crosshair' : 'default' }}>
      <${Snapshot} cameraId=${camera.device_id} />
      ${rois.map((r) => html`<polygon points=${pts(r.polygon)} fill="rgba(255,200,0,.25)" stroke="#ffc800" stroke-width="3"><title>${r.name}</title></polygon>`)}
      ${drawing ? html`<polyline points=${pts(drawing.polygon)} fill="rgba(0,200,255,.2)" stroke="#00c8ff" stroke-width="3" />` : null}
    </svg>
    <table class="data"><caption class="sr-only">${t('rois')}</caption>
      <thead><tr><th scope="col">${t('name')}</th><th scope="col">${t('event_code')}</th><th scope="col">${t('dwell')}</th><th scope="col">${t('points')}</th><th scope="col"><span class="sr-only">${t('delete')}</span></th></tr></thead>
      <tbody>${rois.map((r, i) => html`<tr><td>${r.name}</td><td>${r.event_code}</td><td>${r.dwell_s}</td><td>${r.polygon.length}</td>
        <td>${canEdit ? html`<button type="button" class="small" onClick=${() => setRois(rois.filter((_, j) => j !== i))}>${t('delete')}</button>` : null}</td></tr>`)}</tbody></table>
    ${canEdit && !drawing ? html`<div class="row"><button type="button" onClick=${() => { setDrawing({ polygon: [] }); setSaved(false); }}>${t('draw_roi')}</button>
      <button type="button" onClick=${save}>${t('save')}</button>${saved ? html`<span class="ok" role="status">${t('saved')}</span>` : null}</div>` : null}
    ${drawing ? html`<form class="filters" onSubmit=${finish} aria-label=${t('draw_roi')}>
      <label for="roi-name">${t('name')}<input id="roi-name" name="name" required maxlength="100" /></label>
      <label for="roi-code">${t('event_code')}<input id="roi-code" name="event_code" required pattern="[CE][0-9]{4}" defaultValue="E0505" /></label>
      <label for="roi-dwell">${t('dwell')}<input id="roi-dwell" name="dwell_s" type="number" min="0" defaultValue="60" /></label>
      <span class="small">${drawing.polygon.length} ${t('points')}</span>
      <button type="submit">${t('finish')}</button><button type="button" class="link" onClick=${() => setDrawing(null)}>${t('cancel_btn')}</button>
    </form>` : null}
    <${ErrorBox} error=${error} />
  </div>`;
}

export function CamerasPage({ user }) {
  const [cameras, error] = useLoad(() => optional('/cameras', null), []);
  const [selected, setSelected] = useState(null);
  const [tick, setTick] = useState(0);
  const [camera, camError] = useLoad(() => (selected ? api(`/cameras/${selected}`) : Promise.resolve(null)), [selected, tick]);
  return html`<section class="cameras-page">
    <h1>${t('cameras')}</h1>
    <${ErrorBox} error=${error || camError} />
    ${cameras === null ? html`<p class="empty">${t('not_available')}</p>` : null}
    ${cameras && cameras.length === 0 ? html`<${Empty} />` : null}
    <div class="grid2">
      <div>${cameras && cameras.length ? html`<table class="data camera-list"><caption class="sr-only">${t('cameras')}</caption>
        <thead><tr><th scope="col">${t('name')}</th><th scope="col">${t('status')}</th><th scope="col">${t('last_snapshot')}</th><th scope="col">${t('rois')}</th></tr></thead>
        <tbody>${cameras.map((c) => html`<tr data-camera=${c.device_id}><td><button type="button" class="link" onClick=${() => setSelected(c.device_id)}>${c.name || c.device_id}</button></td>
          <td>${c.status.reachable ? t('reachable') : t('unreachable')}${c.status.last_error ? html` <span class="small">${c.status.last_error}</span>` : null}</td>
          <td>${fmtTime(c.status.last_snapshot_at)}</td><td>${c.roi_count}</td></tr>`)}</tbody></table>` : null}</div>
      <div class="panel">${camera ? html`<h2>${camera.name || camera.device_id}</h2>
        <${Editor} key=${camera.device_id + tick} camera=${camera} canEdit=${['operator', 'admin'].includes(user.role)} onSaved=${() => {}} />`
        : html`<p class="empty">${t('no_camera')}</p>`}</div>
    </div>
  </section>`;
}
