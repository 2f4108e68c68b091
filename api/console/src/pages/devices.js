// Devices: status, battery and last seen; send a command and watch its acknowledgement arrive.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { fmtTime, t } from '../i18n.js';
import { Empty, ErrorBox, html, useLoad } from '../ui.js';
import { PairHandheld } from './handheld-pairing.js';

const TERMINAL = new Set(['acked', 'failed', 'timed_out']);

function CommandForm({ device, canSend }) {
  const [cmd, setCmd] = useState(null);
  const [error, setError] = useState(null);
  const [name, setName] = useState('ping');
  const [args, setArgs] = useState('{}');
  useEffect(() => {
    if (!cmd || TERMINAL.has(cmd.status)) return undefined;
    const timer = setTimeout(async () => {
      try { setCmd(await api(`/devices/${device.id}/commands/${cmd.command_id}`)); } catch (e) { setError(e); }
    }, 1000);
    return () => clearTimeout(timer);
  }, [cmd]);
  if (!canSend) return null;
  async function send(e) {
    e.preventDefault();
    setError(null);
    try {
      const body = { name, args: JSON.parse(args || '{}') };
      setCmd(await api(`/devices/${device.id}/commands`, { method: 'POST', body }));
    } catch (err) { setError(err); }
  }
  return html`<form class="filters" onSubmit=${send} aria-label=${t('command')}>
    <label for="cmd-name">${t('command_name')}<input id="cmd-name" name="name" required pattern="[a-z][a-z0-9_]{0,63}"
      value=${name} onInput=${(e) => setName(e.currentTarget.value)} /></label>
    <label for="cmd-args">${t('args')}<input id="cmd-args" name="args" value=${args} onInput=${(e) => setArgs(e.currentTarget.value)} /></label>
    <button type="submit">${t('send')}</button>
    ${cmd ? html`<span class="cmd-status" data-status=${cmd.status} role="status">${t('command_status')}: <strong>${cmd.status}</strong> ${cmd.detail || ''}</span>` : null}
    <${ErrorBox} error=${error} />
  </form>`;
}

export function DevicesPage({ user }) {
  const [kind, setKind] = useState('');
  const [selected, setSelected] = useState(null);
  const [devices, error, loading] = useLoad(() => api(`/devices${kind ? `?kind=${kind}` : ''}`), [kind]);
  const [commands] = useLoad(() => (selected ? api(`/devices/${selected.id}/commands?limit=10`) : Promise.resolve([])), [selected]);
  return html`<section class="devices-page">
    <h1>${t('devices')}</h1>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <label for="d-kind">${t('kind')}<select id="d-kind" value=${kind} onChange=${(e) => setKind(e.currentTarget.value)}>
        <option value="">${t('all')}</option>
        ${['manhole-sensor', 'bin-sensor', 'camera', 'gps-tracker', 'handheld'].map((k) => html`<option value=${k}>${k}</option>`)}
      </select></label>
      ${loading ? html`<span class="small">${t('loading')}</span>` : null}
    </form>
    <${ErrorBox} error=${error} />
    ${['shift_leader', 'admin'].includes(user.role) ? html`<${PairHandheld} />` : null}
    ${selected ? html`<div class="panel"><h2>${t('device')} ${selected.id}</h2>
      <${CommandForm} key=${selected.id} device=${selected} canSend=${['operator', 'admin'].includes(user.role)} />
      <table class="data"><caption class="sr-only">${t('command')}</caption>
        <thead><tr><th scope="col">${t('time')}</th><th scope="col">${t('command_name')}</th><th scope="col">${t('status')}</th></tr></thead>
        <tbody>${(commands || []).map((c) => html`<tr><td>${fmtTime(c.issued_at)}</td><td>${c.name}</td><td>${c.status}</td></tr>`)}</tbody></table>
    </div>` : null}
    ${devices && devices.length === 0 ? html`<${Empty} />` : null}
    ${devices && devices.length ? html`<table class="data device-list">
      <caption class="sr-only">${t('devices')}</caption>
      <thead><tr><th scope="col">${t('device')}</th><th scope="col">${t('kind')}</th><th scope="col">${t('status')}</th>
        <th scope="col">${t('battery')}</th><th scope="col">${t('last_seen')}</th><th scope="col">${t('alarms')}</th>
        <th scope="col">${t('cell')}</th></tr></thead>
      <tbody>${devices.map((d) => html`<tr data-device=${d.id} class=${selected && selected.id === d.id ? 'selected' : ''}>
        <td><button type="button" class="link" onClick=${() => setSelected(d)}>${d.id}</button></td><td>${d.kind}</td>
        <td>${!d.enabled ? t('disabled') : d.online ? t('online') : t('offline')}</td>
        <td>${d.battery_pct === null ? '—' : `${Math.round(d.battery_pct)} %`}</td><td>${fmtTime(d.last_seen_at)}</td>
        <td>${d.open_alarms}</td><td class="code">${d.grid_cell_code || '—'}</td></tr>`)}</tbody>
    </table>` : null}
  </section>`;
}
