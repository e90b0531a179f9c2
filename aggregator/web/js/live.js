// Client of GET /api/v1/live (protocol in aggregator/src/api/live.rs): subscribes to assets
// and tags, hands each `values` frame to `onValues(values, snapshot)`, and reconnects with
// capped exponential backoff plus jitter. After a reconnect it subscribes again; the server
// then sends a snapshot, so nothing shown stays old. `onState(state, detail)` reports
// 'connecting' | 'open' | 'waiting' (retry in detail.seconds) for the connection indicator.

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 15000;
// A connection that stayed up this long resets the backoff.
const HEALTHY_MS = 10000;

export class LiveClient {
  constructor({ assets = [], tags = [], onValues, onState, onReconnect }) {
    this.assets = assets;
    this.tags = tags;
    this.onValues = onValues;
    this.onState = onState || (() => {});
    this.onReconnect = onReconnect || (() => {});
    this.attempt = 0;
    this.everOpened = false;
    this.ws = null;
    this.retryTimer = null;
    this.countdown = null;
  }

  start() {
    this.connect();
    // A closed laptop lid or a tab put to sleep: try again as soon as the page is back.
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && this.ws === null) this.retryNow();
    });
  }

  url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${location.host}/api/v1/live`;
  }

  connect() {
    this.onState('connecting', {});
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (e) {
      this.scheduleRetry(`cannot open: ${e.message}`);
      return;
    }
    this.ws = ws;
    let openedAt = 0;
    ws.onopen = () => {
      openedAt = Date.now();
      ws.send(JSON.stringify({ type: 'subscribe', assets: this.assets, tags: this.tags }));
      this.onState('open', {});
      if (this.everOpened) this.onReconnect();
      this.everOpened = true;
    };
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg.type === 'values') this.onValues(msg.values, msg.snapshot);
      else if (msg.type === 'error') this.onState('open', { warning: msg.message });
    };
    ws.onclose = (ev) => {
      this.ws = null;
      if (openedAt && Date.now() - openedAt > HEALTHY_MS) this.attempt = 0;
      const why = ev.reason ? `closed: ${ev.reason}` : `closed (code ${ev.code})`;
      this.scheduleRetry(why);
    };
    // onerror is always followed by onclose, which retries.
    ws.onerror = () => {};
  }

  scheduleRetry(why) {
    const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    const delay = cap / 2 + Math.random() * (cap / 2);
    this.attempt += 1;
    const until = Date.now() + delay;
    const tick = () => {
      const seconds = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      this.onState('waiting', { seconds, why });
    };
    tick();
    clearInterval(this.countdown);
    this.countdown = setInterval(tick, 1000);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.retryNow(), delay);
  }

  retryNow() {
    clearTimeout(this.retryTimer);
    clearInterval(this.countdown);
    if (this.ws === null) this.connect();
  }
}
