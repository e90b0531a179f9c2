// Plant overview (index.html): assets grouped by site, area and line with their status and
// counts (GET /api/v1/assets), and the edge agents (GET /api/v1/agents), refreshed every
// POLL_MS. Tiles are keyed by asset id and updated in place; the tree is rebuilt only
// when the set of assets changes.
//
// Each tile counts the asset's tags, bad and stale values and open alarms (`active_alarms`:
// active or acknowledged). The health score belongs on the tiles too; it waits for the
// predictive-maintenance health API (issue 5) and is not shown until it exists.

import { getJson, every } from './api.js';
import { el, setText, banner, connection } from './dom.js';
import { formatAge, nsToMs, formatTime } from './format.js';

const POLL_MS = 2000;
const STATUSES = ['running', 'stopped', 'online', 'offline', 'stale'];

const plant = document.getElementById('plant');
const tiles = new Map(); // asset id -> {tile, badge, counts, age}
let treeSignature = '';

function assetHref(id) {
  return `/asset.html?id=${encodeURIComponent(id)}`;
}

function buildTree(sites) {
  tiles.clear();
  const root = [];
  for (const site of sites) {
    const areas = site.areas.map((area) => el('section', { class: 'area' },
      el('h3', { text: `${area.name}` }),
      ...area.lines.map((line) => el('div', { class: 'line' },
        el('h4', { text: line.name }),
        el('ul', { class: 'tiles' }, ...line.assets.map(buildTile))))));
    root.push(el('section', { class: 'site', dataset: { site: site.name } },
      el('h2', { text: site.name }), ...areas));
  }
  plant.replaceChildren(el('p', { id: 'plant-summary', class: 'summary' }), ...root);
}

function buildTile(a) {
  const badge = el('span', { class: 'badge' });
  const counts = el('span', { class: 'counts' });
  const age = el('span', { class: 'age' });
  const tile = el('li', { class: 'tile', dataset: { asset: a.id } },
    el('a', { class: 'tile-name', href: assetHref(a.id), text: a.name }),
    badge, counts, age);
  tiles.set(a.id, { tile, badge, counts, age });
  return tile;
}

function updateTile(a, now) {
  const t = tiles.get(a.id);
  if (!t) return;
  t.tile.dataset.status = a.status;
  t.badge.dataset.status = a.status;
  setText(t.badge, a.status);
  const parts = [`${a.tag_count} tags`];
  if (a.bad_tags) parts.push(`${a.bad_tags} bad`);
  if (a.stale_tags) parts.push(`${a.stale_tags} stale`);
  if (a.active_alarms) parts.push(`${a.active_alarms} alarm${a.active_alarms === 1 ? '' : 's'}`);
  setText(t.counts, parts.join(' · '));
  t.counts.classList.toggle('warn', a.bad_tags > 0 || a.stale_tags > 0 || a.active_alarms > 0);
  const last = a.last_update_ns === null ? null : nsToMs(a.last_update_ns);
  setText(t.age, last === null ? 'no data yet' : `updated ${formatAge(last, now)}`);
  t.age.title = last === null ? '' : formatTime(last);
}

function renderAssets(body) {
  const assets = [];
  for (const s of body.sites) for (const ar of s.areas) for (const l of ar.lines) assets.push(...l.assets);
  document.getElementById('plant-empty').hidden = assets.length > 0;
  const signature = assets.map((a) => a.id).join('\n');
  if (signature !== treeSignature) {
    buildTree(body.sites);
    treeSignature = signature;
  }
  const now = Date.now();
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const a of assets) {
    updateTile(a, now);
    counts[a.status] = (counts[a.status] || 0) + 1;
  }
  const summary = document.getElementById('plant-summary');
  if (summary) {
    const parts = STATUSES.filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s}`);
    setText(summary, `${assets.length} assets: ${parts.join(', ')}`);
  }
}

function renderAgents(list) {
  const table = document.getElementById('agents');
  document.getElementById('agents-empty').hidden = list.length > 0;
  table.hidden = list.length === 0;
  const now = Date.now();
  const rows = list.map((a) => {
    const state = a.state || 'unknown';
    const connected = a.devices.filter((d) => d.connected).length;
    const down = a.devices.filter((d) => !d.connected).map((d) => d.id);
    const last = a.last_seen_ns === null ? null : nsToMs(a.last_seen_ns);
    return el('tr', { dataset: { agent: a.agent, state } },
      el('td', { text: a.agent }),
      el('td', {}, el('span', { class: 'badge', dataset: { status: state }, text: state })),
      el('td', { text: formatAge(last, now), title: last === null ? '' : formatTime(last) }),
      el('td', {
        class: down.length ? 'warn' : '',
        text: `${connected}/${a.devices.length} connected`,
        title: down.length ? `not connected: ${down.join(', ')}` : '',
      }),
      el('td', { class: a.missing_batches ? 'num warn' : 'num', text: String(a.missing_batches) }));
  });
  table.tBodies[0].replaceChildren(...rows);
}

every(POLL_MS, async () => {
  const [assets, agents] = await Promise.all([getJson('assets'), getJson('agents')]);
  renderAssets(assets);
  renderAgents(agents);
}, () => {
  banner(null);
  connection('open', 'live');
}, (e) => {
  banner(`Cannot reach the aggregator: ${e.message}. Retrying every ${POLL_MS / 1000} s.`);
  connection('waiting', 'offline');
});
