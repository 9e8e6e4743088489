/**
 * Scenario `hot` (and `hot-<row>` for one row): the hot path against its peers, every contender in a process of
 * its own (bench/hot-cases.ts runs one), alternating contenders run by run, medians of RUNS (5; CMWQ_HOT_RUNS
 * overrides). Each row prints every contender's median and range, the ratios its target is written in, and a
 * verdict against the target.
 *
 * Rows: new Work per async item (maxActive 1 and 100) and the handle-free one-shot path against fastq's callback
 * API; reused Works (async and sync); new Work per sync item; 2M plain awaits after cmwq ran async work (with
 * asyncContext false and true, wall and CPU time); the price of asyncContext on 1M async Works; a 1 ms
 * setInterval while 1M immediately-resolving items drain; sleeping handlers against a hand-written limiter;
 * delayed works armed and cancelled, and firing in a burst, in chunks and under light load, against setTimeout;
 * memory per pending item.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  check,
  fmtBytes,
  fmtMs,
  fmtRate,
  fmtX,
  heading,
  median,
  newReport,
  printTable,
  type ScenarioReport,
} from './harness.js';
import { hasAsyncContextFrame } from '../src/base/init.js';
import { HOT_RESULT } from './hot-cases.js';

const RUNS = Number(process.env.CMWQ_HOT_RUNS ?? 5);
const SCALE = Number(process.env.CMWQ_BENCH_SCALE ?? 1);
const CASES_JS = fileURLToPath(new URL('./hot-cases.js', import.meta.url));

type Figures = Record<string, number>;

/**
 * The case processes get this process's Node flags (so `node --experimental-async-context-frame ... hot-awaits`
 * measures Node 22 with AsyncContextFrame), plus --expose-gc once.
 */
const CASE_FLAGS = [...process.execArgv.filter((a) => a !== '--expose-gc'), '--expose-gc'];

/** Runs one case in a fresh process and returns its figures. */
function runCase(id: string): Promise<Figures> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...CASE_FLAGS, CASES_JS, id],
      { maxBuffer: 1 << 24, env: process.env },
      (error, stdout, stderr) => {
        const line = stdout.split('\n').find((l) => l.startsWith(HOT_RESULT));
        if (error !== null || line === undefined) {
          reject(new Error(`case ${id} failed: ${error?.message ?? 'no result'}\n${stderr}`));
          return;
        }
        if (stderr.trim() !== '') process.stderr.write(`(${id}) ${stderr}`);
        resolve(JSON.parse(line.slice(HOT_RESULT.length)) as Figures);
      },
    );
  });
}

/** Runs each contender of a row RUNS times, one process per run, rotating the order run by run. */
async function measure(row: string, contenders: readonly string[]): Promise<Map<string, Figures[]>> {
  const out = new Map<string, Figures[]>(contenders.map((c) => [c, []]));
  for (let r = 0; r < RUNS; r++) {
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[(k + r) % contenders.length];
      out.get(c)!.push(await runCase(`${row}/${c}`));
    }
  }
  return out;
}

const med = (runs: Figures[], key: string): number => median(runs.map((f) => f[key]));
const range = (runs: Figures[], key: string, fmt: (x: number) => string): string => {
  const xs = runs.map((f) => f[key]);
  return `${fmt(Math.min(...xs))} .. ${fmt(Math.max(...xs))}`;
};

interface Row {
  title: string;
  contenders: string[];
  show: (report: ScenarioReport, results: Map<string, Figures[]>) => void;
}

const M = 1_000_000 * SCALE;

/** Which AsyncLocalStorage this runtime (and so every case process, which gets the same flags) has. */
function runtimeNote(): string {
  return `Node ${process.version}, ${hasAsyncContextFrame ? 'AsyncContextFrame' : 'AsyncLocalStorage on promise hooks'}`;
}
const rate = (items: number) => (runs: Figures[]) => (items / med(runs, 'ms')) * 1000;

