/**
 * Scenario 3 — delayed work (§7): cmwq's timer base against Node's setTimeout.
 *
 *  a. Arm then cancel 1,000,000 delayed works with random delays in 1..60000 ms (the same seeded delays for
 *     everyone): queueDelayedWork + cancelDelayedWork on DelayedWork objects made beforehand ("arm+cancel"), and
 *     with the objects made inside the measurement ("create+arm+cancel"), vs setTimeout + clearTimeout.
 *  b. Heap per pending item: heap used (after a full GC) before and after arming 1,000,000; for cmwq the
 *     DelayedWork objects count too. The array holding the objects/handles is allocated before the first reading.
 *  c. Lateness: 100,000 delayed works falling due spread uniformly over 1000 ms; lateness = when the handler ran
 *     minus (when it was armed + its delay). p50 / p99 / max, vs setTimeout callbacks. Arming 100,000 items holds
 *     the thread for tens of ms (more for setTimeout), and nothing can fire meanwhile: with delays of 0..1000 ms
 *     from each item's own arming, the items due during the arming loop would be late by the loop's length, which
 *     measures the arming cost, not timer precision. So each item gets a due time T0 + LATE_LEAD + u*1000 ms
 *     (u uniform, the same for both contenders; T0 = start of the arming loop) and is armed with the integer delay
 *     that reaches it from the moment it is armed: delays span about LATE_LEAD - arming .. LATE_LEAD + 1000 ms.
 */
import { allocWorkqueue, cancelDelayedWork, DelayedWork, destroyWorkqueue, queueDelayedWork } from '../src/index.js';
import {
  check,
  checkAtLeast,
  type Contender,
  fmtBytes,
  fmtMs,
  fmtRange,
  fmtX,
  hasGc,
  heading,
  heapUsed,
  median,
  newReport,
  now,
  percentileSorted,
  printTable,
  prng,
  rounds,
  type ScenarioReport,
  slots,
  scaled,
} from './harness.js';

const N = scaled(1_000_000);
const MAX_DELAY = 60_000;
const SPEED_RUNS = 5;
/** Heap readings are steady to <1% and each run arms 1,000,000 twice with full GCs: 3 runs. */
const MEM_RUNS = 3;
const LATE_N = scaled(100_000);
const LATE_SPREAD = 1000;
/** Longer than arming 100,000 items takes, so none falls due before the arming loop has ended. */
const LATE_LEAD = 300;
const LATE_RUNS = 5;
const WARMUP = 1;
const SPEED_TARGET = 3;
const MEM_TARGET = 0.5;

function noop(): void {}

export async function run(): Promise<ScenarioReport> {
  const report = newReport('delayed');
  const rand = prng(42);
  const delays = new Int32Array(N);
  for (let i = 0; i < N; i++) delays[i] = 1 + Math.floor(rand() * MAX_DELAY);
  const wq = allocWorkqueue('bench-delayed');

  await armCancel(report, wq, delays);
  if (hasGc) await memory(report, wq, delays);
  else console.log('\n(heap per pending delayed item skipped: needs --expose-gc)');
  await lateness(report, wq);

  await destroyWorkqueue(wq);
  return report;
}

// ---- a. arm + cancel ----

