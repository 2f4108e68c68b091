// The alarm feed as a list, newest first; urgency A highlighted (and a sound, see feed.js); acknowledge.
import { memo } from 'preact/compat';
import { useEffect, useState } from 'preact/hooks';
import { feed } from '../feed.js';
import { fmtTime, t } from '../i18n.js';
import { sourceName, useSources } from '../sources.js';
import { html } from '../ui.js';

// Entries are immutable: memo keeps a 300-entry list from re-rendering every row on each new event.
// Roles the API lets acknowledge an alarm (api/routes/alarms.py ACKERS).
export const ACKERS = new Set(['operator', 'dispatcher', 'shift_leader', 'leader']);

const AlarmEntry = memo(({ entry, acked, canAck, onLocate }) => {  // acked: who acknowledged it, if anyone
  const a = entry.data;
  return html`<li class="feed-entry alarm urgency-${a.urgency || 'C'} ${a.action} ${acked ? 'acked' : ''}"
      data-kind="alarm" data-device=${a.device_id} data-alarm=${a.alarm_id} data-id=${entry.id}>
    <div class="row"><span class="badge u-${a.urgency || 'C'}">${a.urgency || '—'}</span>
      <strong>${t('alarm')} · ${t(a.action)}</strong><time>${fmtTime(a.at, 'time')}</time></div>
    <div class="row small">${t('device')} ${a.device_id} · ${t('rule')} ${a.rule} · ${a.category || ''}</div>
    <div class="row small">${t('cell')} ${a.cell || '—'}</div>
    <div class="row">
      ${onLocate ? html`<button type="button" class="small" onClick=${() => onLocate(entry)}>${t('map')}</button>` : null}
      ${a.action === 'raise' && !acked && canAck ? html`<button type="button" class="small" onClick=${() => feed.ack(a.alarm_id)}>${t('ack')}</button>` : null}
      ${acked ? html`<span class="small acked-by">${t('acked')} · ${acked}</span>` : null}
    </div>
  </li>`;
});

// The deadline watch's events in words: which step, how much of its limit is used, when it is due.
function deadlineWords(e) {
  const d = e.data || {};
  if (!d.step) return null;
  const step = t('step.' + d.step);
  const due = fmtTime(d.deadline_at, 'time');
  if (e.action === 'deadline_warning') return t('warning_words')(step, `${Math.round((d.share || 0.8) * 100)}%`, due);
  if (e.action === 'overdue') return t('overdue_words')(step, due);
  return null;
}

const CaseEntry = memo(({ entry, sources }) => {  // sources: the API's one list (GET /sources, sources.js)
  const e = entry.data;
  const words = deadlineWords(e);
  return html`<li class="feed-entry case-event ${words ? 'deadline ' + e.action : ''}" data-kind="case_event"
      data-case=${e.case_id} data-action=${e.action} data-id=${entry.id}>
    <div class="row"><strong>${t('action.' + e.action)}</strong> → ${t('state.' + e.to_state)}<time>${fmtTime(e.at, 'time')}</time></div>
    ${words ? html`<div class="row deadline-words">${words}</div>` : null}
    <div class="row small">${e.category || ''} · ${sourceName(sources, e.source)} · ${e.cell || '—'}${e.department ? ' · ' + e.department : ''}</div>
    <div class="row"><a href=${'#/cases/' + e.case_id}>${t('open_case')}</a></div>
  </li>`;
});

export function FeedPanel({ onLocate, canAck }) {
  const [, setTick] = useState(0);
  const [sources] = useSources();
  useEffect(() => feed.subscribe(() => setTick((x) => x + 1)), []);
  return html`<aside class="feed" aria-labelledby="feed-title">
    <h2 id="feed-title">${t('feed')} <span class="small">(${feed.entries.length})</span></h2>
    ${feed.entries.length === 0 ? html`<p class="empty">${t('no_entries')}</p>` : null}
    ${feed.ackError ? html`<p class="error small" role="alert">${t('ack_failed')}: ${feed.ackError}</p>` : null}
    <ol class="feed-list" aria-live="polite">
      ${feed.entries.map((entry) => (entry.kind === 'alarm'
        ? html`<${AlarmEntry} key=${entry.id} entry=${entry} acked=${feed.acked.get(entry.data.alarm_id)} canAck=${canAck} onLocate=${onLocate} />`
        : html`<${CaseEntry} key=${entry.id} entry=${entry} sources=${sources} />`))}
    </ol>
  </aside>`;
}