function throughputTable(results: Map<string, Figures[]>, items: number): void {
  printTable(
    ['contender', 'median', 'min .. max', 'items/s'],
    [...results].map(([name, runs]) => [
      name,
      fmtMs(med(runs, 'ms')),
      range(runs, 'ms', (x) => fmtMs(x)),
      fmtRate(rate(items)(runs)),
    ]),
  );
}

function atLeast(report: ScenarioReport, label: string, value: number, min: number, shown = fmtX(value)): void {
  check(report, { label, value, shown, target: `>= ${min}x`, holds: value >= min });
}

function record(report: ScenarioReport, row: string, results: Map<string, Figures[]>): void {
  for (const [name, runs] of results)
    for (const key of Object.keys(runs[0])) report.figures[`${row}.${name}.${key}`] = med(runs, key);
}

/** A reused-Works row: 1,000 Works queued 1,000 times each, with async or sync handlers, against fastq (c=1). */
function reusedRow(kind: 'async' | 'sync', min: number): Row {
  return {
    title: `1,000 reused Works queued 1,000 times each, ${kind} handlers, vs fastq callback API (c=1)`,
    contenders: ['cmwq-1', 'cmwq-dfl', 'fastq-1'],
    show(report, res) {
      throughputTable(res, M);
      const fq = rate(M)(res.get('fastq-1')!);
      atLeast(report, `reused Works ${kind}, maxActive 1: speed / fastq`, rate(M)(res.get('cmwq-1')!) / fq, min);
      console.log(`   (default maxActive: ${fmtX(rate(M)(res.get('cmwq-dfl')!) / fq)} fastq)`);
    },
  };
}

