// Shared UI pieces (Preact + htm: no JSX build step needed, components are plain functions).
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { t } from './i18n.js';

export const html = htm.bind(h);

export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<div class="error" role="alert">${t('error')}: ${String(error.message || error)}</div>`;
}

export function Empty({ text }) {
  return html`<p class="empty">${text || t('empty')}</p>`;
}

/** Load `fn()` when `deps` change; returns [data, error, loading, reload]. */
export function useLoad(fn, deps) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let alive = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    Promise.resolve().then(fn).then(
      (data) => alive && setState({ data, error: null, loading: false }),
      (error) => alive && setState({ data: undefined, error, loading: false }),
    );
    return () => { alive = false; };
  }, [...deps, tick]);
  return [state.data, state.error, state.loading, () => setTick((x) => x + 1)];
}

export function Select({ id, label, value, onChange, options, includeAll }) {
  return html`<label for=${id}>${label}
    <select id=${id} value=${value ?? ''} onChange=${(e) => onChange(e.currentTarget.value || null)}>
      ${includeAll ? html`<option value="">${t('all')}</option>` : null}
      ${options.map(([v, text]) => html`<option value=${v} selected=${String(value ?? '') === String(v)}>${text}</option>`)}
    </select></label>`;
}

export function Light({ light }) {
  if (!light) return html`<span class="light none" aria-label="—">—</span>`;
  return html`<span class="light ${light}" role="img" aria-label=${t('light.' + light)} title=${t('light.' + light)}></span>`;
}
