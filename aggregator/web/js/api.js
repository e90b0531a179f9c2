// The aggregator's JSON API, same origin. Every request has a timeout; errors carry the
// API's own message ({"error":{"code","message"}}) when there is one.

const TIMEOUT_MS = 10000;

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GET a JSON document below /api/v1/. */
export async function getJson(path, timeoutMs = TIMEOUT_MS) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const resp = await fetch(`/api/v1/${path}`, { signal: ctl.signal, cache: 'no-store' });
    const body = await resp.json().catch(() => null);
    if (!resp.ok) {
      const msg = body && body.error ? body.error.message : resp.statusText;
      throw new ApiError(resp.status, `${path}: ${resp.status} ${msg}`);
    }
    return body;
  } catch (e) {
    if (e.name === 'AbortError') throw new ApiError(0, `${path}: no answer within ${timeoutMs / 1000} s`);
    if (e instanceof ApiError) throw e;
    throw new ApiError(0, `${path}: ${e.message}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Calls `task` now and then every `periodMs` after the previous call finished (never
 * overlapping). `onError(e)` gets failures, `onOk()` successes after a failure too.
 */
export function every(periodMs, task, onOk, onError) {
  let stopped = false;
  const run = async () => {
    if (stopped) return;
    try {
      await task();
      onOk();
    } catch (e) {
      onError(e);
    }
    if (!stopped) setTimeout(run, periodMs);
  };
  run();
  return () => { stopped = true; };
}

/** Asset path "site/area/line/asset" split into its parts. */
export function assetParts(id) {
  const [site, area, line, name] = id.split('/');
  return { site, area, line, name };
}
