// The trend chart of the asset page (uPlot, vendored, loaded as the global `uPlot`): one
// tag over a preset window (15 min, 1 h, 8 h, 24 h). History comes from
// GET /api/v1/history with max_points about the chart's width in pixels, so the server
// downsamples: raw points when few, else buckets drawn as an average line inside a
// min–max band. Live values of the tag are appended as they arrive and the window slides;
// values that arrive while history loads are kept and merged. Drag across the chart to
// zoom (the window then stops sliding); "◀ Earlier" / "Later ▶" (or the arrow keys on the
// chart) pan by half the visible span, loading that span's history at full resolution;
// panning up to now, or "Reset zoom", returns to the live window. The visible range is
// mirrored in the chart container's data-view-from / data-view-to (seconds) for tests.
// Bad-quality points are gaps, never zeros.

import { getJson } from './api.js';
import { setText } from './dom.js';
import { formatValue } from './format.js';

const NS_PER_S = 1_000_000_000n;

/** Chartable number of an API value (bools 0/1), or null. */
function num(v) {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return null;
}

/** An axis tick with as many decimals as the tick spacing needs. */
function formatTick(v, incr) {
  const digits = incr > 0 && incr < 1 ? Math.min(6, Math.ceil(-Math.log10(incr))) : 0;
  return v.toLocaleString(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** The y range: the data plus a margin; a flat line sits in the middle, not on an edge. */
function valueRange(min, max) {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (min === max) {
    const pad = Math.max(Math.abs(min) * 0.02, 0.5);
    return [min - pad, max + pad];
  }
  const pad = (max - min) * 0.08;
  return [min - pad, max + pad];
}

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

export class Trend {
  constructor({ container, note, label, reset, presets, earlier, later }) {
    this.container = container;
    this.note = note;
    this.label = label;
    this.resetButton = reset;
    this.presets = presets;
    this.rangeS = 900;
    this.tag = null;
    this.unit = '';
    this.plot = null;
    this.data = [[], [], [], []];
    this.zoomed = false;
    this.loading = null; // live entries that arrived during a load
    this.generation = 0;
    this.frame = 0;
    this.laterButton = later;
    reset.addEventListener('click', () => this.unzoom());
    earlier.addEventListener('click', () => this.pan(-1));
    later.addEventListener('click', () => this.pan(1));
    container.tabIndex = 0;
    container.addEventListener('keydown', (ev) => {
      if (ev.key === 'ArrowLeft') this.pan(-1);
      else if (ev.key === 'ArrowRight') this.pan(1);
      else return;
      ev.preventDefault();
    });
    for (const b of presets) {
      b.addEventListener('click', () => this.setRange(Number(b.dataset.range)));
    }
    new ResizeObserver(() => this.resize()).observe(container);
    this.markPreset();
  }

  setTag(tag, name, unit) {
    if (tag === this.tag) return;
    this.tag = tag;
    this.unit = unit || '';
    setText(this.label, unit ? `${name} (${unit})` : name);
    this.build();
    this.load();
  }

  setRange(seconds) {
    this.rangeS = seconds;
    this.markPreset();
    this.load();
  }

  markPreset() {
    for (const b of this.presets) b.setAttribute('aria-pressed', String(Number(b.dataset.range) === this.rangeS));
  }

  /** Fetches history for the current window again (after a reconnect: fills the gap). */
  reload() {
    if (this.tag) this.load();
  }

  /** The visible x range in seconds. */
  view() {
    if (this.zoomed && this.plot && this.plot.scales.x.min !== undefined) {
      return [this.plot.scales.x.min, this.plot.scales.x.max];
    }
    return this.window();
  }

  /** Shifts the view by half its span, earlier (-1) or later (+1). */
  pan(direction) {
    if (!this.tag) return;
    const [min, max] = this.view();
    const shift = ((max - min) / 2) * direction;
    const now = Date.now() / 1000;
    if (max + shift >= now - Math.max(1, (max - min) * 0.02)) {
      this.load(); // (about) up to now: back to the live window
      return;
    }
    this.load([min + shift, max + shift]);
  }

  /** Loads history for the preset window ending now, or for `span` ([from, to] seconds). */
  async load(span) {
    const gen = ++this.generation;
    this.loading = span ? null : [];
    const toNs = span ? BigInt(Math.round(span[1] * 1000)) * 1_000_000n : BigInt(Date.now()) * 1_000_000n;
    const fromNs = span
      ? BigInt(Math.round(span[0] * 1000)) * 1_000_000n
      : toNs - BigInt(this.rangeS) * NS_PER_S;
    const width = Math.max(200, Math.min(2000, Math.round(this.container.clientWidth || 800)));
    const q = `history?tag=${encodeURIComponent(this.tag)}&from=${fromNs}&to=${toNs}&max_points=${width}`;
    setText(this.note, 'loading history…');
    let h;
    try {
      h = await getJson(q, 20000);
    } catch (e) {
      if (gen === this.generation) {
        setText(this.note, `history unavailable: ${e.message}`);
        this.loading = null;
      }
      return;
    }
    if (gen !== this.generation) return;
    const xs = [];
    const ys = [];
    const mins = [];
    const maxs = [];
    if (h.mode === 'raw') {
      for (const p of h.points) {
        xs.push(p.ts_ns / 1e9);
        ys.push(p.quality === 'bad' ? null : num(p.value));
        mins.push(null);
        maxs.push(null);
      }
      setText(this.note, `${h.points.length} raw points`);
    } else {
      for (const b of h.buckets) {
        xs.push((b.start_ns + b.end_ns) / 2 / 1e9);
        ys.push(b.avg);
        mins.push(b.min);
        maxs.push(b.max);
      }
      const width = h.bucket_ns / 1e9;
      setText(this.note, `${h.buckets.length} buckets of ${width >= 1 ? width.toFixed(1) : width.toFixed(3)} s: average line, min–max band`);
    }
    this.data = [xs, ys, mins, maxs];
    const pending = this.loading || [];
    this.loading = null;
    for (const e of pending) this.append(e);
    if (span) {
      // A panned view: fixed, not sliding; live values still arrive (off to the right).
      this.zoomed = true;
      this.resetButton.disabled = false;
      this.laterButton.disabled = false;
      this.draw(false);
      if (this.plot) this.plot.setScale('x', { min: span[0], max: span[1] });
    } else {
      this.zoomed = false;
      this.resetButton.disabled = true;
      this.laterButton.disabled = true;
      this.draw(true);
    }
    this.mirror();
  }

  /** Mirrors the visible range into data attributes (tests read them). */
  mirror() {
    const [from, to] = this.view();
    this.container.dataset.viewFrom = String(Math.round(from));
    this.container.dataset.viewTo = String(Math.round(to));
  }

  /** A live value entry (any tag; others are ignored). */
  live(e) {
    if (e.tag !== this.tag) return;
    if (this.loading) {
      this.loading.push(e);
      return;
    }
    if (this.append(e)) this.schedule();
  }

  append(e) {
    const x = e.source_ts_ns / 1e9;
    const [xs, ys, mins, maxs] = this.data;
    if (xs.length && x <= xs[xs.length - 1]) return false;
    xs.push(x);
    ys.push(e.quality === 'bad' ? null : num(e.value));
    mins.push(null);
    maxs.push(null);
    if (!this.zoomed) {
      // Slide the window: drop what fell out of it.
      const start = Date.now() / 1000 - this.rangeS;
      let cut = 0;
      while (cut < xs.length && xs[cut] < start) cut++;
      if (cut) for (const a of this.data) a.splice(0, cut);
    }
    return true;
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw(!this.zoomed);
    });
  }

  draw(resetScales) {
    if (!this.plot) return;
    this.plot.setData(this.data, resetScales);
  }

  /** The preset window ending now, in seconds. */
  window() {
    const now = Date.now() / 1000;
    return [now - this.rangeS, now];
  }

  /** Back to the live preset window (history fetched again: the view may have panned). */
  unzoom() {
    this.load();
  }

  resize() {
    if (this.plot) this.plot.setSize(this.size());
  }

  size() {
    const width = Math.max(280, this.container.clientWidth);
    const height = Math.max(220, Math.min(520, Math.round(window.innerHeight * 0.4)));
    return { width, height };
  }

  build() {
    if (this.plot) this.plot.destroy();
    const line = cssVar('--chart-line', '#4fb3ff');
    const band = cssVar('--chart-band', 'rgba(79,179,255,0.18)');
    const axis = cssVar('--fg-muted', '#9aa7b4');
    const grid = cssVar('--grid', '#2b3643');
    const unit = this.unit;
    const fmt = (u, v) => (v === null || v === undefined ? '—' : `${formatValue(v)}${unit ? ` ${unit}` : ''}`);
    const axisOpts = { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
    const opts = {
      ...this.size(),
      scales: {
        // The preset window, sliding with the clock, unless the user zoomed in (then the
        // range uPlot asks for is the dragged one).
        x: { time: true, range: (u, min, max) => (this.zoomed ? [min, max] : this.window()) },
        y: { range: (u, min, max) => valueRange(min, max) },
      },
      cursor: { drag: { x: true, y: false, setScale: true } },
      legend: { live: true },
      series: [
        {},
        { label: 'value', stroke: line, width: 2, value: fmt, spanGaps: false },
        { label: 'min', stroke: band, width: 1, value: fmt, spanGaps: false },
        { label: 'max', stroke: band, width: 1, value: fmt, spanGaps: false },
      ],
      bands: [{ series: [3, 2], fill: band }],
      axes: [axisOpts, { ...axisOpts, size: 80, values: (u, ticks, ax, space, incr) => ticks.map((v) => formatTick(v, incr)) }],
      hooks: {
        setSelect: [(u) => {
          if (u.select.width > 0) {
            this.zoomed = true;
            this.resetButton.disabled = false;
            this.laterButton.disabled = false;
          }
        }],
        setScale: [(u, key) => {
          if (key === 'x') this.mirror();
        }],
      },
    };
    this.plot = new window.uPlot(opts, this.data, this.container);
  }
}
