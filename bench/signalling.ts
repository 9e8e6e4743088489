/**
 * Signalling micro-benchmark: how should the main thread hand items to an already-running worker thread and get
 * their completions back? The design choice behind cmwq's unbound pools (module works on worker threads); no cmwq
 * code runs here, only four hand-written channels to one worker thread (bench/tasks/signal-worker.ts), whose
 * "work" is computing n + 1:
 *
 * (a) postMessage, one message per item (and one reply per item);
 * (b) postMessage, batches of 64 items per message (one reply per batch);
 * (c) a SharedArrayBuffer ring of Int32 slots: the parent writes items and publishes its tail with Atomics.store +
 *     Atomics.notify; the worker waits on an empty ring with Atomics.waitAsync (its event loop stays free, as a
 *     cmwq thread's must: its sleeping handlers need it), writes completions into a second ring and notifies;
 *     the parent waits for completions with Atomics.waitAsync too;
 * (d) the same ring, but the worker keeps polling the ring while work keeps coming (it waits only once the ring
 *     has been empty for POLL_US microseconds).
 *
 * Figures: single-item round trip (post one item, wait for its completion; p50 and p99 over every sample), back to
 * back and isolated (a 1 ms timer before each item, so a polling worker has gone to sleep), and
 * throughput of 100,000 items handed over at once (postMessage: everything posted up front; rings: as many as fit,
 * refilled as completions come back). Each channel has its own worker, started and warmed before measuring; runs
 * alternate between the channels (harness rounds()).
 */
import { Worker } from 'node:worker_threads';
import {
  describeRuns,
  type Contender,
  fmtMs,
  fmtRange,
  fmtRate,
  fmtX,
  heading,
  median,
  newReport,
  now,
  percentileSorted,
  printTable,
  rounds,
  type ScenarioReport,
  scaled,
} from './harness.js';
import { workerExecArgv } from './tasks/exec-argv.js';
import { RingLayout, ringBytes, type SignalWorkerData, waitAsync } from './tasks/ring.js';

const N = scaled(100_000);
const BATCH = 64;
/** Ring slots (items in flight at most). */
const RING = 1024;
/** (d): how long the worker polls an empty ring before it waits. */
const POLL_US = 100;
/** Back-to-back round trips measured per channel (after LAT_WARMUP unmeasured ones), split over the runs. */
const LAT_ITERS = scaled(5_000);
const LAT_WARMUP = scaled(200);
/** Isolated round trips per channel, each after a GAP_MS timer (longer than (d)'s polling). */
const ISO_ITERS = scaled(500);
const GAP_MS = 1;
const RUNS = 5;
const WARMUP = 1;
/** Throughput runs are short (milliseconds) and noisy on a busy 2-core machine: more of them. */
const OPTS = { runs: 9, warmup: WARMUP };

const WORKER_URL = new URL('./tasks/signal-worker.js', import.meta.url);

interface Channel {
  name: string;
  /** One item there and its completion back. */
  roundTrip(): Promise<void>;
  /** n items handed over at once; resolves when all n completions are back. */
  many(n: number): Promise<void>;
  close(): Promise<void>;
}

function startWorker(data: SignalWorkerData): Worker {
  const w = new Worker(WORKER_URL, { workerData: data, execArgv: workerExecArgv() });
  w.on('error', (err) => {
    console.error('signal worker failed:', err);
    process.exitCode = 1;
  });
  return w;
}

/** A postMessage channel: items one per message (batch 1) or in arrays of `batch`, completions counted as they come back. */
function messageChannel(name: string, batch: number): Channel {
  const w = startWorker({ mode: 'message' });
  let left = 0;
  let sum = 0;
  let wake: (() => void) | null = null;
  w.on('message', (m: number | number[]) => {
    if (typeof m === 'number') {
      sum += m;
      left--;
    } else {
      for (let i = 0; i < m.length; i++) sum += m[i];
      left -= m.length;
    }
    if (left === 0 && wake !== null) {
      const f = wake;
      wake = null;
      f();
    }
  });
  const replies = (): Promise<void> => new Promise((resolve) => (wake = resolve));
  return {
    name,
    roundTrip() {
      left = 1;
      const p = replies();
      w.postMessage(batch === 1 ? 1 : [1]);
      return p;
    },
    async many(n) {
      left = n;
      sum = 0;
      const p = replies();
      if (batch === 1) {
        for (let i = 0; i < n; i++) w.postMessage(i);
      } else {
        for (let i = 0; i < n; i += batch) {
          const m = Math.min(batch, n - i);
          const items = new Array<number>(m);
          for (let k = 0; k < m; k++) items[k] = i + k;
          w.postMessage(items);
        }
      }
      await p;
      // Every completion is n + 1: the sum of i + 1 over 0..n-1.
      if (sum !== (n * (n + 1)) / 2) throw new Error(`${name}: wrong completions`);
    },
    async close() {
      await w.terminate();
    },
  };
}

