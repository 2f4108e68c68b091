// The map's settings (GET /map/config: tile URL, overlay CRS, the city's bounds), asked once per page load. The
// shell asks as soon as it starts (src/main.js), beside /auth/me, so the map does not wait for it after the
// login check; this module is small and does not pull in MapLibre.
import { api } from './api.js';

let configPromise = null;

export function mapConfig() {
  if (!configPromise) configPromise = api('/map/config').catch((error) => { configPromise = null; throw error; });
  return configPromise;
}
