// The alarm feed as a list, newest first; urgency A highlighted (and a sound, see feed.js); acknowledge.
import { memo } from 'preact/compat';
import { useEffect, useState } from 'preact/hooks';
import { feed } from '../feed.js';
import { fmtTime, t } from '../i18n.js';
import { html } from '../ui.js';

// Entries are immutable: memo keeps a 300-entry list from re-rendering every row on each new event.
const AlarmEntry = memo(({ entry, acked, onLocate }) => {
  const a = entry.data;
  return html`<li class="feed-entry alarm urgency-${a.urgency || 'C'} ${a.action} ${acked ? 'acked' : ''}"
      data-kind="alarm" data-device=${a.device_id} data-alarm=${a.alarm_id} data-id=${entry.id}>
    <div class="row"><span class="badge u-${a.urgency || 'C'}">${a.urgency || '—'}</span>
      <strong>${t('alarm')} · ${t(a.action)}</strong><time>${fmtTime(a.at, 'time')}</time></div>
    <div class="row small">${t('device')} ${a.device_id} · ${t('rule')} ${a.rule} · ${a.category || ''}</div>
    <div class="row small">${t('cell')} ${a.cell || '—'}</div>
    <div class="row">
      ${onLocate ? html`<button type="button" class="small" onClick=${() => onLocate(entry)}>${t('map')}</button>` : null}
      ${a.action === 'raise' && !acked ? html`<button type="button" class="small" onClick=${() => feed.ack(entry.id)}>${t('ack')}</button>` : null}
      ${acked ? html`<span class="small">${t('acked')}</span>` : null}
    </div>
  </li>`;
});

const CaseEntry = memo(({ entry }) => {
  const e = entry.data;
  return html`<li class="feed-entry case-event" data-kind="case_event" data-case=${e.case_id} data-id=${entry.id}>
    <div class="row"><strong>${t('action.' + e.action)}</strong> → ${t('state.' + e.to_state)}<time>${fmtTime(e.at, 'time')}</time></div>
    <div class="row small">${e.category || ''} · ${t('source.' + e.source)} · ${e.cell || '—'}${e.department ? ' · ' + e.department : ''}</div>
    <div class="row"><a href=${'#/cases/' + e.case_id}>${t('open_case')}</a></div>
  </li>`;
});

export function FeedPanel({ onLocate }) {
  const [, setTick] = useState(0);
  useEffect(() => feed.subscribe(() => setTick((x) => x + 1)), []);
  return html`<aside class="feed" aria-labelledby="feed-title">
    <h2 id="feed-title">${t('feed')} <span class="small">(${feed.entries.length})</span></h2>
    ${feed.entries.length === 0 ? html`<p class="empty">${t('no_entries')}</p>` : null}
    <ol class="feed-list" aria-live="polite">
      ${feed.entries.map((entry) => (entry.kind === 'alarm'
        ? html`<${AlarmEntry} key=${entry.id} entry=${entry} acked=${feed.acked.has(entry.id)} onLocate=${onLocate} />`
        : html`<${CaseEntry} key=${entry.id} entry=${entry} />`))}
    </ol>
  </aside>`;
}
