// Capture and file (视频抓拍): the operator picks a camera, sees its latest snapshot, draws the region of the
// problem (two clicks: opposite corners) and files it — source camera, the camera's cell, the snapshot and a copy
// with the region marked as evidence (POST /intake/captures). Once the camera and the category are known, the open
// cases of that category near the camera are offered (pages/intake-duplicates.js): linking one puts the snapshot
// and the description on it instead of filing a new case.
import { useEffect, useState } from 'preact/hooks';
import { api, optional } from '../api.js';
import { t } from '../i18n.js';
import { ErrorBox, html, Select, useLoad } from '../ui.js';
import { CategoryField, Filed } from './intake-place.js';
import { Duplicates, linkTo, useDuplicates } from './intake-duplicates.js';

/** [object URL of the camera's latest snapshot ('' when it has none), the snapshot itself]. */
function useSnapshot(deviceId, tick) {
  const [shot, setShot] = useState({ src: null, blob: null });
  useEffect(() => {
    if (!deviceId) { setShot({ src: null, blob: null }); return undefined; }
    let url;
    let alive = true;
    api(`/cameras/${deviceId}/snapshot`, { raw: true }).then((r) => r.blob()).then((b) => {
      url = URL.createObjectURL(b);
      if (alive) setShot({ src: url, blob: b });
    }, () => alive && setShot({ src: '', blob: null }));
    return () => { alive = false; if (url) URL.revokeObjectURL(url); };
  }, [deviceId, tick]);
  return [shot.src, shot.blob];
}

export function CaptureForm() {
  const [cameras, error] = useLoad(() => optional('/cameras', []), []);
  const [deviceId, setDeviceId] = useState(null);
  const [camera] = useLoad(() => (deviceId ? api(`/cameras/${deviceId}`) : Promise.resolve(null)), [deviceId]);
  const [tick, setTick] = useState(0);
  const [src, snapshot] = useSnapshot(deviceId, tick);
  const [corners, setCorners] = useState([]);
  const [category, setCategory] = useState(null);
  const [description, setDescription] = useState('');
  const [busy, setBusy] = useState(false);
  const [fileError, setFileError] = useState(null);
  const [result, setResult] = useState(null);
  const w = (camera && camera.image_width) || 1280;
  const h = (camera && camera.image_height) || 720;
  const found = useDuplicates(category, camera && camera.device_id === deviceId ? camera : null);
  function click(e) {
    const box = e.currentTarget.getBoundingClientRect();
    const x = Math.min(w, Math.max(0, Math.round(((e.clientX - box.left) / box.width) * w)));
    const y = Math.min(h, Math.max(0, Math.round(((e.clientY - box.top) / box.height) * h)));
    setCorners(corners.length >= 2 ? [[x, y]] : [...corners, [x, y]]);
  }
  const rect = corners.length === 2 ? (() => {
    const [[x1, y1], [x2, y2]] = corners;
    return [[Math.min(x1, x2), Math.min(y1, y2)], [Math.max(x1, x2), Math.min(y1, y2)],
      [Math.max(x1, x2), Math.max(y1, y2)], [Math.min(x1, x2), Math.max(y1, y2)]];
  })() : null;
  async function submit(e) {
    e.preventDefault();
    if (!rect) { setFileError(new Error(t('in.need_region'))); return; }
    if (!category) { setFileError(new Error(t('in.need_category'))); return; }
    setBusy(true); setFileError(null); setResult(null);
    try {
      const c = await api('/intake/captures', { method: 'POST', body: {
        device_id: deviceId, category_code: category, description: description || null, region: rect,
        client_ref: crypto.randomUUID() } });
      setResult({ case: c }); setCorners([]); setCategory(null); setDescription('');
    } catch (err) { setFileError(err); } finally { setBusy(false); }
  }
  async function link(d) {
    setBusy(true); setFileError(null); setResult(null);
    try {
      const ids = [];
      if (snapshot) {
        const form = new FormData();
        form.append('file', snapshot, 'snapshot.jpg');
        ids.push((await api('/media', { method: 'POST', form })).id);
      }
      setResult(await linkTo(d, { channel: 'camera', description: description || null, media_ids: ids }));
      setCorners([]); setCategory(null); setDescription('');
    } catch (err) { setFileError(err); } finally { setBusy(false); }
  }
  const pts = (poly) => poly.map(([x, y]) => `${x},${y}`).join(' ');
  return html`<form class="intake-form" id="capture-form" onSubmit=${submit} aria-labelledby="capture-title">
    <h2 id="capture-title">${t('in.tab.capture')}</h2>
    <${ErrorBox} error=${error} />
    <${Select} id="capture-camera" label=${t('device')} value=${deviceId} includeAll
      onChange=${(v) => { setDeviceId(v); setCorners([]); setResult(null); }}
      options=${(cameras || []).map((c) => [c.device_id, `${c.name} (${c.device_id})`])} />
    ${deviceId ? html`<div class="capture">
      <p class="small">${t('in.draw_hint')} <button type="button" class="small link" onClick=${() => { setTick((x) => x + 1); setCorners([]); }}>${t('in.refresh')}</button></p>
      <svg class="snapshot capture-snapshot" viewBox=${`0 0 ${w} ${h}`} onClick=${click} role="img"
        aria-label=${`${t('snapshot')} ${(camera && camera.name) || deviceId}`} data-corners=${corners.length}>
        ${src ? html`<image href=${src} x="0" y="0" width=${w} height=${h} preserveAspectRatio="none" />` : null}
        ${corners.length === 1 ? html`<circle cx=${corners[0][0]} cy=${corners[0][1]} r=${Math.max(4, w / 200)} fill="#00c8ff" />` : null}
        ${rect ? html`<polygon class="region" points=${pts(rect)} fill="rgba(230,40,40,.2)" stroke="#e62828" stroke-width=${Math.max(2, w / 400)} />` : null}
      </svg>
      ${src === '' ? html`<p class="small">${t('in.no_snapshot')}</p>` : null}
    </div>` : null}
    <${CategoryField} idPrefix="capture" value=${category} onChange=${setCategory} />
    <label for="capture-description" class="wide">${t('description')}<textarea id="capture-description" rows="2" maxlength="2000"
      value=${description} onInput=${(e) => setDescription(e.currentTarget.value)}></textarea></label>
    <${Duplicates} found=${found} onLink=${link} busy=${busy} />
    <div class="row"><button type="submit" id="capture-submit" disabled=${busy || !deviceId}>${found.length ? t('in.file_as_new') : t('in.file')}</button></div>
    <${ErrorBox} error=${fileError} />
    <${Filed} result=${result} />
  </form>`;
}
