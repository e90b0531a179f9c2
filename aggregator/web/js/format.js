// Number, time and value formatting shared by the pages. Pure functions, no DOM.

const NS_PER_MS = 1e6;

/** Milliseconds since the epoch of a nanosecond timestamp (precision: well under 1 ms). */
export function nsToMs(ns) {
  return ns / NS_PER_MS;
}

/** A number with a sensible number of decimals for a plant value. */
export function formatNumber(n) {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  let digits;
  if (Number.isInteger(n)) digits = 0;
  else if (a >= 1000) digits = 0;
  else if (a >= 100) digits = 1;
  else if (a >= 1) digits = 2;
  else if (a === 0) digits = 0;
  else digits = Math.min(6, 2 - Math.floor(Math.log10(a)));
  return n.toLocaleString(undefined, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** A tag value as the API sends it (number, bool, string or null). */
export function formatValue(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return String(v);
}

/** "4 s ago", "3 min ago", "2 h ago", "5 d ago" for a past time in ms. */
export function formatAge(ms, nowMs = Date.now()) {
  if (ms === null || ms === undefined) return 'never';
  const s = Math.max(0, (nowMs - ms) / 1000);
  if (s < 1) return 'now';
  if (s < 60) return `${Math.floor(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** Local date and time with milliseconds, for tooltips. */
export function formatTime(ms) {
  const d = new Date(ms);
  const pad = (x, n = 2) => String(x).padStart(n, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
