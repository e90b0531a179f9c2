// Browser end-to-end test of the Sentia dashboard in headless Chromium (playwright-core,
// Debian's /usr/bin/chromium; no browser download). Driven by tests/tests/dashboard.rs,
// which starts plant-sim, edge-agent and aggregator first; runnable by hand against the
// demo too:
//
//   node tests/browser/dashboard.mjs http://127.0.0.1:8470 /tmp/dashboard.png [DEAD_ASSET]
//
// Steps: overview (every asset of the API shown with its API status, an online agent,
// no horizontal overflow at 768 px), page load bytes (first visit and a revalidating
// reload), open an asset from its tile, wait for live values to change on screen, measure
// sample-to-screen latency over SAMPLES updates (the value cell's data-source-ts-ns versus
// the wall clock when the DOM changed), trend chart canvas, presets, drag-zoom and reset, panning,
// and, if DEAD_ASSET is given, that asset's bad values with their reason as tooltip; a
// live socket cut from the server side (shown, reconnected); and, only if SENTIA_AGENT_PID
// is set (the Rust test sets it), kills that agent and checks the page marks its assets,
// values and the agent stale or offline.
// Any console error, page error, failed request or HTTP error fails the run.
// Prints one line `RESULT {json}` with the figures; exits non-zero on any failure.

import { chromium } from 'playwright-core';

const [base, screenshot, deadAsset] = process.argv.slice(2);
if (!base || !screenshot) {
  console.error('usage: node dashboard.mjs BASE_URL SCREENSHOT.png [DEAD_ASSET_ID]');
  process.exit(2);
}
const SAMPLES = Number(process.env.SENTIA_LATENCY_SAMPLES || 300);
const STEP_MS = 30000;
const STATUSES = new Set(['running', 'stopped', 'online', 'offline', 'stale']);

function log(msg) {
  console.log(`[dashboard] ${msg}`);
}

