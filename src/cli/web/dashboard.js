// @ts-check
/**
 * The cmwq dashboard page: plain DOM, one canvas and two small SVGs, no framework and nothing fetched from
 * elsewhere (the page works offline, served by `cmwq web` from the package).
 *
 * Data: an EventSource on /events. `hello` carries the whole state (the server's backlog of recent executions
 * and log lines), `update` what the program reported since (a few times a second), `status` the program's
 * state. The timeline is a canvas redrawn every animation frame: at 100,000 items a second the server still
 * sends a few thousand slices a second, which a canvas draws in a millisecond where DOM or SVG nodes would
 * not keep up. The tables and the histograms change only with updates and are plain DOM and SVG.
 *
 * For tests and curious users: the canvas carries data-slices (slices drawn in the last frame) and
 * data-lanes; workqueue rows carry data-wq, workers data-worker and data-state.
 */

const LANE_H = 20;
const LABEL_W = 170;
const AXIS_H = 18;
const KEEP_MS = 60_000;

/** @type {any} */
const state = {
  title: '',
  status: { state: 'starting', code: null, pid: null },
  time: 0,
  rows: [],
  pools: [],
  workers: [],
  histograms: [],
  execs: [],
  log: [],
  dropped: 0,
  coverage: 1,
  intervalMs: 250,
};
let lastUpdateAt = 0;
let lastTotal = -1;
let lastTotalTime = 0;
let sortKey = 'name';
let sortDir = 1;

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * A colour per workqueue: a categorical palette in the order workqueues appear (allocation order, as the rows
 * come), so that the few busy ones get clearly different colours; a hashed hue past the palette.
 */
const PALETTE = ['#1a73e8', '#188038', '#a142f4', '#12b5cb', '#d01884', '#9e6a03', '#5f6368', '#7cb342'];
const colours = new Map();
function colourOf(/** @type {string} */ name) {
  let c = colours.get(name);
  if (c === undefined) {
    if (colours.size < PALETTE.length) c = PALETTE[colours.size];
    else {
      let h = 0;
      for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
      c = `hsl(${h % 360} 55% 50%)`;
    }
    colours.set(name, c);
  }
  return c;
}

/** A workqueue that has done nothing yet (the system workqueues, mostly): hidden unless asked for. */
const idleRow = (/** @type {any} */ r) => r.total === 0 && r.infl === 0 && r.pending === 0;
const showIdle = () => /** @type {HTMLInputElement} */ ($('show-idle')).checked;

function fmt(/** @type {number} */ v, /** @type {string} */ key) {
  if (key.startsWith('wait') || key.startsWith('run')) return v === 0 ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(0);
  if (key === 'cpuTime') return v.toFixed(0);
  return String(v);
}

function el(/** @type {string} */ tag, /** @type {Record<string, string>} */ attrs = {}, text = '') {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== '') node.textContent = text;
  return node;
}

function renderHeader() {
  $('title').textContent = state.title;
  document.title = `cmwq: ${state.title}`;
  const status = $('status');
  const s = state.status;
  status.dataset.state = s.state;
  status.textContent =
    s.state === 'exited' ? `exited (${s.code})` : s.pid !== null ? `${s.state}, pid ${s.pid}` : s.state;
}

function renderRate() {
  const total = state.rows.reduce((/** @type {number} */ n, /** @type {any} */ r) => n + r.total, 0);
  if (lastTotal >= 0 && state.time > lastTotalTime) {
    const rate = ((total - lastTotal) * 1000) / (state.time - lastTotalTime);
    $('rate').textContent = `${Math.round(rate).toLocaleString()} items/s`;
  }
  lastTotal = total;
  lastTotalTime = state.time;
}

/** Gives the busy workqueues the first colours, in allocation order. */
function assignColours() {
  for (const r of state.rows) if (!idleRow(r)) colourOf(r.name);
}

