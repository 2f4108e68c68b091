// Evidence of a case: photos and voice notes (fetched with the token), notes, and sensor readings as a small chart.
import { useEffect, useRef, useState } from 'preact/hooks';
import { mediaUrl } from '../api.js';
import { fmtTime, t } from '../i18n.js';
import { html } from '../ui.js';

function useMedia(mediaId) {
  const [src, setSrc] = useState(null);
  useEffect(() => {
    let url;
    mediaUrl(mediaId).then((u) => { url = u; setSrc(u); }, () => setSrc(''));
    return () => url && URL.revokeObjectURL(url);
  }, [mediaId]);
  return src;
}

function Photo({ mediaId }) {
  const src = useMedia(mediaId);
  if (src === '') return html`<span class="small">${t('photo')} ${mediaId.slice(0, 8)} (—)</span>`;
  return src ? html`<img class="evidence-photo" src=${src} alt=${`${t('photo')} ${mediaId.slice(0, 8)}`} />` : null;
}

function Voice({ mediaId }) {
  const src = useMedia(mediaId);
  if (src === '') return html`<span class="small">${t('voice')} ${mediaId.slice(0, 8)} (—)</span>`;
  return src ? html`<audio class="evidence-voice" controls preload="metadata" src=${src}
    aria-label=${`${t('voice')} ${mediaId.slice(0, 8)}`}></audio>` : null;
}

// Bookkeeping numbers in alarm records that are not readings.
const SKIP = new Set(['seq', 'source_seq', 'v', 'version', 'lon', 'lat', 'ts']);

function numericFields(data) {
  const out = {};
  const scan = (obj) => {
    for (const [k, v] of Object.entries(obj || {})) {
      if (typeof v === 'number' && !SKIP.has(k)) out[k] = v;
    }
  };
  scan(data);
  scan(data && data.data);
  scan(data && data.reading);
  return out;
}

function Readings({ items }) {
  const el = useRef(null);
  const series = {};
  for (const e of items) {
    for (const [k, v] of Object.entries(numericFields(e.data))) (series[k] = series[k] || []).push([e.at, v]);
  }
  const names = Object.keys(series);
  useEffect(() => {
    if (!names.length) return undefined;
    let chart;
    import('../charts.js').then(({ echarts }) => {
      chart = echarts.init(el.current, null, { renderer: 'svg' });
      chart.setOption({
        animation: false, grid: { left: 40, right: 10, top: 24, bottom: 24 }, tooltip: { trigger: 'axis' },
        legend: { top: 0 }, xAxis: { type: 'time' }, yAxis: { type: 'value' },
        series: names.map((n) => ({ name: n, type: 'line', data: series[n], showSymbol: true })),
      });
    });
    return () => chart && chart.dispose();
  }, [JSON.stringify(series)]);
  if (!names.length) return null;
  return html`<figure class="readings"><figcaption>${t('readings')}</figcaption><div ref=${el} class="chart-small" role="img" aria-label=${t('readings')}></div></figure>`;
}

// Who a leader's instruction or a transfer came from, filed or linked (civicgrid/cases/referrals.py).
function Referral({ data }) {
  if (data.transfer) {
    return html`<div class="small referral" data-reference=${data.transfer.reference}>${t('in.tab.transfer')} ·
      ${t('in.from_body')} ${data.transfer.from_body} · ${t('in.reference')} ${data.transfer.reference}</div>`;
  }
  if (data.instruction) {
    return html`<div class="small referral" data-leader=${data.instruction.leader}>${t('in.tab.instruction')} ·
      ${t('in.leader')} ${data.instruction.leader}: ${data.instruction.text}</div>`;
  }
  return null;
}

export function Evidence({ items }) {
  if (!items.length) return html`<p class="empty">${t('empty')}</p>`;
  const sensor = items.filter((e) => e.kind === 'alarm' || e.kind === 'reading');
  return html`<div>
    <ul class="evidence">${items.map((e) => html`<li key=${e.id} data-kind=${e.kind}>
      <time>${fmtTime(e.at)}</time> <strong>${e.kind}</strong> ${e.device_id ? html`<span class="small">${e.device_id}</span>` : null}
      ${e.kind === 'photo' && e.data.media_id ? html`<div><${Photo} mediaId=${e.data.media_id} /></div>` : null}
      ${e.kind === 'voice' && e.data.media_id ? html`<div><${Voice} mediaId=${e.data.media_id} /></div>` : null}
      ${e.kind === 'note' || e.kind === 'report' ? html`<div class="small">${e.data.note || e.data.description || ''}</div><${Referral} data=${e.data} />` : null}
      ${e.kind === 'alarm' ? html`<div class="small">${e.data.rule || ''} ${e.data.urgency ? '· ' + e.data.urgency : ''}</div>` : null}
    </li>`)}</ul>
    <${Readings} items=${sensor} />
  </div>`;
}
