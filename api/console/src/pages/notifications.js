// Feedback to citizens (回访通知; operators, shift leaders, admins; docs/notify.md): every notification owed to a
// caller when their case closed, newest first, with its status, attempts, last error and earlier resends; the failed
// ones counted above the list so a receiver that is down is noticed; an admin sends a failed one again with a reason
// (POST /notifications/{id}/resend), which the API records with who and when.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { fmtTime, t } from '../i18n.js';
import { Empty, ErrorBox, html, Select, useLoad } from '../ui.js';

const STATUSES = ['pending', 'sent', 'failed'];

function Resend({ n, onDone }) {
  const [error, setError] = useState(null);
  async function submit(e) {
    e.preventDefault();
    const reason = new FormData(e.currentTarget).get('reason');
    setError(null);
    try { onDone(await api(`/notifications/${n.id}/resend`, { method: 'POST', body: { reason } })); } catch (err) { setError(err); }
  }
  return html`<form class="resend" id=${'nt-resend-' + n.id} onSubmit=${submit} aria-label=${`${t('nt.resend')} ${n.id}`}>
    <input name="reason" id=${'nt-reason-' + n.id} aria-label=${t('reason')} placeholder=${t('nt.reason_hint')} required maxlength="500" />
    <button type="submit">${t('nt.resend')}</button>
    <${ErrorBox} error=${error} /></form>`;
}

function Resends({ resends }) {
  if (!resends.length) return null;
  return html`<ul class="small resends">${resends.map((r) => html`<li>${fmtTime(r.at)} ${r.actor}: ${r.reason}
    <span class="small">(${t('nt.had')} ${r.attempts} ${t('nt.attempts')}${r.last_error ? `, ${r.last_error}` : ''})</span></li>`)}</ul>`;
}

export function NotificationsPage({ user }) {
  const [status, setStatus] = useState(null);
  const [tick, setTick] = useState(0);
  const [done, setDone] = useState(null);
  const [items, error, loading] = useLoad(() => api(`/notifications?limit=200${status ? `&status=${status}` : ''}`), [status, tick]);
  const [failed] = useLoad(() => api('/notifications?status=failed&limit=500'), [tick]);
  const admin = user && user.role === 'admin';
  const resent = (n) => { setDone(n); setTick((x) => x + 1); };
  return html`<section class="notifications-page" id="notifications">
    <h1>${t('notifications')}</h1>
    <p class="small">${t('nt.about')}</p>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <${Select} id="nt-status" label=${t('state')} value=${status} onChange=${setStatus} includeAll
        options=${STATUSES.map((s) => [s, t('nt.status.' + s)])} />
      ${failed ? html`<button type="button" id="nt-failed-count" class=${failed.length ? 'warn' : ''} onClick=${() => setStatus('failed')}>
        ${t('nt.status.failed')}: ${failed.length}${failed.length === 500 ? '+' : ''}</button>` : null}
      ${loading ? html`<span class="small">${t('loading')}</span>` : null}
    </form>
    ${done ? html`<p id="nt-done" role="status">${t('nt.resent')} ${done.id} (${done.case_no})</p>` : null}
    <${ErrorBox} error=${error} />
    ${items && !items.length ? html`<${Empty} />` : null}
    ${items && items.length ? html`<table class="data" id="nt-list"><caption class="sr-only">${t('notifications')}</caption>
      <thead><tr><th scope="col">#</th><th scope="col">${t('nt.case')}</th><th scope="col">${t('nt.caller')}</th>
        <th scope="col">${t('nt.channel')}</th><th scope="col">${t('state')}</th><th scope="col">${t('nt.attempts_col')}</th>
        <th scope="col">${t('nt.last_error')}</th><th scope="col">${t('nt.when')}</th>${admin ? html`<th scope="col">${t('nt.resend')}</th>` : null}</tr></thead>
      <tbody>${items.map((n) => html`<tr data-id=${n.id} data-status=${n.status}>
        <td>${n.id}</td><td><a href=${'#/cases/' + n.case_id}>${n.case_no}</a></td>
        <td>${n.caller_name || '—'}${n.caller_phone ? html`<br /><small>${n.caller_phone}</small>` : null}</td>
        <td>${n.channel}</td><td class=${'nt-' + n.status}>${t('nt.status.' + n.status)}</td><td>${n.attempts}</td>
        <td><small>${n.last_error || '—'}</small><${Resends} resends=${n.resends} /></td>
        <td><small>${n.sent_at ? `${t('nt.sent_at')} ${fmtTime(n.sent_at)}` : `${t('nt.next')} ${fmtTime(n.next_attempt_at)}`}</small></td>
        ${admin ? html`<td>${n.status === 'failed' ? html`<${Resend} n=${n} onDone=${resent} />` : '—'}</td>` : null}</tr>`)}</tbody>
    </table>` : null}
  </section>`;
}