const ROWS: Record<string, Row> = {
  async: {
    title: '1M `async () => {}` items, new Work each (maxActive 1 and 100) vs fastq callback API (c=1, c=100)',
    contenders: ['cmwq-1', 'cmwq-100', 'fastq-1', 'fastq-100'],
    show(report, res) {
      throughputTable(res, M);
      for (const c of ['1', '100']) {
        const cm = rate(M)(res.get(`cmwq-${c}`)!);
        const fq = rate(M)(res.get(`fastq-${c}`)!);
        check(report, {
          label: `async new Work, maxActive ${c}: items/s (${fmtX(cm / fq)} fastq c=${c})`,
          value: cm,
          shown: fmtRate(cm),
          target: '>= 4M/s',
          holds: cm >= 4e6,
        });
      }
    },
  },
  oneshot: {
    title: '1M async one-shot jobs through queueFunc (maxActive 1 and 100) vs fastq callback API',
    contenders: ['cmwq-1', 'cmwq-100', 'fastq-1', 'fastq-100'],
    show(report, res) {
      throughputTable(res, M);
      for (const c of ['1', '100']) {
        const ratio = rate(M)(res.get(`cmwq-${c}`)!) / rate(M)(res.get(`fastq-${c}`)!);
        atLeast(report, `queueFunc async, maxActive ${c}: speed / fastq c=${c}`, ratio, 1);
      }
    },
  },
  'reused-async': reusedRow('async', 1.2),
  'reused-sync': reusedRow('sync', 1.5),
  sync: {
    title: '1M sync no-op items, new Work each (default maxActive), vs fastq callback API (c=1)',
    contenders: ['cmwq-dfl', 'fastq-1'],
    show(report, res) {
      throughputTable(res, M);
      const cm = rate(M)(res.get('cmwq-dfl')!);
      const fq = rate(M)(res.get('fastq-1')!);
      check(report, {
        label: `sync new Work: items/s (${fmtX(cm / fq)} fastq)`,
        value: cm,
        shown: fmtRate(cm),
        target: '>= 5M/s',
        holds: cm >= 5e6,
      });
    },
  },
  awaits: {
    title:
      '2M plain awaits: in a process without cmwq, after cmwq ran 10,000 async works (default, asyncContext ' +
      `false, true; ${runtimeNote()})`,
    contenders: ['none', 'cmwq-default', 'cmwq-noContext', 'cmwq-asyncContext'],
    show(report, res) {
      printTable(
        ['contender', 'median', 'min .. max', 'vs none', 'CPU median', 'CPU vs none'],
        [...res].map(([name, runs]) => [
          name,
          fmtMs(med(runs, 'ms')),
          range(runs, 'ms', (x) => fmtMs(x)),
          fmtX(med(runs, 'ms') / med(res.get('none')!, 'ms')),
          fmtMs(med(runs, 'cpu')),
          fmtX(med(runs, 'cpu') / med(res.get('none')!, 'cpu')),
        ]),
      );
      const ratio = med(res.get('cmwq-default')!, 'ms') / med(res.get('none')!, 'ms');
      check(report, {
        label: '2M awaits after cmwq (default settings): time / without cmwq',
        value: ratio,
        shown: fmtX(ratio),
        target: '<= 1.05x',
        holds: ratio <= 1.05,
      });
    },
  },
  'async-ctx': {
    title: `1M \`async () => {}\` items, new Work each, maxActive 1: asyncContext false vs true (${runtimeNote()})`,
    contenders: ['cmwq-noContext', 'cmwq-asyncContext'],
    show(_report, res) {
      throughputTable(res, M);
      const off = res.get('cmwq-noContext')!;
      const on = res.get('cmwq-asyncContext')!;
      console.log(
        `   asyncContext true: ${fmtX(med(on, 'ms') / med(off, 'ms'))} the wall time of false, ` +
          `${fmtX(med(on, 'cpu') / med(off, 'cpu'))} its CPU time (${fmtMs(med(off, 'cpu'))} -> ${fmtMs(med(on, 'cpu'))})`,
      );
    },
  },
  starve: {
    title: 'a 1 ms setInterval while 1M immediately-resolving items drain (largest gap between ticks)',
    contenders: ['cmwq-1', 'cmwq-100', 'fastq-1'],
    show(report, res) {
      printTable(
        ['contender', 'largest gap', 'ticks', 'drain'],
        [...res].map(([name, runs]) => [
          name,
          fmtMs(med(runs, 'maxGap')),
          String(med(runs, 'ticks')),
          fmtMs(med(runs, 'ms')),
        ]),
      );
      for (const c of ['1', '100']) {
        const gap = med(res.get(`cmwq-${c}`)!, 'maxGap');
        check(report, {
          label: `setInterval during a 1M drain, maxActive ${c}: largest gap`,
          value: gap,
          shown: fmtMs(gap),
          target: '<= 20 ms',
          holds: gap <= 20,
        });
      }
    },
  },
  sleeping: {
    title: '10,000 handlers awaiting 1 ms, maxActive 64, vs a hand-written limiter (limit 64)',
    contenders: ['cmwq-64', 'limiter-64'],
    show(report, res) {
      printTable(
        ['contender', 'median', 'min .. max'],
        [...res].map(([name, runs]) => [name, fmtMs(med(runs, 'ms')), range(runs, 'ms', (x) => fmtMs(x))]),
      );
      const ratio = med(res.get('cmwq-64')!, 'ms') / med(res.get('limiter-64')!, 'ms');
      check(report, {
        label: 'sleeping: time / hand-written limiter',
        value: ratio,
        shown: fmtX(ratio),
        target: '<= 1.05x',
        holds: ratio <= 1.05,
      });
    },
  },
  arm: {
    title: '1M delayed works, new DelayedWork each, armed (1-60 s) then cancelled, vs setTimeout + clearTimeout',
    contenders: ['cmwq', 'setTimeout'],
    show(report, res) {
      printTable(
        ['contender', 'ns per arm+cancel', 'min .. max', 'heap per pending item'],
        [...res].map(([name, runs]) => [
          name,
          med(runs, 'nsPerItem').toFixed(0),
          range(runs, 'nsPerItem', (x) => x.toFixed(0)),
          fmtBytes(med(runs, 'bytesPerItem')),
        ]),
      );
      const cm = res.get('cmwq')!;
      const st = res.get('setTimeout')!;
      atLeast(report, 'arm+cancel: speed / setTimeout', med(st, 'nsPerItem') / med(cm, 'nsPerItem'), 2.5);
      const mem = med(cm, 'bytesPerItem') / med(st, 'bytesPerItem');
      check(report, {
        label: 'memory per pending delayed work (object included) / setTimeout',
        value: mem,
        shown: fmtX(mem),
        target: '<= 0.6x',
        holds: mem <= 0.6,
      });
    },
  },
  ...fireRow('fire-burst', '100,000 delayed works firing in a burst (delays 0-50 ms)', 1.5),
  ...fireRow('fire-chunks', '100,000 delayed works firing in chunks of 1,000 (one every 10 ms)', 1),
  ...fireRow('fire-light', 'light load: 2,000 delayed works, 10 every 10 ms (delays 0-10 ms)', 1),
  pending: {
    title: '1M pending items (new Work + queueWork, not yet run): heap per item, vs fastq (paused)',
    contenders: ['cmwq', 'fastq'],
    show(report, res) {
      printTable(
        ['contender', 'heap per item', 'min .. max'],
        [...res].map(([name, runs]) => [
          name,
          fmtBytes(med(runs, 'bytesPerItem')),
          range(runs, 'bytesPerItem', fmtBytes),
        ]),
      );
      const b = med(res.get('cmwq')!, 'bytesPerItem');
      check(report, {
        label: `memory per pending item, Work included (${fmtX(b / med(res.get('fastq')!, 'bytesPerItem'))} fastq)`,
        value: b,
        shown: fmtBytes(b),
        target: '<= 100 B',
        holds: b <= 100,
      });
    },
  },
};

