// Scoring (CJ/T 292): region, department and post tables for a day, 旬, month or year, with grade and rank (in a
// city with centres the region and department tables also rolled up by centre, docs/centres.md),
// a bar chart of composite scores, a trend line per unit over the previous periods, and CSV download.
// Each rate shows its numerator and denominator; one with nothing due shows "—" (the API's null), never 1.000.
// Below the table: the composite's weights, what a rate with nothing due counts for, and the rule-pack versions.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, download } from '../api.js';
import { cityToday, t } from '../i18n.js';
import { Empty, ErrorBox, html, Select, useLoad } from '../ui.js';

const TREND_PERIODS = 6;
const TREND_UNITS = 8;

function shiftDay(day, period, n) {
  const d = new Date(`${day}T12:00:00+08:00`);
  if (period === 'day') d.setUTCDate(d.getUTCDate() - n);
  else if (period === 'xun') d.setUTCDate(d.getUTCDate() - 10 * n);
  else if (period === 'month') d.setUTCMonth(d.getUTCMonth() - n);
  else d.setUTCFullYear(d.getUTCFullYear() - n);
  return d.toISOString().slice(0, 10);
}

function query(opts, day) {
  const p = new URLSearchParams({ period: opts.period, day });
  if (opts.level === 'region') p.set('region_level', opts.region_level);
  if (opts.level === 'department' && opts.department_level === 'centre') p.set('department_level', 'centre');
  if (opts.level === 'post') p.set('role', opts.role);
  return p;
}

const pct = (w) => `${Math.round(w * 1000) / 10}%`;

// The weighted indicators in the pack's order, then the rates shown beside them (e.g. the rework rate itself).
function indicatorColumns(table) {
  const rows = table ? table.rows : [];
  const weighted = Object.keys((table && table.weights) || {});
  const others = [...new Set(rows.flatMap((r) => Object.keys(r.indicators)))].filter((k) => !weighted.includes(k)).sort();
  return [...weighted, ...others];
}

function IndicatorCell({ row, k }) {
  const value = row.indicators[k];
  const ratio = row.ratios[k];
  if (value === undefined) return html`<td>—</td>`;
  if (value === null) {
    return html`<td class="nothing-due" title=${t('nothing_due')} aria-label=${`— ${t('nothing_due')}`}>—</td>`;
  }
  return html`<td>${(+value).toFixed(3)}${ratio ? html` <span class="small ratio">${ratio.numerator}/${ratio.denominator}</span>` : null}</td>`;
}