function renderWorkqueues() {
  assignColours();
  const rows = state.rows
    .filter((/** @type {any} */ r) => showIdle() || !idleRow(r))
    .sort((/** @type {any} */ a, /** @type {any} */ b) => {
      const x = a[sortKey];
      const y = b[sortKey];
      return (typeof x === 'string' ? x.localeCompare(y) : x - y) * sortDir;
    });
  const body = /** @type {HTMLTableSectionElement} */ ($('wq-table').querySelector('tbody'));
  const keys = [...$('wq-table').querySelectorAll('th')].map((th) => /** @type {string} */ (th.dataset.key));
  body.replaceChildren(
    ...rows.map((/** @type {any} */ row) => {
      const tr = el('tr', { 'data-wq': row.name });
      for (const key of keys) {
        if (key === 'name') {
          const td = el('td', { class: 'name' });
          const swatch = el('span', { class: 'swatch' });
          swatch.style.background = colourOf(row.name);
          td.append(swatch, row.name);
          tr.append(td);
        } else tr.append(el('td', {}, fmt(row[key], key)));
      }
      return tr;
    }),
  );
  for (const th of $('wq-table').querySelectorAll('th'))
    th.dataset.sort = th.dataset.key === sortKey ? (sortDir > 0 ? 'asc' : 'desc') : '';
}

function renderPools() {
  const byPool = new Map();
  for (const w of state.workers) {
    if (!byPool.has(w.pool)) byPool.set(w.pool, []);
    byPool.get(w.pool).push(w);
  }
  const now = state.status.state === 'exited' ? state.time : Date.now();
  $('pools-list').replaceChildren(
    ...state.pools.map((/** @type {any} */ pool) => {
      const box = el('div', { class: 'pool', 'data-pool': String(pool.id) });
      const cpus = pool.cpu < 0 ? 'unbound' : String(pool.cpu);
      const flags = `${pool.bh ? ' bh' : ''} nice=${pool.highpri ? -20 : 0}`;
      const head = `pool ${pool.id}: cpus=${cpus}${flags} workers=${pool.workers} idle=${pool.idle} worklist=${pool.worklist}`;
      box.append(el('div', { class: 'pool-head' }, head));
      for (const w of byPool.get(pool.id) ?? []) {
        const row = el('div', { class: 'worker', 'data-worker': w.name, 'data-state': w.state });
        row.append(el('span', {}, w.name), el('span', { class: 'state', 'data-state': w.state }, w.state));
        let what = '';
        if (w.func !== null) {
          const since = w.since > 0 ? ` for ${fmtMs(now - w.since)}` : '';
          what = `${w.func} (${w.workqueue})${since}, thread ${w.threadId}`;
        }
        row.append(el('span', {}, what));
        box.append(row);
      }
      return box;
    }),
  );
}

/** Adds bucket lists [[upperMs, count], ...] into one map. */
function addBuckets(/** @type {Map<number, number>} */ into, /** @type {[number, number][]} */ buckets) {
  for (const [upper, count] of buckets) into.set(upper, (into.get(upper) ?? 0) + count);
}

function drawHistogram(
  /** @type {string} */ id,
  /** @type {Map<number, number>} */ buckets,
  /** @type {string} */ colour,
) {
  const svg = $(id);
  const ns = 'http://www.w3.org/2000/svg';
  const entries = [...buckets].sort((a, b) => a[0] - b[0]);
  const nodes = [];
  if (entries.length === 0) {
    const t = document.createElementNS(ns, 'text');
    t.setAttribute('x', '8');
    t.setAttribute('y', '60');
    t.textContent = 'no samples yet';
    nodes.push(t);
  } else {
    // x: log2 of the bucket's upper bound, from 1 µs to the largest seen; y: count, linear.
    const lo = Math.log2(entries[0][0]);
    const hi = Math.max(lo + 4, Math.log2(entries[entries.length - 1][0]));
    const max = Math.max(...entries.map((e) => e[1]));
    const xOf = (/** @type {number} */ ms) => 6 + ((Math.log2(ms) - lo) / (hi - lo)) * 380;
    const barW = Math.max(2, 380 / ((hi - lo) * 4 + 1) - 1);
    for (const [upper, count] of entries) {
      const h = Math.max(1, (count / max) * 96);
      const r = document.createElementNS(ns, 'rect');
      r.setAttribute('x', String(xOf(upper) - barW / 2));
      r.setAttribute('y', String(102 - h));
      r.setAttribute('width', String(barW));
      r.setAttribute('height', String(h));
      r.setAttribute('fill', colour);
      const title = document.createElementNS(ns, 'title');
      title.textContent = `≤ ${fmtMs(upper)}: ${count}`;
      r.append(title);
      nodes.push(r);
    }
    for (let p = Math.ceil(lo); p <= hi; p += 2) {
      const t = document.createElementNS(ns, 'text');
      t.setAttribute('x', String(xOf(2 ** p) - 8));
      t.setAttribute('y', '116');
      t.textContent = fmtMs(2 ** p);
      nodes.push(t);
    }
  }
  svg.replaceChildren(...nodes);
}