async function armCancel(
  report: ScenarioReport,
  wq: ReturnType<typeof allocWorkqueue>,
  delays: Int32Array,
): Promise<void> {
  const pre: DelayedWork[] = [];
  for (let i = 0; i < N; i++) pre.push(new DelayedWork(noop));
  const made = slots<DelayedWork>(N);
  const handles = slots<NodeJS.Timeout>(N);

  const CM_PRE = 'cmwq arm+cancel (objects made before)';
  const CM_NEW = 'cmwq create+arm+cancel';
  const NODE = 'setTimeout + clearTimeout';
  const contenders: Contender[] = [
    {
      name: CM_PRE,
      run() {
        const t0 = now();
        for (let i = 0; i < N; i++) queueDelayedWork(wq, pre[i], delays[i]);
        for (let i = 0; i < N; i++) cancelDelayedWork(pre[i]);
        return now() - t0;
      },
    },
    {
      name: CM_NEW,
      run() {
        const t0 = now();
        for (let i = 0; i < N; i++) {
          const dw = new DelayedWork(noop);
          queueDelayedWork(wq, dw, delays[i]);
          made[i] = dw;
        }
        for (let i = 0; i < N; i++) cancelDelayedWork(made[i]!);
        const ms = now() - t0;
        made.fill(null);
        return ms;
      },
    },
    {
      name: NODE,
      run() {
        const t0 = now();
        for (let i = 0; i < N; i++) handles[i] = setTimeout(noop, delays[i]);
        for (let i = 0; i < N; i++) clearTimeout(handles[i]!);
        const ms = now() - t0;
        handles.fill(null);
        return ms;
      },
    },
  ];
  const results = await rounds(contenders, { runs: SPEED_RUNS, warmup: WARMUP });

  heading(
    `Delayed work: arm then cancel ${N.toLocaleString('en-US')}, random delays 1..${MAX_DELAY} ms ` +
      `(median of ${SPEED_RUNS}, ${WARMUP} warm-up, alternating)`,
  );
  const nodeMs = median(results.get(NODE)!);
  printTable(
    ['contender', 'median', 'min .. max', 'ns/item', 'speed vs setTimeout'],
    [...results].map(([name, ms]) => {
      const m = median(ms);
      return [name, fmtMs(m), fmtRange(ms), ((m * 1e6) / N).toFixed(0), fmtX(nodeMs / m)];
    }),
  );
  for (const [name, ms] of results) report.figures[`armcancel.${name}.ms`] = median(ms);
  for (const name of [CM_PRE, CM_NEW]) {
    const r = nodeMs / median(results.get(name)!);
    checkAtLeast(report, `delayed: ${name} speed / setTimeout+clearTimeout`, r, SPEED_TARGET);
  }
}

// ---- b. heap per pending item ----

async function memory(
  report: ScenarioReport,
  wq: ReturnType<typeof allocWorkqueue>,
  delays: Int32Array,
): Promise<void> {
  const held = slots<DelayedWork>(N);
  const handles = slots<NodeJS.Timeout>(N);
  const objectBytes: number[] = [];
  const CM = 'cmwq DelayedWork + armed';
  const NODE = 'setTimeout (pending)';
  const contenders: Contender[] = [
    {
      name: CM,
      run() {
        const before = heapUsed();
        for (let i = 0; i < N; i++) held[i] = new DelayedWork(noop);
        const created = heapUsed();
        for (let i = 0; i < N; i++) queueDelayedWork(wq, held[i]!, delays[i]);
        const after = heapUsed();
        for (let i = 0; i < N; i++) cancelDelayedWork(held[i]!);
        held.fill(null);
        objectBytes.push((created - before) / N);
        return (after - before) / N;
      },
    },
    {
      name: NODE,
      run() {
        const before = heapUsed();
        for (let i = 0; i < N; i++) handles[i] = setTimeout(noop, delays[i]);
        const after = heapUsed();
        for (let i = 0; i < N; i++) clearTimeout(handles[i]!);
        handles.fill(null);
        return (after - before) / N;
      },
    },
  ];
  // The warm-up round also runs with a measurement, discarded: heap figures are steady, 5 runs are plenty.
  const results = await rounds(contenders, { runs: MEM_RUNS, warmup: WARMUP });
  const cm = median(results.get(CM)!);
  const node = median(results.get(NODE)!);
  const objs = median(objectBytes.slice(-MEM_RUNS));

  heading(
    `Delayed work: heap per pending item, ${N.toLocaleString('en-US')} armed (median of ${MEM_RUNS}, full GC before each reading)`,
  );
  printTable(
    ['contender', 'bytes/item', 'of which', 'vs setTimeout'],
    [
      [CM, fmtBytes(cm), `object ${fmtBytes(objs)}, arming ${fmtBytes(cm - objs)}`, fmtX(cm / node)],
      [NODE, fmtBytes(node), 'Timeout object + lists', fmtX(1)],
    ],
  );
  report.figures['memory.cmwq.bytesPerItem'] = cm;
  report.figures['memory.cmwq.objectBytesPerItem'] = objs;
  report.figures['memory.setTimeout.bytesPerItem'] = node;
  check(report, {
    label: 'delayed: cmwq heap per pending item / setTimeout',
    value: cm / node,
    shown: `${fmtX(cm / node)} (${cm.toFixed(0)} B vs ${node.toFixed(0)} B)`,
    target: `<= ${MEM_TARGET}x`,
    holds: cm / node <= MEM_TARGET,
  });
}

// ---- c. lateness ----

interface LateStats {
  p50: number;
  p99: number;
  max: number;
  armMs: number;
  /** Items that fell due before the arming loop ended (should be 0: LATE_LEAD is longer than arming). */
  dueEarly: number;
}