function Composition({ table }) {
  const weights = Object.entries(table.weights || {});
  const empty = table.empty_rate === 'exclude' ? t('empty_rate_exclude') : `${t('empty_rate_counts')} ${(+table.empty_rate).toFixed(3)}`;
  const versions = (table.case_rules_versions || []).map((v) => `v${v}`).join(', ');
  return html`<p class="small composition">
    ${t('composite')} = ${weights.map(([k, w], i) => html`${i ? ' + ' : ''}${pct(w)} ${t(`ind.${k}`)}`)}${' · '}${t('nothing_due')}: ${empty}${' · '}${t('rules_version')} v${table.rules_version}${versions ? ` (${t('case_rules_versions')}: ${versions})` : ''}
  </p>`;
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

export function ScoringPage() {
  const [opts, setOpts] = useState({ level: 'department', period: 'month', day: cityToday(), region_level: 'street', department_level: 'department', role: 'inspector' });
  const set = (k) => (v) => setOpts({ ...opts, [k]: v || opts[k] });
  const [departments] = useLoad(() => api('/departments'), []);
  const [centres] = useLoad(() => api('/centres'), []);
  const byCentre = (opts.level === 'department' && opts.department_level === 'centre') || (opts.level === 'region' && opts.region_level === 'centre');
  const [table, error, loading] = useLoad(() => api(`/scoring/${opts.level}?${query(opts, opts.day)}`), [JSON.stringify(opts)]);
  const [trend] = useLoad(async () => {
    const days = Array.from({ length: TREND_PERIODS }, (_, i) => shiftDay(opts.day, opts.period, TREND_PERIODS - 1 - i));
    const tables = await Promise.all(days.map((d) => api(`/scoring/${opts.level}?${query(opts, d)}`).catch(() => null)));
    return { days, tables };
  }, [JSON.stringify(opts)]);
  const name = (s) => {
    const list = byCentre ? centres : (opts.level === 'department' ? departments : null);
    return (list && (list.find((d) => d.id === s) || {}).name) || s;
  };
  const hasCentres = !!(centres && centres.length);
  const rows = table ? table.rows : [];
  const indicators = indicatorColumns(table);
  const weights = (table && table.weights) || {};
  const top = rows.slice(0, TREND_UNITS).map((r) => r.subject);
  return html`<section class="scoring-page">
    <h1>${t('scoring')}</h1>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <${Select} id="s-level" label=${t('level')} value=${opts.level} onChange=${set('level')}
        options=${[['region', t('region')], ['department', t('department')], ['post', t('post')]]} />
      <${Select} id="s-period" label=${t('period')} value=${opts.period} onChange=${set('period')}
        options=${['day', 'xun', 'month', 'year'].map((p) => [p, t(p)])} />
      <label for="s-day">${t('date')}<input id="s-day" type="date" value=${opts.day} onChange=${(e) => set('day')(e.currentTarget.value)} /></label>
      ${opts.level === 'region' ? html`<${Select} id="s-region" label=${t('region_level')} value=${opts.region_level} onChange=${set('region_level')}
        options=${[...['county', 'street', 'community', 'grid'].map((p) => [p, t(p)]), ...(hasCentres ? [['centre', t('by_centre')]] : [])]} />` : null}
      ${opts.level === 'department' && hasCentres ? html`<${Select} id="s-dept-level" label=${t('department_level')} value=${opts.department_level}
        onChange=${set('department_level')} options=${[['department', t('by_department')], ['centre', t('by_centre')]]} />` : null}
      ${opts.level === 'post' ? html`<${Select} id="s-role" label=${t('role')} value=${opts.role} onChange=${set('role')}
        options=${['inspector', 'operator', 'shift_leader', 'dispatcher'].map((p) => [p, t(p)])} />` : null}
      <button type="button" onClick=${() => download(`/scoring/${opts.level}?${query(opts, opts.day)}&format=csv`,
        `scoring-${opts.level}-${opts.period}-${opts.day}.csv`)}>${t('download_csv')}</button>
      ${loading ? html`<span class="small">${t('loading')}</span>` : null}
    </form>
    <${ErrorBox} error=${error} />
    ${table ? html`<p class="small">${t('case_count')}: ${table.cases}</p>` : null}
    ${table && rows.length === 0 ? html`<${Empty} />` : null}
    ${rows.length ? html`<div class="grid2">
      <div class="panel"><h2>${t('composite')}</h2><${Chart} label=${t('composite')} option=${{
        animation: false, grid: { left: 50, right: 10, top: 10, bottom: 60 }, tooltip: {},
        xAxis: { type: 'category', data: rows.map((r) => name(r.subject)), axisLabel: { rotate: 30 } },
        yAxis: { type: 'value', max: 100 },
        series: [{ type: 'bar', data: rows.map((r) => r.score), itemStyle: { color: '#2f5f98' } }] }} /></div>
      <div class="panel"><h2>${t('trend')}</h2>${trend ? html`<${Chart} label=${t('trend')} option=${{
        animation: false, grid: { left: 50, right: 10, top: 40, bottom: 30 }, tooltip: { trigger: 'axis' },
        legend: { top: 0, type: 'scroll' }, xAxis: { type: 'category', data: trend.days },
        yAxis: { type: 'value', max: 100 },
        series: top.map((s) => ({ name: name(s), type: 'line', connectNulls: true,
          data: trend.tables.map((tb) => { const r = tb && tb.rows.find((x) => x.subject === s); return r ? r.score : null; }) })) }} />` : null}</div>
    </div>
    <table class="data score-table">
      <caption class="sr-only">${t('scoring')}</caption>
      <thead><tr><th scope="col">${t('rank')}</th><th scope="col">${t('subject')}</th><th scope="col">${t('score')}</th>
        <th scope="col">${t('grade')}</th>${indicators.map((k) => html`<th scope="col" data-indicator=${k} title=${k}>${t(`ind.${k}`)}${
          weights[k] !== undefined ? html`<br /><span class="small">${t('weight')} ${pct(weights[k])}</span>` : null}</th>`)}</tr></thead>
      <tbody>${rows.map((r) => html`<tr data-subject=${r.subject}><td>${r.rank}</td><td>${name(r.subject)}</td>
        <td>${r.score === null ? '—' : r.score.toFixed(1)}</td><td>${r.grade === null ? '—' : r.grade}</td>
        ${indicators.map((k) => html`<${IndicatorCell} row=${r} k=${k} />`)}</tr>`)}</tbody>
    </table>
    <${Composition} table=${table} />` : null}
  </section>`;
}