function fmtMs(/** @type {number} */ ms) {
  if (ms < 1) return `${Math.round(ms * 1000)}µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)}ms`;
  return `${(ms / 1000).toFixed(1)}s`;
}

function renderHistograms() {
  const select = /** @type {HTMLSelectElement} */ ($('hist-wq'));
  const names = state.histograms
    .filter((/** @type {any} */ h) => h.wait.length > 0 || h.run.length > 0)
    .map((/** @type {any} */ h) => h.workqueue);
  const have = [...select.options].map((o) => o.value);
  for (const name of names) if (!have.includes(name)) select.append(el('option', { value: name }, name));
  const chosen = select.value;
  const wait = new Map();
  const run = new Map();
  for (const h of state.histograms) {
    if (chosen !== '' && h.workqueue !== chosen) continue;
    addBuckets(wait, h.wait);
    addBuckets(run, h.run);
  }
  const colour = chosen === '' ? 'var(--sleeping)' : colourOf(chosen);
  drawHistogram('hist-wait', wait, colour);
  drawHistogram('hist-run', run, colour);
}

function renderLog(/** @type {any[]} */ entries) {
  const list = $('log-list');
  for (const entry of entries) {
    const time = new Date(entry.time).toLocaleTimeString();
    list.prepend(el('li', { 'data-kind': entry.kind }, `${time} ${entry.kind}: ${entry.text}`));
  }
  while (list.childElementCount > 300) list.lastElementChild?.remove();
}

function renderAll() {
  renderHeader();
  renderWorkqueues();
  renderPools();
  renderHistograms();
  const notes = [];
  if (state.coverage < 0.999)
    notes.push(
      `busy program: executions are recorded ${(state.coverage * 100).toFixed(0)}% of the time (a window at the start of each report), so that watching costs it little`,
    );
  if (state.dropped > 0)
    notes.push(`${state.dropped.toLocaleString()} recorded executions not drawn (at most 256 per worker per report)`);
  $('dropped').textContent = notes.join('; ');
}

function addExecs(/** @type {any[]} */ execs) {
  for (const e of execs) state.execs.push(e);
  const horizon = (state.time || Date.now()) - KEEP_MS;
  let cut = 0;
  while (cut < state.execs.length && state.execs[cut].end < horizon) cut++;
  if (cut > 0) state.execs.splice(0, cut);
}

// ---- the timeline ----

const canvas = /** @type {HTMLCanvasElement} */ ($('timeline-canvas'));
const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
const tooltip = $('tooltip');
/** Slices drawn in the last frame, for hovering: [x0, x1, y, exec]. */
let hits = [];
let frozenNow = 0;

function lanes() {
  const seen = new Map();
  for (const w of state.workers) seen.set(w.lane, { lane: w.lane, name: w.name, pool: w.pool });
  for (const e of state.execs) {
    if (!seen.has(e.lane)) {
      const slash = e.lane.indexOf('/');
      seen.set(e.lane, { lane: e.lane, name: e.lane.slice(slash + 1), pool: Number(e.lane.slice(0, slash)) });
    }
  }
  return [...seen.values()].sort((a, b) => a.pool - b.pool || a.name.localeCompare(b.name, 'en', { numeric: true }));
}