function fail(msg) {
  throw new Error(msg);
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

async function api(path) {
  const resp = await fetch(`${base}/api/v1/${path}`, { signal: AbortSignal.timeout(10000) });
  if (!resp.ok) fail(`GET ${path}: ${resp.status}`);
  return resp.json();
}

function flatAssets(tree) {
  const out = [];
  for (const s of tree.sites) for (const a of s.areas) for (const l of a.lines) out.push(...l.assets);
  return out;
}

/** Bytes the page loaded: transfer (on the wire, headers included) and decoded bodies. */
async function loadBytes(page) {
  return page.evaluate(() => {
    const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
    const sum = { transfer: 0, decoded: 0, staticTransfer: 0, staticDecoded: 0, requests: entries.length };
    for (const e of entries) {
      sum.transfer += e.transferSize;
      sum.decoded += e.decodedBodySize;
      const isStatic = e.entryType === 'navigation' || e.name.includes('/ui/');
      if (isStatic) {
        sum.staticTransfer += e.transferSize;
        sum.staticDecoded += e.decodedBodySize;
      }
    }
    return sum;
  });
}

/** Fails when the page is wider than the viewport, naming the elements that stick out. */
async function checkNoOverflow(page, what) {
  const over = await page.evaluate(() => {
    const extra = document.documentElement.scrollWidth - window.innerWidth;
    if (extra <= 0) return null;
    const out = [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
      .slice(0, 8)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}.${e.className} (${Math.round(e.getBoundingClientRect().right)} px)`);
    return { extra, out };
  });
  if (over) fail(`${what} is ${over.extra} px wider than the ${page.viewportSize().width} px viewport: ${over.out.join(', ')}`);
}

async function main() {
  const errors = [];
  const browser = await chromium.launch({
    executablePath: process.env.SENTIA_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: STEP_MS,
  });
  const result = {};
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_MS);
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on('response', (r) => {
      if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
    });

    // Overview: every asset the API knows, with the API's status.
    const t0 = Date.now();
    await page.goto(`${base}/`, { waitUntil: 'load' });
    const expected = flatAssets(await api('assets'));
    if (expected.length === 0) fail('the API has no assets; is the stack running?');
    await page.waitForFunction((n) => document.querySelectorAll('#plant .tile').length === n, expected.length);
    result.overview_ready_ms = Date.now() - t0;
    // Statuses change over time; retry until the page and a fresh API answer agree.
    let mismatch = 'never compared';
    for (let i = 0; i < 20 && mismatch; i++) {
      const shown = await page.$$eval('#plant .tile', (ts) => ts.map((t) => ({
        id: t.dataset.asset,
        status: t.dataset.status,
        text: t.querySelector('.badge').textContent,
      })));
      const now = new Map(flatAssets(await api('assets')).map((a) => [a.id, a.status]));
      mismatch = null;
      for (const s of shown) {
        if (!STATUSES.has(s.status) || s.text !== s.status) mismatch = `tile ${s.id}: ${JSON.stringify(s)}`;
        else if (now.get(s.id) !== s.status) mismatch = `tile ${s.id} shows ${s.status}, API says ${now.get(s.id)}`;
      }
      if (shown.length !== now.size) mismatch = `${shown.length} tiles, ${now.size} assets`;
      if (mismatch) await page.waitForTimeout(500);
    }
    if (mismatch) fail(`overview does not match the API: ${mismatch}`);
    await page.waitForSelector('#agents tbody tr[data-state="online"]');
    result.assets = expected.length;
    const overviewShot = screenshot.replace(/\.png$/, '') + '-overview.png';
    await page.screenshot({ path: overviewShot });
    log(`overview: ${expected.length} assets with their API status, an online agent`);

    result.first_load = await loadBytes(page);
    await page.reload({ waitUntil: 'load' });
    await page.waitForFunction((n) => document.querySelectorAll('#plant .tile').length === n, expected.length);
    result.reload = await loadBytes(page);
    log(`page load: first ${result.first_load.transfer} B transferred (${result.first_load.decoded} B decoded, ` +
      `${result.first_load.requests} requests); reload ${result.reload.transfer} B transferred`);

    // The asset page, cold (a fresh browser context: nothing cached), until its chart is drawn.
    {
      const cold = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const p = await cold.newPage();
      p.on('console', (m) => {
        if (m.type() === 'error') errors.push(`console (cold asset page): ${m.text()}`);
      });
      p.on('pageerror', (e) => errors.push(`page error (cold asset page): ${e.message}`));
      await p.goto(`${base}/asset.html?id=${encodeURIComponent(expected[0].id)}`, { waitUntil: 'load' });
      await p.waitForSelector('#chart canvas', { timeout: STEP_MS });
      await p.waitForFunction(() => /raw points|buckets/.test(document.getElementById('trend-note').textContent));
      result.asset_first_load = await loadBytes(p);
      await cold.close();
    }
    log(`asset page load, cold: ${result.asset_first_load.transfer} B transferred ` +
      `(${result.asset_first_load.staticDecoded} B of static files decoded, ${result.asset_first_load.requests} requests)`);

    // Tablet width: nothing wider than the screen.
    await page.setViewportSize({ width: 768, height: 1024 });
    await checkNoOverflow(page, 'overview');
    await page.setViewportSize({ width: 1440, height: 900 });

    // Open a running asset (else any that is not the dead one) from its tile.
    const pick = expected.find((a) => a.status === 'running' && a.id !== deadAsset) ||
      expected.find((a) => a.id !== deadAsset);
    await Promise.all([
      page.waitForURL(/\/asset\.html\?id=/),
      page.click(`#plant .tile[data-asset="${pick.id}"] a`),
    ]);
    await page.waitForSelector('#values tbody td.value[data-source-ts-ns]');
    await page.waitForSelector('#conn[data-state="open"]');
    const tags = await api(`tags?asset=${encodeURIComponent(pick.id)}`);
    const rows = await page.$$eval('#values tbody tr', (rs) => rs.map((r) => r.dataset.tag));
    if (rows.length !== tags.length) fail(`asset page shows ${rows.length} tags, API has ${tags.length}`);
    const units = await page.$$eval('#values tbody .unit', (us) => us.map((u) => u.textContent));
    const apiUnits = tags.filter((t) => t.unit).map((t) => t.unit);
    if (units.join() !== apiUnits.join()) fail(`units ${units} != ${apiUnits}`);
    log(`asset ${pick.id}: ${rows.length} tags with units, live socket open`);

    // A live value changes on screen.
    const before = await page.$$eval('#values tbody tr', (rs) => rs.map((r) => [r.dataset.tag, r.querySelector('.v').textContent]));
    await page.waitForFunction((prev) => {
      const old = new Map(prev);
      return [...document.querySelectorAll('#values tbody tr')].some((r) => old.get(r.dataset.tag) !== r.querySelector('.v').textContent);
    }, before);
    log('a live value changed on screen');

    // Sample-to-screen latency: wall clock when the value cell's source timestamp changed.
    const samples = await page.evaluate(({ n, timeout }) => new Promise((resolve) => {
      const out = [];
      const obs = new MutationObserver((muts) => {
        const now = Date.now();
        for (const m of muts) {
          out.push(now - Number(m.target.dataset.sourceTsNs) / 1e6);
        }
        if (out.length >= n) {
          obs.disconnect();
          resolve(out);
        }
      });
      obs.observe(document.querySelector('#values tbody'), {
        subtree: true, attributes: true, attributeFilter: ['data-source-ts-ns'],
      });
      setTimeout(() => { obs.disconnect(); resolve(out); }, timeout);
    }), { n: SAMPLES, timeout: 60000 });
    if (samples.length < SAMPLES) fail(`only ${samples.length} live updates in 60 s`);
    const sorted = [...samples].sort((a, b) => a - b);
    result.latency_ms = {
      samples: samples.length,
      p50: Math.round(percentile(sorted, 50)),
      p99: Math.round(percentile(sorted, 99)),
      max: Math.round(sorted[sorted.length - 1]),
    };
    if (sorted[0] < -50) fail(`negative latency ${sorted[0]} ms: clocks disagree?`);
    log(`sample-to-screen latency over ${samples.length} updates: p50 ${result.latency_ms.p50} ms, ` +
      `p99 ${result.latency_ms.p99} ms`);

    // Trend chart: canvas drawn, presets fetch history, drag-zoom and reset.
    await page.waitForSelector('#chart canvas');
    await page.waitForFunction(() => /raw points|buckets/.test(document.getElementById('trend-note').textContent));
    await page.click('.presets [data-range="3600"]');
    await page.waitForSelector('.presets [data-range="3600"][aria-pressed="true"]');
    await page.waitForFunction(() => /raw points|buckets/.test(document.getElementById('trend-note').textContent));
    const over = await page.$('#chart .u-over');
    const box = await over.boundingBox();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.8, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await page.waitForSelector('#zoom-reset:not([disabled])');
    await page.click('#zoom-reset');
    await page.waitForSelector('#zoom-reset[disabled]');
    // Pan: one step earlier shifts the 1 h view back by 30 min, later returns to live.
    const view = () => page.$eval('#chart', (c) => [Number(c.dataset.viewFrom), Number(c.dataset.viewTo)]);
    const [liveFrom, liveTo] = await view();
    if (Math.abs(liveTo - liveFrom - 3600) > 5) fail(`live view spans ${liveTo - liveFrom} s, not 3600`);
    await page.click('#pan-earlier');
    await page.waitForSelector('#pan-later:not([disabled])');
    await page.waitForFunction((to) => Number(document.getElementById('chart').dataset.viewTo) < to - 1700, liveTo);
    const [panFrom, panTo] = await view();
    if (Math.abs(liveTo - panTo - 1800) > 60 || Math.abs(panTo - panFrom - 3600) > 5) {
      fail(`pan earlier: view ${panFrom}..${panTo}, live was ${liveFrom}..${liveTo}`);
    }
    await page.focus('#chart');
    await page.keyboard.press('ArrowLeft');
    await page.waitForFunction((to) => Number(document.getElementById('chart').dataset.viewTo) < to - 1700, panTo);
    await page.click('#pan-later');
    await page.click('#pan-later');
    await page.waitForSelector('#pan-later[disabled]');
    await page.waitForSelector('#zoom-reset[disabled]');
    const [, backTo] = await view();
    if (Math.abs(Date.now() / 1000 - backTo) > 60) fail(`pan later did not return to live: ${backTo}`);
    // Select another numeric tag from the table: the chart follows.
    const other = await page.$$eval('#values tbody tr', (rs) => rs.map((r) => r.dataset.tag));
    await page.click(`#values tbody tr[data-tag="${other[other.length - 1]}"]`);
    await page.waitForSelector(`#values tbody tr[data-tag="${other[other.length - 1]}"][aria-selected="true"]`);
    log('trend: canvas, presets, drag-zoom and reset, pan earlier/later (buttons and keys), tag selection');
    // Chart an analog tag for the screenshot.
    const latest = await api(`latest?asset=${encodeURIComponent(pick.id)}`);
    const analog = (latest.find((e) => e.value_type === 'float') || latest[0]).tag;
    await page.click(`#values tbody tr[data-tag="${analog}"]`);
    await page.click('.presets [data-range="900"]');
    await page.waitForFunction(() => /raw points|buckets/.test(document.getElementById('trend-note').textContent));
    await page.waitForTimeout(1500);
    await page.screenshot({ path: screenshot });
    log(`screenshots: ${screenshot}, ${overviewShot}`);

    await page.setViewportSize({ width: 768, height: 1024 });
    await page.waitForTimeout(300); // the chart follows its container's new width
    await checkNoOverflow(page, 'asset page');
    // A control-room screen: no overflow, and type larger than on the tablet.
    const tabletFont = await page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.waitForTimeout(300);
    await checkNoOverflow(page, 'asset page');
    const screenFont = await page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
    if (!(screenFont > tabletFont)) fail(`root font ${screenFont} px at 1920 px is not larger than ${tabletFont} px at 768 px`);
    result.root_font_px = { tablet: tabletFont, control_room: screenFont };
    await page.setViewportSize({ width: 1440, height: 900 });

    // A dead device: bad quality with the reason shown and as tooltip.
    if (deadAsset) {
      await page.goto(`${base}/asset.html?id=${encodeURIComponent(deadAsset)}`, { waitUntil: 'load' });
      await page.waitForSelector('#values tbody tr[data-quality="bad"]');
      const bad = await page.$eval('#values tbody tr[data-quality="bad"]', (r) => ({
        title: r.querySelector('td.value').title,
        reason: r.querySelector('.reason').textContent,
      }));
      if (!bad.reason || !bad.title.includes(bad.reason)) fail(`bad value without its reason: ${JSON.stringify(bad)}`);
      await page.waitForSelector('#status[data-status="offline"]');
      result.bad_reason = bad.reason;
      log(`dead asset: bad quality shown with reason "${bad.reason}"`);
    }

    // Reconnect: the live socket is cut from the server side; the page says so, reconnects
    // with backoff and values move again.
    {
      const p = await context.newPage();
      p.on('console', (m) => {
        if (m.type() === 'error') errors.push(`console (reconnect): ${m.text()}`);
      });
      p.on('pageerror', (e) => errors.push(`page error (reconnect): ${e.message}`));
      const sockets = [];
      await p.routeWebSocket(/\/api\/v1\/live$/, (ws) => {
        ws.connectToServer();
        sockets.push(ws);
      });
      await p.goto(`${base}/asset.html?id=${encodeURIComponent(pick.id)}`, { waitUntil: 'load' });
      await p.waitForSelector('#conn[data-state="open"]');
      await p.evaluate(() => {
        const conn = document.getElementById('conn');
        window.connStates = [];
        new MutationObserver(() => window.connStates.push(`${conn.dataset.state}: ${conn.textContent}`))
          .observe(conn, { attributes: true, childList: true, characterData: true, subtree: true });
      });
      await sockets[0].close({ code: 1012, reason: 'service restart' });
      await p.waitForFunction(() => window.connStates.some((s) => s.startsWith('waiting: reconnecting in')) &&
        document.getElementById('conn').dataset.state === 'open', null, { timeout: STEP_MS });
      if (sockets.length < 2) fail(`${sockets.length} live connections after a cut, expected a second`);
      const ts = await p.$eval('#values td.value[data-source-ts-ns]', (c) => c.dataset.sourceTsNs);
      await p.waitForFunction((old) => document.querySelector('#values td.value[data-source-ts-ns]').dataset.sourceTsNs !== old, ts);
      result.reconnect_states = await p.evaluate(() => [...new Set(window.connStates)]);
      await p.close();
      log(`reconnect after a cut socket: ${result.reconnect_states.join(' -> ')}`);
    }

    // Staleness: with the agent killed (SENTIA_AGENT_PID, set by tests/tests/dashboard.rs),
    // its assets turn stale on the overview, the agent offline, and values are flagged.
    const agentPid = Number(process.env.SENTIA_AGENT_PID || 0);
    if (agentPid) {
      process.kill(agentPid, 'SIGKILL');
      await page.goto(`${base}/`, { waitUntil: 'load' });
      const live = expected.filter((a) => a.id !== deadAsset).map((a) => a.id);
      await page.waitForFunction((ids) => ids.every((id) =>
        document.querySelector(`#plant .tile[data-asset="${id}"]`)?.dataset.status === 'stale'), live);
      // The page shows the agent as the API has it: a SIGKILLed agent stays "online" in
      // the API until its Last Will is processed (seen not to happen within this test with
      // the embedded broker); the dashboard does not second-guess the API.
      const agents = await api('agents');
      result.agent_state_after_kill = agents.map((a) => a.state).join(',');
      await page.waitForFunction((states) => {
        const shown = [...document.querySelectorAll('#agents tbody tr')].map((r) => r.dataset.state);
        return shown.join(',') === states;
      }, result.agent_state_after_kill);
      await page.goto(`${base}/asset.html?id=${encodeURIComponent(pick.id)}`, { waitUntil: 'load' });
      await page.waitForFunction(() => {
        const rows = [...document.querySelectorAll('#values tbody tr')];
        return rows.length > 0 && rows.every((r) => r.dataset.stale === 'true' && r.querySelector('.age').textContent.includes('stale'));
      });
      await page.waitForSelector('#status[data-status="stale"]');
      log(`agent killed: assets stale on the overview, values flagged stale; API and page say agent ${result.agent_state_after_kill}`);
    }

    // Alarms (list, acknowledge, shelve) wait for the alarm API of issue 5.
    await context.close();
  } finally {
    await browser.close();
  }
  if (errors.length) fail(`browser errors:\n  ${errors.join('\n  ')}`);
  result.console_errors = 0;
  console.log(`RESULT ${JSON.stringify(result)}`);
}

main().catch((e) => {
  console.error(`[dashboard] FAILED: ${e.stack || e.message}`);
  process.exit(1);
});
