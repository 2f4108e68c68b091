// Statistics (docs/statistics.md): cases by category, source and area for a day, 旬, month, year or range, with the
// rates, hot cells, recurring problems and the trend against the previous period (GET /statistics); and the
// publications — daily statistics, 旬 analysis, monthly publication, yearly assessment — as Excel or PDF, made now
// for the chosen day (GET /statistics/documents/{kind}) or as recorded by the schedule (GET /statistics/publications).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { cityToday, t } from '../i18n.js';
import { Empty, ErrorBox, html, Select, useLoad } from '../ui.js';
import { sourceName, useSources } from '../sources.js';

const KINDS = ['daily', 'xun', 'monthly', 'yearly'];
const pct = (v) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)}%`);

function query(o) {
  const p = new URLSearchParams({ period: o.period, area_level: o.area_level });
  if (o.period === 'range') { p.set('date_from', o.from); p.set('date_to', o.to); } else p.set('day', o.day);
  if (o.category) p.set('category', o.category);
  if (o.source) p.set('source', o.source);
  return p;
}

// The file name the API gives (RFC 5987 filename*, Chinese), else the plain one.
function fileName(res, fallback) {
  const header = res.headers.get('content-disposition') || '';
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (star) return decodeURIComponent(star[1]);
  const plain = /filename="([^"]+)"/.exec(header);
  return plain ? plain[1] : fallback;
}

async function save(path, fallback) {
  const res = await api(path, { raw: true });
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName(res, fallback);
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function Chart({ option, label }) {
  const el = useRef(null);
  useEffect(() => {
    let chart;
    let alive = true;
    import('../charts.js').then(({ echarts }) => {
      if (!alive) return;
      chart = echarts.init(el.current, null, { renderer: 'svg' });
      chart.setOption(option);
    });
    return () => { alive = false; if (chart) chart.dispose(); };
  }, [JSON.stringify(option)]);
  return html`<div ref=${el} class="chart" role="img" aria-label=${label}></div>`;
}

function CountTable({ id, title, rows, keyTitle }) {
  return html`<div class="panel"><h2>${title}</h2>${rows.length ? html`<table class="data" id=${id}>
    <thead><tr><th scope="col">${keyTitle}</th><th scope="col">${t('name')}</th><th scope="col">${t('case_count')}</th>
      <th scope="col">${t('st.share')}</th><th scope="col">${t('st.closed')}</th><th scope="col">${t('st.closure_rate')}</th>
      <th scope="col">${t('st.on_time_closure_rate')}</th></tr></thead>
    <tbody>${rows.map((r) => html`<tr data-key=${r.key ?? ''}><td>${r.key ?? '—'}</td><td>${r.name}</td>
      <td>${r.totals.cases}</td><td>${pct(r.share)}</td><td>${r.totals.closed}</td><td>${pct(r.totals.closure_rate)}</td>
      <td>${pct(r.totals.on_time_closure_rate)}</td></tr>`)}</tbody></table>` : html`<${Empty} />`}</div>`;
}

function Downloads({ day }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(null);
  const get = (kind, format) => async () => {
    setBusy(`${kind}-${format}`);
    setError(null);
    try {
      await save(`/statistics/documents/${kind}?${new URLSearchParams({ day, format })}`, `civicgrid-${kind}.${format}`);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };
  return html`<div class="panel publications"><h2>${t('st.publications')} · ${day}</h2>
    <${ErrorBox} error=${error} />
    <table class="data"><tbody>${KINDS.map((k) => html`<tr data-kind=${k}><th scope="row">${t(`st.kind.${k}`)}</th>
      <td><button type="button" id=${`dl-${k}-xlsx`} disabled=${busy !== null} onClick=${get(k, 'xlsx')}>Excel</button></td>
      <td><button type="button" id=${`dl-${k}-pdf`} disabled=${busy !== null} onClick=${get(k, 'pdf')}>PDF</button></td>
    </tr>`)}</tbody></table>
    ${busy ? html`<p class="small" aria-live="polite">${t('st.generating')}</p>` : null}
  </div>`;
}

function Recorded() {
  const [list, error] = useLoad(() => api('/statistics/publications?limit=20'), []);
  return html`<div class="panel"><h2>${t('st.recorded')}</h2><${ErrorBox} error=${error} />
    ${list && list.length ? html`<table class="data" id="recorded"><thead><tr><th scope="col">${t('name')}</th>
      <th scope="col">${t('st.generated')}</th><th scope="col">${t('case_count')}</th><th scope="col"></th></tr></thead>
      <tbody>${list.map((p) => html`<tr><td>${p.title}</td><td>${p.generated_at.slice(0, 16).replace('T', ' ')} · ${t(`st.trigger.${p.trigger}`)}</td>
        <td>${p.cases}</td><td><button type="button" class="small" onClick=${() => save(`/statistics/publications/${p.id}/document?format=xlsx`, `${p.title}.xlsx`)}>Excel</button>
        <button type="button" class="small" onClick=${() => save(`/statistics/publications/${p.id}/document?format=pdf`, `${p.title}.pdf`)}>PDF</button></td></tr>`)}</tbody>
    </table>` : html`<${Empty} />`}</div>`;
}

export function StatisticsPage() {
  const today = cityToday();
  const [o, setO] = useState({ period: 'month', day: today, from: today, to: today, area_level: 'street', category: '', source: '' });
  const set = (k) => (v) => setO({ ...o, [k]: v ?? '' });
  const [sources] = useSources();  // the API's one list (GET /sources): the filter's choices and the table's names
  const [s, error, loading] = useLoad(() => api(`/statistics?${query(o)}`), [JSON.stringify(o)]);
  const trend = s ? s.trend : null;
  return html`<section class="statistics-page">
    <h1>${t('statistics')}</h1>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <${Select} id="st-period" label=${t('period')} value=${o.period} onChange=${set('period')}
        options=${['day', 'xun', 'month', 'year', 'range'].map((p) => [p, t(p === 'range' ? 'st.range' : p)])} />
      ${o.period === 'range'
        ? html`<label for="st-from">${t('start')}<input id="st-from" type="date" value=${o.from} onChange=${(e) => set('from')(e.currentTarget.value)} /></label>
          <label for="st-to">${t('end')}<input id="st-to" type="date" value=${o.to} onChange=${(e) => set('to')(e.currentTarget.value)} /></label>`
        : html`<label for="st-day">${t('date')}<input id="st-day" type="date" value=${o.day} onChange=${(e) => set('day')(e.currentTarget.value)} /></label>`}
      <${Select} id="st-area" label=${t('region_level')} value=${o.area_level} onChange=${set('area_level')}
        options=${['street', 'community', 'cell', 'grid'].map((p) => [p, t(p)])} />
      <label for="st-category">${t('category')}<input id="st-category" value=${o.category} placeholder="E01" size="6"
        onChange=${(e) => set('category')(e.currentTarget.value.trim().toUpperCase())} /></label>
      <${Select} id="st-source" label=${t('source')} value=${o.source} onChange=${set('source')} includeAll
        options=${sources.map((x) => [x.code, sourceName(sources, x.code)])} />
      ${loading ? html`<span class="small">${t('loading')}</span>` : null}
    </form>
    <${ErrorBox} error=${error} />
    ${s ? html`<p class="summary" id="st-summary">${s.period.label}：${t('case_count')} <strong>${s.totals.cases}</strong>
      · ${t('st.previous')} ${s.trend.previous_cases} (${pct(s.trend.change)})
      · ${t('st.closed')} ${s.totals.closed} · ${t('st.cancelled')} ${s.totals.cancelled} · ${t('open_cases')} ${s.totals.open}
      · ${t('st.closure_rate')} ${pct(s.totals.closure_rate)} · ${t('st.on_time_closure_rate')} ${pct(s.totals.on_time_closure_rate)}</p>
    <div class="grid2">
      <div class="panel"><h2>${t('st.trend')}</h2><${Chart} label=${t('st.trend')} option=${{
        animation: false, grid: { left: 40, right: 10, top: 30, bottom: 30 }, tooltip: { trigger: 'axis' },
        legend: { top: 0, data: [t('st.this_period'), t('st.previous')] },
        xAxis: { type: 'category', data: trend.points.map((p) => p.start.slice(5)) }, yAxis: { type: 'value', minInterval: 1 },
        series: [{ name: t('st.this_period'), type: 'line', data: trend.points.map((p) => p.cases), itemStyle: { color: '#2f5f98' } },
          { name: t('st.previous'), type: 'line', data: trend.points.map((p) => p.previous_cases), lineStyle: { type: 'dashed' }, itemStyle: { color: '#8a94a3' } }] }} /></div>
      <div class="panel"><h2>${t('st.by_category')}</h2><${Chart} label=${t('st.by_category')} option=${{
        animation: false, grid: { left: 110, right: 20, top: 10, bottom: 30 }, tooltip: {},
        yAxis: { type: 'category', inverse: true, data: s.by_category.slice(0, 10).map((r) => r.name) }, xAxis: { type: 'value', minInterval: 1 },
        series: [{ type: 'bar', data: s.by_category.slice(0, 10).map((r) => r.totals.cases), itemStyle: { color: '#2f5f98' } }] }} /></div>
    </div>
    ${s.totals.cases === 0 ? html`<${Empty} />` : null}
    <div class="grid2">
      <${CountTable} id="st-by-source" title=${t('st.by_source')} rows=${s.by_source.map((r) => (r.key ? { ...r, name: sourceName(sources, r.key) } : r))} keyTitle=${t('source')} />
      <${CountTable} id="st-by-area" title=${`${t('st.by_area')} · ${t(s.area_level)}`} rows=${s.by_area} keyTitle=${t('st.code')} />
      <${CountTable} id="st-by-category" title=${t('st.by_category')} rows=${s.by_category} keyTitle=${t('category')} />
      <${CountTable} id="st-hot-cells" title=${t('st.hot_cells')} rows=${s.hot_cells} keyTitle=${t('cell')} />
    </div>
    <div class="panel"><h2>${t('st.recurring')}</h2>${s.recurring.length ? html`<table class="data" id="st-recurring">
      <thead><tr><th scope="col">${t('cell')}</th><th scope="col">${t('category')}</th><th scope="col">${t('name')}</th><th scope="col">${t('case_count')}</th></tr></thead>
      <tbody>${s.recurring.map((h) => html`<tr><td>${h.cell}</td><td>${h.category}</td><td>${h.category_name}</td><td>${h.cases}</td></tr>`)}</tbody>
    </table>` : html`<${Empty} />`}</div>` : null}
    <div class="grid2">
      <${Downloads} day=${o.period === 'range' ? o.to : o.day} />
      <${Recorded} />
    </div>
  </section>`;
}