function drawTimeline() {
  const paused = /** @type {HTMLInputElement} */ ($('pause')).checked;
  const windowMs = Number(/** @type {HTMLSelectElement} */ ($('window')).value);
  if (!paused) frozenNow = state.status.state === 'exited' ? state.time : Date.now();
  const now = frozenNow;
  const t0 = now - windowMs;
  const list = lanes();
  const dpr = window.devicePixelRatio || 1;
  const cssW = canvas.clientWidth;
  const cssH = AXIS_H + Math.max(1, list.length) * LANE_H;
  if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
    canvas.style.height = `${cssH}px`;
  }
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);
  const styles = getComputedStyle(document.documentElement);
  const muted = styles.getPropertyValue('--muted');
  const line = styles.getPropertyValue('--line');
  const bad = styles.getPropertyValue('--bad');
  const hog = styles.getPropertyValue('--hog');
  const plotW = cssW - LABEL_W;
  const xOf = (/** @type {number} */ t) => LABEL_W + ((t - t0) / windowMs) * plotW;
  // Axis: a tick per second (or per 10 s for long windows), labelled as seconds before now.
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = muted;
  ctx.strokeStyle = line;
  const step = windowMs > 20_000 ? 10_000 : windowMs > 5_000 ? 1000 : 500;
  for (let t = now - (now % step); t >= t0; t -= step) {
    const x = xOf(t);
    ctx.beginPath();
    ctx.moveTo(x, AXIS_H - 4);
    ctx.lineTo(x, cssH);
    ctx.stroke();
    ctx.fillText(`-${((now - t) / 1000).toFixed(step < 1000 ? 1 : 0)}s`, x + 2, 11);
  }
  const rowOf = new Map();
  list.forEach((l, i) => {
    rowOf.set(l.lane, i);
    const y = AXIS_H + i * LANE_H;
    ctx.fillStyle = muted;
    ctx.fillText(`${l.name}`, 4, y + 14);
    ctx.beginPath();
    ctx.moveTo(0, y + LANE_H - 0.5);
    ctx.lineTo(cssW, y + LANE_H - 0.5);
    ctx.stroke();
  });
  hits = [];
  let drawn = 0;
  const slice = (/** @type {any} */ e, /** @type {number} */ end, /** @type {boolean} */ open) => {
    const row = rowOf.get(e.lane);
    if (row === undefined || end < t0 || e.start > now) return;
    const x0 = Math.max(LABEL_W, xOf(e.start));
    const x1 = Math.max(x0 + 1, xOf(Math.min(end, now)));
    const y = AXIS_H + row * LANE_H + 3;
    ctx.globalAlpha = open ? 0.45 : 1;
    ctx.fillStyle = colourOf(e.workqueue);
    ctx.fillRect(x0, y, x1 - x0, LANE_H - 7);
    ctx.globalAlpha = 1;
    if (e.flags & 2) {
      ctx.fillStyle = hog;
      ctx.fillRect(x0, y - 2, Math.max(3, x1 - x0), 3);
    }
    if (e.flags & 1) {
      ctx.fillStyle = bad;
      ctx.beginPath();
      ctx.moveTo(x0, y + LANE_H - 7);
      ctx.lineTo(x0 + 5, y + LANE_H - 7);
      ctx.lineTo(x0, y + LANE_H - 13);
      ctx.fill();
      ctx.strokeStyle = bad;
      ctx.strokeRect(x0 + 0.5, y + 0.5, Math.max(1, x1 - x0 - 1), LANE_H - 8);
    }
    hits.push([x0, x1, y, e, open]);
    drawn++;
  };
  for (const e of state.execs) slice(e, e.end, false);
  for (const w of state.workers) {
    if (w.func === null || w.since <= 0) continue;
    slice({ lane: w.lane, start: w.since, func: w.func, workqueue: w.workqueue, flags: 0, worker: w.name }, now, true);
  }
  canvas.dataset.slices = String(drawn);
  canvas.dataset.lanes = String(list.length);
  canvas.dataset.now = String(now);
}

