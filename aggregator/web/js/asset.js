// Asset detail page (asset.html?id=site/area/line/asset): live values with units, quality
// and staleness (values.js), a trend chart joining history and live data (trend.js), the
// asset's status, and the live WebSocket's connection state.
//
// Data: GET /api/v1/tags?asset= (names, units), /latest?asset= (first values; every
// REFRESH_MS again for the server's staleness verdict), /assets?asset= (its status), and
// /api/v1/live subscribed to the asset. Panels for health score with contributors, RUL
// with its band, KPIs and the asset's alarms go below these two when the
// predictive-maintenance API (issue 5) exists; each is a module with the same shape
// (built from the asset id, fed live values).

import { getJson, every, assetParts } from './api.js';
import { el, setText, banner, connection } from './dom.js';
import { LiveClient } from './live.js';
import { ValuesPanel } from './values.js';
import { Trend } from './trend.js';

const REFRESH_MS = 5000;
const RETRY_MS = 3000;

const id = new URLSearchParams(location.search).get('id');
const enc = encodeURIComponent;

function header() {
  const p = assetParts(id);
  document.title = `Sentia · ${p.name}`;
  const crumbs = document.getElementById('crumbs');
  crumbs.append(
    el('span', { class: 'sep', text: '/' }), el('span', { text: p.site }),
    el('span', { class: 'sep', text: '/' }), el('span', { text: p.area }),
    el('span', { class: 'sep', text: '/' }), el('span', { text: p.line }),
    el('span', { class: 'sep', text: '/' }), el('strong', { id: 'asset-name', text: p.name }));
}

function findAsset(tree) {
  for (const s of tree.sites) for (const a of s.areas) for (const l of a.lines) {
    const hit = l.assets.find((x) => x.id === id);
    if (hit) return hit;
  }
  return null;
}

function showStatus(asset) {
  const s = document.getElementById('status');
  s.hidden = asset === null;
  if (asset) {
    s.dataset.status = asset.status;
    setText(s, asset.status);
  }
}

/** The tag charted first: the first analog (float) tag, else any number, else the first. */
function firstChartTag(tags, latest) {
  const types = new Map(latest.map((e) => [e.tag, e.value_type]));
  const of = (wanted) => tags.find((t) => wanted.includes(types.get(t.id)));
  return (of(['float']) || of(['int', 'uint']) || tags[0]).id;
}

function liveState(state, detail) {
  if (state === 'open') connection('open', detail.warning ? `live (${detail.warning})` : 'live');
  else if (state === 'connecting') connection('connecting', 'connecting…');
  else connection('waiting', `reconnecting in ${detail.seconds} s`);
}

async function start() {
  let tags;
  let latest;
  try {
    [tags, latest] = await Promise.all([getJson(`tags?asset=${enc(id)}`), getJson(`latest?asset=${enc(id)}`)]);
  } catch (e) {
    banner(`${e.message}. Retrying in ${RETRY_MS / 1000} s.`);
    connection('waiting', 'offline');
    setTimeout(start, RETRY_MS);
    return;
  }
  banner(null);
  const metaOf = new Map(tags.map((t) => [t.id, t]));
  const trend = new Trend({
    container: document.getElementById('chart'),
    note: document.getElementById('trend-note'),
    label: document.getElementById('trend-tag'),
    reset: document.getElementById('zoom-reset'),
    earlier: document.getElementById('pan-earlier'),
    later: document.getElementById('pan-later'),
    presets: [...document.querySelectorAll('.presets [data-range]')],
  });
  const select = (tag) => {
    const t = metaOf.get(tag);
    values.select(tag);
    trend.setTag(tag, t.name, t.unit);
  };
  const values = new ValuesPanel(document.querySelector('#values tbody'), tags, select);
  for (const e of latest) values.update(e);
  if (tags.length) select(firstChartTag(tags, latest));

  new LiveClient({
    assets: [id],
    onValues: (list) => {
      for (const e of list) {
        values.update(e);
        trend.live(e);
      }
    },
    onState: liveState,
    onReconnect: () => trend.reload(),
  }).start();

  setInterval(() => values.tick(), 1000);
  every(REFRESH_MS, async () => {
    const [tree, fresh] = await Promise.all([getJson(`assets?asset=${enc(id)}`), getJson(`latest?asset=${enc(id)}`)]);
    showStatus(findAsset(tree));
    for (const e of fresh) values.update(e);
  }, () => banner(null), (e) => banner(`${e.message}. Retrying every ${REFRESH_MS / 1000} s.`));
}

if (id) {
  header();
  start();
} else {
  banner('No asset given: open one from the plant overview.');
  connection('waiting', 'no asset');
}