function fireRow(row: string, title: string, max: number): Record<string, Row> {
  return {
    [row]: {
      title,
      contenders: ['cmwq', 'setTimeout'],
      show(report, res) {
        printTable(
          ['contender', 'lateness p50', 'p99', 'max', 'min'],
          [...res].map(([name, runs]) => [
            name,
            fmtMs(med(runs, 'p50'), 2),
            fmtMs(med(runs, 'p99'), 2),
            fmtMs(med(runs, 'max'), 2),
            fmtMs(med(runs, 'min'), 2),
          ]),
        );
        const cm = res.get('cmwq')!;
        const st = res.get('setTimeout')!;
        for (const p of ['p50', 'p99']) {
          // Lateness under 0.5 ms is noise on either side: compare from there.
          const ratio = Math.max(med(cm, p), 0.5) / Math.max(med(st, p), 0.5);
          check(report, {
            label: `${row}: lateness ${p} / setTimeout's (floor 0.5 ms)`,
            value: ratio,
            shown: `${fmtX(ratio)} (${fmtMs(med(cm, p), 2)} vs ${fmtMs(med(st, p), 2)})`,
            target: `<= ${max}x`,
            holds: ratio <= max,
          });
        }
        const early = Math.min(...cm.map((f) => f.min));
        check(report, {
          label: `${row}: cmwq never early (smallest lateness)`,
          value: early,
          shown: fmtMs(early, 3),
          target: '>= 0',
          holds: early >= -0.001,
        });
        if (row === 'fire-light') {
          check(report, {
            label: 'light load: cmwq lateness p99',
            value: med(cm, 'p99'),
            shown: fmtMs(med(cm, 'p99'), 2),
            target: '<= 2 ms',
            holds: med(cm, 'p99') <= 2,
          });
        }
      },
    },
  };
}

/** Runs the given rows (all by default). */
export async function runRows(rows: readonly string[]): Promise<ScenarioReport> {
  const report = newReport('hot');
  for (const row of rows) {
    const spec = ROWS[row];
    const results = await measure(row, spec.contenders);
    heading(`${spec.title}`, `each contender in its own process; median of ${RUNS} runs, alternating`);
    spec.show(report, results);
    record(report, row, results);
  }
  return report;
}

export const HOT_ROWS = Object.keys(ROWS);

export function run(): Promise<ScenarioReport> {
  return runRows(HOT_ROWS);
}
