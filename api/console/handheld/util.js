// Small helpers of the handheld app shared by its views.
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);

export function newId(prefix) {
  return `${prefix}-${crypto.randomUUID()}`;
}

export function round7(x) { return Math.round(x * 1e7) / 1e7; }

/** Metres between two points (equirectangular: plenty for tens of metres). */
export function metres(a, b) {
  const k = 111_320;
  const dx = (a.lon - b.lon) * k * Math.cos(((a.lat + b.lat) / 2) * Math.PI / 180);
  return Math.hypot(dx, (a.lat - b.lat) * k);
}