function hover(/** @type {MouseEvent} */ event) {
  const box = canvas.getBoundingClientRect();
  const x = event.clientX - box.left;
  const y = event.clientY - box.top;
  let best = null;
  for (const h of hits) if (x >= h[0] - 2 && x <= h[1] + 2 && y >= h[2] && y <= h[2] + LANE_H - 6) best = h;
  if (best === null) {
    tooltip.hidden = true;
    return;
  }
  const e = best[3];
  const lane = e.lane.slice(e.lane.indexOf('/') + 1);
  const end = best[4] ? frozenNow : e.end;
  const flags = [best[4] ? 'running' : '', e.flags & 1 ? 'FAILED' : '', e.flags & 2 ? 'CPU hog' : '']
    .filter(Boolean)
    .join(', ');
  tooltip.textContent =
    `${e.func}\nworkqueue ${e.workqueue}\nworker ${lane}\n` +
    `started ${new Date(e.start).toLocaleTimeString()}, ran ${fmtMs(end - e.start)}${flags ? `\n${flags}` : ''}`;
  tooltip.hidden = false;
  tooltip.style.left = `${Math.min(x + 12, box.width - 220)}px`;
  tooltip.style.top = `${y + 12}px`;
}

function legend() {
  const names = [
    ...new Set(state.rows.filter((/** @type {any} */ r) => !idleRow(r)).map((/** @type {any} */ r) => r.name)),
  ];
  const nodes = names.map((name) => {
    const s = el('span');
    const sw = el('span', { class: 'swatch' });
    sw.style.background = colourOf(name);
    s.append(sw, name);
    return s;
  });
  const hogKey = el('span', {}, '▀ CPU hog');
  hogKey.style.color = 'var(--hog)';
  const badKey = el('span', {}, '◣ failed');
  badKey.style.color = 'var(--bad)';
  $('legend').replaceChildren(...nodes, hogKey, badKey);
}

function frame() {
  drawTimeline();
  const stall = $('stall');
  const quiet = Date.now() - lastUpdateAt;
  const limit = Math.max(2000, 4 * state.intervalMs);
  if (state.status.state === 'running' && lastUpdateAt > 0 && quiet > limit) {
    stall.hidden = false;
    stall.textContent = `No report from the program for ${(quiet / 1000).toFixed(0)} s: its event loop is blocked (a handler that does not return?) or it is very busy. The watchdog prints a lockup report on its stderr.`;
  } else stall.hidden = true;
  requestAnimationFrame(frame);
}

// ---- wiring ----

for (const th of $('wq-table').querySelectorAll('th')) {
  th.addEventListener('click', () => {
    const key = /** @type {string} */ (th.dataset.key);
    sortDir = key === sortKey ? -sortDir : key === 'name' ? 1 : -1;
    sortKey = key;
    renderWorkqueues();
  });
}
$('hist-wq').addEventListener('change', renderHistograms);
$('show-idle').addEventListener('change', renderWorkqueues);
canvas.addEventListener('mousemove', hover);
canvas.addEventListener('mouseleave', () => {
  tooltip.hidden = true;
});

const events = new EventSource('events');
events.addEventListener('open', () => {
  $('connection').dataset.state = 'live';
  $('connection').textContent = 'live';
});
events.addEventListener('error', () => {
  $('connection').dataset.state = 'lost';
  $('connection').textContent = 'disconnected';
});
events.addEventListener('hello', (message) => {
  const hello = JSON.parse(/** @type {MessageEvent} */ (message).data);
  Object.assign(state, hello);
  lastUpdateAt = Date.now();
  $('log-list').replaceChildren();
  renderLog(hello.log);
  renderRate();
  legend();
  renderAll();
});
events.addEventListener('update', (message) => {
  const update = JSON.parse(/** @type {MessageEvent} */ (message).data);
  state.time = update.time;
  state.rows = update.rows;
  state.pools = update.pools;
  state.workers = update.workers;
  state.histograms = update.histograms;
  state.dropped = update.dropped;
  state.coverage = update.coverage;
  addExecs(update.execs);
  state.log.push(...update.log);
  lastUpdateAt = Date.now();
  renderLog(update.log);
  renderRate();
  legend();
  renderAll();
});
events.addEventListener('status', (message) => {
  state.status = JSON.parse(/** @type {MessageEvent} */ (message).data);
  renderHeader();
});
requestAnimationFrame(frame);