function ringChannel(name: string, mode: 'ring-wait' | 'ring-poll'): Channel {
  const { SUB_TAIL, COMP_TAIL, STOP, CTRL_WORDS } = RingLayout;
  const sab = new SharedArrayBuffer(ringBytes(RING));
  const ctrl = new Int32Array(sab, 0, CTRL_WORDS);
  const sub = new Int32Array(sab, CTRL_WORDS * 4, RING);
  const comp = new Int32Array(sab, (CTRL_WORDS + RING) * 4, RING);
  const mask = RING - 1;
  const w = startWorker({ mode, sab, size: RING, pollUs: POLL_US });
  let submitted = 0;
  let done = 0;

  /** Waits until the worker has published completions past `done`; returns its completion tail. */
  async function completions(): Promise<number> {
    for (;;) {
      const ct = Atomics.load(ctrl, COMP_TAIL);
      if (ct !== done) return ct;
      const r = waitAsync(ctrl, COMP_TAIL, done);
      if (r.async) await r.value;
    }
  }
  function publish(): void {
    Atomics.store(ctrl, SUB_TAIL, submitted);
    Atomics.notify(ctrl, SUB_TAIL);
  }

  return {
    name,
    async roundTrip() {
      sub[submitted & mask] = 1;
      submitted = (submitted + 1) | 0;
      publish();
      const ct = await completions();
      if (comp[done & mask] !== 2) throw new Error(`${name}: wrong completion`);
      done = ct;
    },
    async many(n) {
      let sent = 0;
      let got = 0;
      let sum = 0;
      while (got < n) {
        const room = RING - ((submitted - done) | 0);
        const k = Math.min(room, n - sent);
        if (k > 0) {
          for (let i = 0; i < k; i++) sub[(submitted + i) & mask] = sent + i;
          submitted = (submitted + k) | 0;
          sent += k;
          publish();
        }
        const ct = await completions();
        for (let c = done; c !== ct; c = (c + 1) | 0) sum += comp[c & mask];
        got += (ct - done) | 0;
        done = ct;
      }
      if (sum !== (n * (n + 1)) / 2) throw new Error(`${name}: wrong completions`);
    },
    async close() {
      Atomics.store(ctrl, STOP, 1);
      Atomics.notify(ctrl, SUB_TAIL);
      await w.terminate();
    },
  };
}

