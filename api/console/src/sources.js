// Where cases come from: the API's one list (GET /sources, civicgrid/domain/sources.py) with its names, loaded
// once per session. The board's filter, the case detail and the intake screen offer these codes and no others,
// so the console never sends a source the API refuses, nor shows a raw key.
import { api } from './api.js';
import { lang } from './i18n.js';
import { useLoad } from './ui.js';

let loading = null;

export function loadSources() {
  if (!loading) loading = api('/sources').catch((error) => { loading = null; throw error; });
  return loading;
}

// [sources, error]: the list (empty until loaded).
export function useSources() {
  const [list, error] = useLoad(loadSources, []);
  return [list || [], error];
}

export function sourceName(sources, code) {
  const s = sources.find((x) => x.code === code);
  if (!s) return code;
  return lang() === 'en' ? s.name_en : s.name;
}
