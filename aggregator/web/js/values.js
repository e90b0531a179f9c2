// The live values table of the asset page: one row per tag with value and unit, quality
// (a bad or uncertain value shows its reason, also as a tooltip), and when it was sampled
// (stale values flagged). Values come from GET /api/v1/latest and the live WebSocket;
// a row only moves forward in time. The value cell carries the value's source timestamp
// in `data-source-ts-ns` (the browser test measures sample-to-screen latency with it).
// Clicking a row (or Enter on it) selects the tag for the trend chart.

import { el, setText } from './dom.js';
import { formatValue, formatAge, formatTime, nsToMs } from './format.js';

export class ValuesPanel {
  constructor(tbody, tags, onSelect) {
    this.rows = new Map();
    this.onSelect = onSelect;
    this.selected = null;
    const rows = tags.map((t) => this.buildRow(t));
    tbody.replaceChildren(...rows);
  }

  buildRow(t) {
    const value = el('span', { class: 'v', text: '—' });
    const valueCell = el('td', { class: 'num value' }, value, t.unit ? el('span', { class: 'unit', text: t.unit }) : null);
    const quality = el('span', { class: 'badge', text: 'no data' });
    const reason = el('span', { class: 'reason' });
    const age = el('td', { class: 'age' });
    const row = el('tr', { tabindex: '0', dataset: { tag: t.id, quality: 'none' } },
      el('td', { class: 'tag-name', text: t.name, title: t.description || t.id }),
      valueCell,
      el('td', { class: 'quality' }, quality, reason),
      age);
    row.addEventListener('click', () => this.onSelect(t.id));
    row.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        this.onSelect(t.id);
      }
    });
    this.rows.set(t.id, { row, valueCell, value, quality, reason, age, meta: t, entry: null, stale: false });
    return row;
  }

  /** Marks the charted tag. */
  select(tag) {
    for (const [id, r] of this.rows) r.row.setAttribute('aria-selected', String(id === tag));
    this.selected = tag;
  }

  /** The newest value of a tag, or undefined. */
  entry(tag) {
    const r = this.rows.get(tag);
    return r ? r.entry : undefined;
  }

  /**
   * One value entry from /latest or /live. Older than what is shown: ignored, except that
   * /latest's `stale` flag applies to the value it describes.
   */
  update(e) {
    const r = this.rows.get(e.tag);
    if (!r) return;
    if (r.entry && e.source_ts_ns < r.entry.source_ts_ns) return;
    const same = r.entry && e.source_ts_ns === r.entry.source_ts_ns;
    // A value from /live was just stored, so it is fresh; /latest says so explicitly.
    r.stale = e.stale === undefined ? (same ? r.stale : false) : e.stale;
    r.row.dataset.stale = String(r.stale);
    if (same && r.entry.quality === e.quality) {
      this.renderAge(r, Date.now());
      return;
    }
    r.entry = e;
    r.row.dataset.quality = e.quality;
    setText(r.value, formatValue(e.value));
    setText(r.quality, e.quality);
    r.quality.dataset.quality = e.quality;
    setText(r.reason, e.reason || '');
    r.valueCell.title = e.reason ? `${e.quality}: ${e.reason}` : '';
    r.quality.title = e.reason || '';
    this.renderAge(r, Date.now());
    // Last, so an observer of this attribute sees the finished row.
    r.valueCell.dataset.sourceTsNs = String(e.source_ts_ns);
  }

  renderAge(r, now) {
    if (!r.entry) {
      setText(r.age, 'never');
      return;
    }
    const sampled = nsToMs(r.entry.source_ts_ns);
    setText(r.age, r.stale ? `${formatAge(sampled, now)} · stale` : formatAge(sampled, now));
    r.age.title = `sampled ${formatTime(sampled)}, received ${formatTime(nsToMs(r.entry.receive_ts_ns))}`;
  }

  /** Refreshes the "… ago" texts. */
  tick() {
    const now = Date.now();
    for (const r of this.rows.values()) this.renderAge(r, now);
  }
}