/** The integer delay (ms) that takes an item armed now to t0 + offset. */
function delayTo(t0: number, offset: number): number {
  const d = Math.round(t0 + offset - now());
  return Math.max(d, 0);
}

async function lateness(report: ScenarioReport, wq: ReturnType<typeof allocWorkqueue>): Promise<void> {
  const rand = prng(7);
  const offsets = new Float64Array(LATE_N);
  for (let i = 0; i < LATE_N; i++) offsets[i] = LATE_LEAD + rand() * LATE_SPREAD;
  const due = new Float64Array(LATE_N);
  const fired = new Float64Array(LATE_N);
  let count = 0;
  let finished: (() => void) | null = null;
  const record = (i: number): void => {
    fired[i] = now();
    if (++count === LATE_N) finished!();
  };
  const dworks: DelayedWork<number>[] = [];
  for (let i = 0; i < LATE_N; i++) dworks.push(new DelayedWork<number>((w) => record(w.data), i));
  const onTimeout = (i: number): void => record(i);

  const stats = new Map<string, LateStats[]>();
  const measure = (name: string, arm: (t0: number) => void): Contender => {
    stats.set(name, []);
    return {
      name,
      async run() {
        count = 0;
        const all = new Promise<void>((resolve) => (finished = resolve));
        const t0 = now();
        arm(t0);
        const armEnd = now();
        await all;
        const late = new Float64Array(LATE_N);
        let dueEarly = 0;
        for (let i = 0; i < LATE_N; i++) {
          late[i] = fired[i] - due[i];
          if (due[i] < armEnd) dueEarly++;
        }
        late.sort();
        const s = {
          p50: percentileSorted(late, 50),
          p99: percentileSorted(late, 99),
          max: late[LATE_N - 1],
          armMs: armEnd - t0,
          dueEarly,
        };
        stats.get(name)!.push(s);
        return s.p99;
      },
    };
  };
  const CM = 'cmwq queueDelayedWork';
  const NODE = 'setTimeout';
  const contenders = [
    measure(CM, (t0) => {
      for (let i = 0; i < LATE_N; i++) {
        const delay = delayTo(t0, offsets[i]);
        due[i] = now() + delay;
        queueDelayedWork(wq, dworks[i], delay);
      }
    }),
    measure(NODE, (t0) => {
      for (let i = 0; i < LATE_N; i++) {
        const delay = delayTo(t0, offsets[i]);
        due[i] = now() + delay;
        setTimeout(onTimeout, delay, i);
      }
    }),
  ];
  await rounds(contenders, { runs: LATE_RUNS, warmup: WARMUP });
  for (const s of stats.values()) s.splice(0, WARMUP);

  heading(
    `Delayed work: lateness of ${LATE_N.toLocaleString('en-US')} items falling due over ${LATE_SPREAD} ms ` +
      `(median over ${LATE_RUNS} runs of each run's percentile, ${WARMUP} warm-up, alternating)`,
    'lateness = handler start - (arm time + delay). Items fall due uniformly over ' +
      `${LATE_LEAD}..${LATE_LEAD + LATE_SPREAD} ms after the arming loop\n` +
      `starts (integer delays ~${LATE_LEAD}-arming..${LATE_LEAD + LATE_SPREAD} ms), so none is due while the loop holds the thread.`,
  );
  const row = (name: string): string[] => {
    const s = stats.get(name)!;
    const m = (k: keyof LateStats): number => median(s.map((x) => x[k]));
    const early = Math.max(...s.map((x) => x.dueEarly));
    return [name, fmtMs(m('p50'), 2), fmtMs(m('p99'), 2), fmtMs(m('max'), 2), fmtMs(m('armMs'), 1), String(early)];
  };
  printTable(['contender', 'p50', 'p99', 'max', 'arming', 'due during arming (max)'], [row(CM), row(NODE)]);
  for (const [name, s] of stats) {
    for (const k of ['p50', 'p99', 'max', 'armMs'] as const)
      report.figures[`lateness.${name}.${k}`] = median(s.map((x) => x[k]));
  }
  const p99 = report.figures[`lateness.${CM}.p99`];
  check(report, {
    label: `delayed: cmwq lateness p99, ${LATE_N.toLocaleString('en-US')} items over ${LATE_SPREAD} ms (§3.7)`,
    value: p99,
    shown: fmtMs(p99, 2),
    target: '<= 2 ms',
    holds: p99 <= 2,
  });
}