export async function run(): Promise<ScenarioReport> {
  const report = newReport('signalling');
  const channels: Channel[] = [
    messageChannel('(a) postMessage, 1 item per message', 1),
    messageChannel(`(b) postMessage, ${BATCH} items per message`, BATCH),
    ringChannel('(c) SAB ring, worker Atomics.waitAsync', 'ring-wait'),
    ringChannel(`(d) SAB ring, worker polls (${POLL_US} us) then waitAsync`, 'ring-poll'),
  ];
  // Start and warm every worker (thread start, module load, JIT of both sides) before anything is measured.
  for (const c of channels) {
    for (let i = 0; i < LAT_WARMUP; i++) await c.roundTrip();
    await c.many(Math.min(N, 10_000));
  }

  // Round trips, two ways: back to back (the next item leaves as soon as the last completion is in), and isolated
  // (a GAP_MS timer between items, longer than (d)'s polling, so every item finds the worker asleep). Each run takes
  // its share of the samples; every sample of every run counts.
  const latency = (iters: number, gapMs: number): { contenders: Contender[]; samples: Map<string, number[]> } => {
    const samples = new Map<string, number[]>(channels.map((c) => [c.name, []]));
    const perRun = Math.max(1, Math.round(iters / RUNS));
    const contenders: Contender[] = channels.map((c) => ({
      name: c.name,
      async run() {
        const mine: number[] = [];
        for (let i = 0; i < perRun; i++) {
          if (gapMs > 0) await sleep(gapMs);
          const t0 = now();
          await c.roundTrip();
          mine.push(now() - t0);
        }
        samples.get(c.name)!.push(...mine);
        return median(mine);
      },
    }));
    return { contenders, samples };
  };
  const hot = latency(LAT_ITERS, 0);
  await rounds(hot.contenders, { runs: RUNS, warmup: 0 });
  const cold = latency(ISO_ITERS, GAP_MS);
  await rounds(cold.contenders, { runs: RUNS, warmup: 0 });

  const throughput: Contender[] = channels.map((c) => ({
    name: c.name,
    async run() {
      const t0 = now();
      await c.many(N);
      return now() - t0;
    },
  }));
  const results = await rounds(throughput, OPTS);
  for (const c of channels) await c.close();

  const sampleCount = (m: Map<string, number[]>): string => m.get(channels[0].name)!.length.toLocaleString('en-US');
  heading(
    `Signalling: one item there and back, and ${N.toLocaleString('en-US')} items, to one worker thread`,
    `round trip back to back: ${sampleCount(hot.samples)} samples per channel; isolated (a ${GAP_MS} ms timer before ` +
      `each item): ${sampleCount(cold.samples)};
` +
      `both over ${RUNS} alternating runs, after ${LAT_WARMUP} warm-up round trips. throughput: ${describeRuns(throughput, OPTS)}.\n` +
      `rings: ${RING} slots; (d) polls an empty ring for ${POLL_US} us before Atomics.waitAsync.`,
  );
  const pct = (m: Map<string, number[]>, name: string, q: number): number =>
    percentileSorted(
      m.get(name)!.sort((a, b) => a - b),
      q,
    );
  const rows = channels.map((c) => {
    const ms = results.get(c.name)!;
    return {
      name: c.name,
      p50: pct(hot.samples, c.name, 50),
      p99: pct(hot.samples, c.name, 99),
      isoP50: pct(cold.samples, c.name, 50),
      isoP99: pct(cold.samples, c.name, 99),
      rate: (N / median(ms)) * 1000,
      ms,
    };
  });
  const base = rows[0];
  printTable(
    [
      'channel',
      'rt p50',
      'rt p99',
      'isolated p50',
      'isolated p99',
      'items/s',
      'median',
      'min .. max',
      'items/s vs (a)',
    ],
    rows.map((r) => [
      r.name,
      fmtUs(r.p50),
      fmtUs(r.p99),
      fmtUs(r.isoP50),
      fmtUs(r.isoP99),
      fmtRate(r.rate),
      fmtMs(median(r.ms)),
      fmtRange(r.ms),
      fmtX(r.rate / base.rate),
    ]),
  );
  const keys = ['message', 'messageBatch', 'ringWait', 'ringPoll'];
  rows.forEach((r, i) => {
    report.figures[`${keys[i]}.roundTripP50Us`] = r.p50 * 1000;
    report.figures[`${keys[i]}.roundTripP99Us`] = r.p99 * 1000;
    report.figures[`${keys[i]}.isolatedP50Us`] = r.isoP50 * 1000;
    report.figures[`${keys[i]}.isolatedP99Us`] = r.isoP99 * 1000;
    report.figures[`${keys[i]}.itemsPerSec`] = r.rate;
  });

  const best = <K extends 'p50' | 'isoP50'>(k: K): string => {
    const by = [...rows].sort((a, b) => a[k] - b[k]);
    return (
      `${by[0].name}, p50 ${fmtUs(by[0][k])}: ${fmtX(by[1][k] / by[0][k])} faster than the runner-up ${by[1].name} ` +
      `(${fmtUs(by[1][k])})` +
      (by[0] === base ? '' : `, ${fmtX(base[k] / by[0][k])} faster than (a)`)
    );
  };
  const byRate = [...rows].sort((a, b) => b.rate - a.rate);
  const [, , wait, poll] = rows;
  console.log(`   -> back-to-back round trip, lowest: ${best('p50')}.`);
  console.log(`   -> isolated round trip, lowest: ${best('isoP50')}.`);
  console.log(
    `   -> throughput, highest: ${byRate[0].name}, ${fmtRate(byRate[0].rate)}: ` +
      `${fmtX(byRate[0].rate / byRate[1].rate)} the runner-up ${byRate[1].name} (${fmtRate(byRate[1].rate)}), ` +
      `${fmtX(byRate[0].rate / base.rate)} (a).`,
  );
  console.log(
    `   -> polling (d) vs waiting (c): back to back ${fmtUs(poll.p50)} vs ${fmtUs(wait.p50)}, isolated ` +
      `${fmtUs(poll.isoP50)} vs ${fmtUs(wait.isoP50)}, throughput ${fmtX(poll.rate / wait.rate)}.`,
  );
  console.log(
    `   (Back to back, (d)'s worker never sleeps: the completion is often in before the parent looks, with no\n` +
      `   event-loop hop on either side. An isolated item finds it asleep and pays (c)'s wake-up, and then the worker\n` +
      `   keeps its core polling for ${POLL_US} us: on a busy 2-core machine the parent, woken by the completion, can\n` +
      `   wait that long for a core. (c) needs no core while idle and keeps the worker's event loop free.)`,
  );
  return report;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function fmtUs(ms: number): string {
  return Number.isFinite(ms) ? `${(ms * 1000).toFixed(1)} us` : '-';
}
