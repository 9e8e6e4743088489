/**
 * Scenario — shared workqueues on PostgreSQL: cmwq's shared workqueue (cmwq/postgres) beside graphile-worker and
 * pg-boss, side by side on ONE embedded PostgreSQL server (test/pg-server.ts). The server runs with fsync and
 * synchronous_commit off (the throw-away server's default; CMWQ_BENCH_SHARED_DURABLE=1 keeps them on): on this
 * VM an fsync takes ~4.5 ms (p50), and PostgreSQL serializes the commits of transactions that NOTIFY, so a
 * durable run measures the disk (about 150-200 notifying commits a second) more than the queues.
 * Every contender runs in processes of its own, forked afresh for each measured run: a producer and 2 worker
 * processes (bench/tasks/shared-node.ts; the adapters are bench/tasks/shared-{cmwq,graphile,pgboss}.ts). Each
 * contender has a database of its own on that server, created before each run and dropped after it, so no run
 * sees another's rows, bloat or connections. Runs alternate between the contenders (harness rounds()).
 *
 * (a) throughput: tiny jobs (the handler returns at once) queued in batches of 1,000 by the producer while both
 *     workers run; timed from the first queue call to the start of the last job's handler. 100,000 jobs a run
 *     for cmwq and graphile-worker; 20,000 for pg-boss (3 runs, no warm-up; FULL below: 100,000 each).
 * (b) latency: single jobs queued at a steady 50 per second by the producer; queue-to-start latency is the
 *     worker's clock at the handler's start minus the producer's just before the queue call (same machine, same
 *     epoch clock); p50 and p99 over every job of a run, and how long the queue call itself took.
 * (c) coalescing: 10,000 queueings (FULL: 100,000) of 1,000 keys (key = i % 1,000, in batches of 1,000) while
 *     the workers run handlers that take 5 ms; how many handler runs follow once everything settles. The peers
 *     run with their de-duplication options (graphile-worker's jobKey, pg-boss's singletonKey on a 'stately'
 *     queue; each adapter's header says what they then guarantee); without them they run every queueing.
 * (d) table size: rounds of 1,000 keys, each queued once per round and run before the next round is queued,
 *     20,000 runs each (FULL: 1,000,000 for cmwq, 100,000 for graphile-worker, 20,000 for pg-boss); rows and
 *     bytes (tables, indexes and TOAST, before any VACUUM but whatever autovacuum did) of the contender's own
 *     tables after the first round and at the end.
 *
 * CMWQ_BENCH_SCALE scales every count (harness scaled()); CMWQ_BENCH_SHARED_CONTENDERS=a,b limits the
 * contenders (default: all three), CMWQ_BENCH_SHARED_PARTS=throughput,latency,coalescing,tables the parts,
 * CMWQ_BENCH_SHARED_DURABLE=1 the server's durability.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startPostgres, type TestPostgres } from '../test/pg-server.js';
import {
  type Check,
  check,
  type Contender,
  describeRuns,
  fmtMs,
  fmtRate,
  fmtX,
  heading,
  median,
  newReport,
  percentileSorted,
  printTable,
  type RoundsOptions,
  rounds,
  type ScenarioReport,
  scaled,
} from './harness.js';
import {
  CONTENDERS,
  type Command,
  type ContenderName,
  type NodeContender,
  type Reply,
  type RunMode,
} from './tasks/shared-protocol.js';

/**
 * CMWQ_BENCH_SHARED_FULL=1 runs the full sizes everywhere (100,000 jobs a throughput run, 100,000
 * coalescing queueings, 1,000,000 table-size runs for cmwq): on this 2-core machine that takes far longer than the
 * ~10 minutes a default run is kept to, which runs the slow contenders on fewer jobs (the tables say how many).
 */
const FULL = process.env.CMWQ_BENCH_SHARED_FULL === '1';
/** Per contender: `full` with FULL, else each its own; `scale` passes counts through scaled(). */
function per(
  full: number,
  cmwq: number,
  graphile: number,
  pgBoss: number,
  scale = true,
): Record<ContenderName, number> {
  const f = scale ? scaled : (n: number) => n;
  return FULL
    ? { cmwq: f(full), 'graphile-worker': f(full), 'pg-boss': f(full) }
    : { cmwq: f(cmwq), 'graphile-worker': f(graphile), 'pg-boss': f(pgBoss) };
}
/** Jobs of one throughput run. */
const THROUGHPUT_N = per(100_000, 100_000, 100_000, 20_000);
/** Measured throughput runs, and warm-up runs before them. */
const THROUGHPUT_RUNS = per(5, 5, 5, 3, false);
const THROUGHPUT_WARMUP = per(1, 1, 1, 0, false);
export const BATCH = 1000;
export const LAT_RATE = 50;
export const LAT_N = scaled(150);
const KEYS = Math.min(1000, scaled(1000));
const COALESCE_N = scaled(FULL ? 100_000 : 10_000);
const COALESCE_HANDLER_MS = 5;
/** Runs of the table-size part (rounds of KEYS); with FULL, the peers stop earlier (their rows grow anyway). */
const TABLE_RUNS: Record<ContenderName, number> = FULL
  ? { cmwq: scaled(1_000_000), 'graphile-worker': scaled(100_000), 'pg-boss': scaled(20_000) }
  : per(20_000, 20_000, 20_000, 20_000);
/** No run of a worker for this long after the producer is done: everything queued has run (pg-boss polls 0.5 s). */
const QUIET_MS = 1500;
/** A run that makes no progress for this long has failed. */
const STALL_MS = 60_000;
/** The peer every target is written against. */
const BASELINE: ContenderName = 'graphile-worker';

const NODE_URL = new URL('./tasks/shared-node.js', import.meta.url);
const UNKEYED: RunMode = { keyed: false, handlerMs: 0 };

// ---- child processes ----

/** One forked producer or worker, with its latest progress and a way to await its next reply of a kind. */
export class Child {
  readonly cp: ChildProcess;
  runs = 0;
  lastAt = 0;
  private waiters: { op: Reply['op']; resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | null = null;
  readonly exited: Promise<void>;
  /** Called on every progress message (the cluster's run counter listens). */
  onProgress: () => void = () => {};

  constructor(
    readonly contender: NodeContender,
    readonly role: 'producer' | 'worker',
  ) {
    this.cp = fork(fileURLToPath(NODE_URL), [contender, role], { stdio: 'inherit', execArgv: [] });
    this.cp.on('message', (m: Reply) => this.receive(m));
    // A send to a child that just died fails asynchronously (EPIPE): its exit reports the death.
    this.cp.on('error', (error) => this.fail(error));
    this.exited = new Promise((resolve) =>
      this.cp.on('exit', (code, signal) => {
        if (code !== 0) this.fail(new Error(`${contender} ${role} exited (${signal ?? code})`));
        else this.fail(new Error(`${contender} ${role} exited`));
        resolve();
      }),
    );
  }

  private receive(m: Reply): void {
    if (m.op === 'progress') {
      this.runs = m.runs;
      this.lastAt = m.lastAt;
      this.onProgress();
      return;
    }
    if (m.op === 'error') {
      this.fail(new Error(m.message));
      return;
    }
    const i = this.waiters.findIndex((w) => w.op === m.op);
    if (i >= 0) this.waiters.splice(i, 1)[0].resolve(m);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const w of this.waiters.splice(0)) w.reject(this.failure);
  }

  /** Sends a command and resolves with the child's reply of kind `op`. */
  ask<R extends Reply>(cmd: Command, op: R['op']): Promise<R> {
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise<R>((resolve, reject) => {
      this.waiters.push({ op, resolve: resolve as (r: Reply) => void, reject });
      this.cp.send(cmd);
    });
  }

  /** Asks it to close and exit; kills it when it has not exited after 10 s. */
  async stop(): Promise<void> {
    if (this.cp.exitCode === null && this.cp.connected) this.cp.send({ op: 'stop' } satisfies Command);
    const timer = setTimeout(() => this.cp.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** A contender's producer and 2 workers on a fresh database of its own. */
export interface Cluster {
  name: NodeContender;
  url: string;
  producer: Child;
  workers: Child[];
  /** Resolves when the workers have run `target` jobs in all; with the epoch ms of the latest start. */
  runsReach(target: number): Promise<number>;
  /** Resolves when no worker has run a job for `quietMs`; with the total runs. */
  quiet(quietMs: number): Promise<number>;
  totalRuns(): number;
}

function databaseUrl(serverUrl: string, db: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${db}`;
  return u.href;
}

async function adminQuery(serverUrl: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: serverUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Runs `fn` on a fresh cluster of `name` (new database, new processes); tears everything down after. */
export async function withCluster<T>(
  server: TestPostgres,
  name: ContenderName,
  mode: RunMode,
  fn: (c: Cluster) => Promise<T>,
): Promise<T> {
  const db = `bench_${name.replace(/\W/g, '_')}`;
  await adminQuery(server.url, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await adminQuery(server.url, `CREATE DATABASE ${db}`);
  const url = databaseUrl(server.url, db);
  const children: Child[] = [];
  try {
    const producer = new Child(name, 'producer');
    children.push(producer);
    await producer.ask({ op: 'setup', url, mode }, 'ready');
    const workers = [new Child(name, 'worker'), new Child(name, 'worker')];
    children.push(...workers);
    await Promise.all(workers.map((w) => w.ask({ op: 'start', url, mode }, 'ready')));
    return await fn(clusterOf(name, url, producer, workers));
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await adminQuery(server.url, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  }
}

/** The cluster of a started producer and its workers: run counts and waits over the workers' progress. */
export function clusterOf(name: NodeContender, url: string, producer: Child, workers: Child[]): Cluster {
  const totalRuns = (): number => workers.reduce((s, w) => s + w.runs, 0);
  const lastAt = (): number => Math.max(...workers.map((w) => w.lastAt));
  /** Resolves when `done()` holds, re-checked on every progress message and every 50 ms. */
  const until = (done: () => boolean, what: () => string): Promise<void> =>
    new Promise((resolve, reject) => {
      let seen = totalRuns();
      let movedAt = Date.now();
      const finish = (err?: Error): void => {
        clearInterval(timer);
        for (const w of workers) w.onProgress = () => {};
        if (err) reject(err);
        else resolve();
      };
      const test = (): void => {
        if (done()) {
          finish();
          return;
        }
        if (totalRuns() !== seen) {
          seen = totalRuns();
          movedAt = Date.now();
        } else if (Date.now() - movedAt > STALL_MS) {
          finish(new Error(`${name}: no progress for ${STALL_MS / 1000} s (${what()})`));
        }
      };
      const timer = setInterval(test, 50);
      for (const w of workers) w.onProgress = test;
      for (const c of [producer, ...workers]) c.exited.then(() => finish(new Error(`${name} ${c.role} exited`)));
      test();
    });
  return {
    name,
    url,
    producer,
    workers,
    totalRuns,
    async runsReach(target) {
      await until(
        () => totalRuns() >= target,
        () => `${totalRuns()} of ${target} runs`,
      );
      return lastAt();
    },
    async quiet(quietMs) {
      let last = totalRuns();
      let since = Date.now();
      await until(
        () => {
          if (totalRuns() !== last) {
            last = totalRuns();
            since = Date.now();
          }
          return Date.now() - since >= quietMs;
        },
        () => `${totalRuns()} runs`,
      );
      return totalRuns();
    },
  };
}

// ---- table size ----

interface TableSize {
  rows: number;
  bytes: number;
}

/** Rows (exact counts) and bytes (tables + indexes + TOAST) of every table the contender made in its database. */
async function tableSize(url: string): Promise<TableSize> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows: tables } = await c.query<{ name: string; bytes: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name, pg_total_relation_size(c.oid) AS bytes
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%'`,
    );
    let rows = 0;
    let bytes = 0;
    for (const t of tables) {
      bytes += Number(t.bytes);
      const { rows: r } = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ONLY ${t.name}`);
      rows += Number(r[0].n);
    }
    return { rows, bytes };
  } finally {
    await c.end();
  }
}

function fmtKiB(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(0)} KiB`;
}

// ---- the scenario ----

function selectedContenders(): ContenderName[] {
  const env = process.env.CMWQ_BENCH_SHARED_CONTENDERS;
  if (env === undefined || env === '') return [...CONTENDERS];
  const names = env.split(',').map((s) => s.trim());
  for (const n of names)
    if (!(CONTENDERS as readonly string[]).includes(n)) throw new Error(`unknown contender ${n}: ${CONTENDERS}`);
  return names as ContenderName[];
}

function selectedParts(all: string[]): string[] {
  const env = process.env.CMWQ_BENCH_SHARED_PARTS;
  if (env === undefined || env === '') return all;
  const parts = env.split(',').map((s) => s.trim());
  for (const p of parts) if (!all.includes(p)) throw new Error(`unknown part ${p}: ${all}`);
  return parts;
}

/** cmwq / baseline as a ratio, or NaN when either was not run. */
function ratioOf(fig: Map<string, number>, a: ContenderName, b: ContenderName): number {
  return (fig.get(a) ?? NaN) / (fig.get(b) ?? NaN);
}

/** A check whose contender was not run says so (and is not held). */
function checkOrMissing(report: ScenarioReport, c: Check, measured: boolean): void {
  check(report, measured ? c : { ...c, shown: 'not run', holds: false });
}

/**
 * Runs the four parts on one embedded server (stopped at the end, also on failure).
 * @returns the figures and the checks against the targets, for run.ts's summary.
 */
export async function run(): Promise<ScenarioReport> {
  const report = newReport('shared');
  const names = selectedContenders();
  const has = (n: ContenderName): boolean => names.includes(n);
  const durable = process.env.CMWQ_BENCH_SHARED_DURABLE === '1';
  const server = await startPostgres({ durable });
  try {
    console.log(
      `\n(shared: one embedded PostgreSQL server, ${durable ? 'durable settings' : 'fsync and synchronous_commit off'}; ` +
        `contenders: ${names.join(', ')})`,
    );
    const parts = { throughput, latency, coalescing, tables };
    for (const part of selectedParts(Object.keys(parts)))
      await parts[part as keyof typeof parts](server, names, report);
  } finally {
    await server.stop();
  }
  if (!has('cmwq')) console.log('   (cmwq not run: CMWQ_BENCH_SHARED_CONTENDERS leaves it out)');
  return report;
}

/**
 * One throughput run on a cluster: the producer queues n tiny jobs in batches of BATCH while the workers run;
 * returns jobs/s from the first queue call to the last handler's start, and the rate of the queueing alone.
 */
export async function throughputRun(c: Cluster, n: number): Promise<{ rate: number; queueRate: number }> {
  const queued = c.producer.ask<Extract<Reply, { op: 'queued' }>>({ op: 'burst', n, batch: BATCH, keys: 0 }, 'queued');
  const end = await c.runsReach(n);
  const q = await queued;
  return { rate: (n * 1000) / (end - q.t0), queueRate: (n * 1000) / (q.t1 - q.t0) };
}

async function throughput(server: TestPostgres, names: ContenderName[], report: ScenarioReport): Promise<void> {
  const opts: RoundsOptions = { runs: 5, warmup: 1 };
  const queueRates = new Map<string, number[]>(names.map((n) => [n, []]));
  /** Rows left in the contender's tables once every job ran (outside the timing). */
  const rowsLeft = new Map<string, number[]>(names.map((n) => [n, []]));
  const contenders: Contender[] = names.map((name) => ({
    name,
    runs: THROUGHPUT_RUNS[name],
    warmup: THROUGHPUT_WARMUP[name],
    run: () =>
      withCluster(server, name, UNKEYED, async (c) => {
        const run = await throughputRun(c, THROUGHPUT_N[name]);
        queueRates.get(name)!.push(run.queueRate);
        await c.quiet(500); // completions are written after the handlers return
        rowsLeft.get(name)!.push((await tableSize(c.url)).rows);
        return run.rate;
      }),
  }));
  const got = await rounds(contenders, { ...opts, between: () => {} });
  const med = new Map(names.map((n) => [n, median(got.get(n)!)]));
  heading(
    `Shared throughput: tiny jobs queued in batches of ${BATCH} while 2 worker processes run`,
    `${describeRuns(contenders, opts)}; jobs/s from the first queue call to the last handler's start;\n` +
      "rows left: rows in the contender's tables once all had run",
  );
  printTable(
    ['contender', 'jobs', 'jobs/s', 'min .. max', 'queued/s', `vs ${BASELINE}`, 'rows left'],
    names.map((n) => [
      n,
      THROUGHPUT_N[n].toLocaleString('en-US'),
      fmtRate(med.get(n)!),
      `${fmtRate(Math.min(...got.get(n)!))} .. ${fmtRate(Math.max(...got.get(n)!))}`,
      fmtRate(median(queueRates.get(n)!)),
      fmtX(ratioOf(med, n, BASELINE)),
      median(rowsLeft.get(n)!).toLocaleString('en-US'),
    ]),
  );
  for (const n of names) {
    report.figures[`throughput ${n} jobs/s`] = med.get(n)!;
    report.figures[`queueing ${n} jobs/s`] = median(queueRates.get(n)!);
  }
  const ratio = ratioOf(med, 'cmwq', BASELINE);
  checkOrMissing(
    report,
    {
      label: `shared throughput: cmwq / ${BASELINE}`,
      value: ratio,
      shown: fmtX(ratio),
      target: '>= 1x',
      holds: ratio >= 1,
    },
    Number.isFinite(ratio),
  );
}

/**
 * One latency run on a cluster: the producer queues LAT_N jobs at LAT_RATE a second; returns the p50 and p99 of
 * queue-to-handler-start across the workers, and the p50 of the producer's queue call.
 */
export async function latencyRun(c: Cluster): Promise<{ p50: number; p99: number; callP50: number }> {
  await new Promise((resolve) => setTimeout(resolve, 200)); // let the workers settle into waiting
  const q = await c.producer.ask<Extract<Reply, { op: 'queued' }>>(
    { op: 'steady', n: LAT_N, rate: LAT_RATE },
    'queued',
  );
  await c.runsReach(LAT_N);
  const samples: number[] = [];
  for (const w of c.workers) {
    const r = await w.ask<Extract<Reply, { op: 'latencies' }>>({ op: 'latencies' }, 'latencies');
    samples.push(...r.values);
  }
  const sorted = Float64Array.from(samples).sort();
  return {
    p50: percentileSorted(sorted, 50),
    p99: percentileSorted(sorted, 99),
    callP50: percentileSorted(Float64Array.from(q.calls).sort(), 50),
  };
}

async function latency(server: TestPostgres, names: ContenderName[], report: ScenarioReport): Promise<void> {
  const opts: RoundsOptions = { runs: 5, warmup: 1 };
  const p99s = new Map<string, number[]>(names.map((n) => [n, []]));
  /** How long the producer's queue call took (until its promise settled), p50 of each run. */
  const callP50s = new Map<string, number[]>(names.map((n) => [n, []]));
  const contenders: Contender[] = names.map((name) => ({
    name,
    run: () =>
      withCluster(server, name, UNKEYED, async (c) => {
        const run = await latencyRun(c);
        callP50s.get(name)!.push(run.callP50);
        p99s.get(name)!.push(run.p99);
        return run.p50;
      }),
  }));
  const got = await rounds(contenders, { ...opts, between: () => {} });
  const p50 = new Map(names.map((n) => [n, median(got.get(n)!)]));
  const p99 = new Map(names.map((n) => [n, median(p99s.get(n)!)]));
  heading(
    `Shared latency: queue (producer process) to handler start (worker process), ${LAT_RATE} jobs/s steady`,
    `${describeRuns(contenders, opts)}; ${LAT_N} jobs a run; p50 and p99 of each run, then their medians`,
  );
  printTable(
    ['contender', 'p50', 'p99', `p50 vs ${BASELINE}`, `p99 vs ${BASELINE}`, 'queue call p50'],
    names.map((n) => [
      n,
      fmtMs(p50.get(n)!, 2),
      fmtMs(p99.get(n)!, 2),
      fmtX(ratioOf(p50, n, BASELINE)),
      fmtX(ratioOf(p99, n, BASELINE)),
      fmtMs(median(callP50s.get(n)!), 2),
    ]),
  );
  for (const n of names) {
    report.figures[`latency ${n} p50 ms`] = p50.get(n)!;
    report.figures[`latency ${n} p99 ms`] = p99.get(n)!;
  }
  for (const [which, fig] of [
    ['p50', p50],
    ['p99', p99],
  ] as const) {
    const ratio = ratioOf(fig, 'cmwq', BASELINE);
    checkOrMissing(
      report,
      {
        label: `shared latency ${which}: cmwq / ${BASELINE}`,
        value: ratio,
        shown: `${fmtX(ratio)} (${fmtMs(fig.get('cmwq') ?? NaN, 2)})`,
        target: '<= 1x',
        holds: ratio <= 1,
      },
      Number.isFinite(ratio),
    );
  }
}

async function coalescing(server: TestPostgres, names: ContenderName[], report: ScenarioReport): Promise<void> {
  const opts: RoundsOptions = { runs: 3, warmup: 0 };
  const mode: RunMode = { keyed: true, handlerMs: COALESCE_HANDLER_MS };
  const contenders: Contender[] = names.map((name) => ({
    name,
    run: () =>
      withCluster(server, name, mode, async (c) => {
        // A batch names each key at most once (graphile-worker's add_jobs refuses a key twice in one call).
        await c.producer.ask({ op: 'burst', n: COALESCE_N, batch: Math.min(BATCH, KEYS), keys: KEYS }, 'queued');
        return c.quiet(QUIET_MS);
      }),
  }));
  const got = await rounds(contenders, { ...opts, between: () => {} });
  const runs = new Map(names.map((n) => [n, median(got.get(n)!)]));
  const option: Record<ContenderName, string> = {
    cmwq: 'Work { key } (pending bit)',
    'graphile-worker': 'jobKey (replace mode)',
    'pg-boss': "singletonKey, 'stately' queue",
  };
  heading(
    `Shared coalescing: ${COALESCE_N.toLocaleString('en-US')} queueings of ${KEYS} keys while 2 worker processes ` +
      `run ${COALESCE_HANDLER_MS} ms handlers`,
    `${describeRuns(contenders, opts)}; runs counted until no handler started for ${QUIET_MS} ms`,
  );
  printTable(
    ['contender', 'runs', 'min .. max', 'de-duplication used'],
    names.map((n) => [
      n,
      runs.get(n)!.toLocaleString('en-US'),
      `${Math.min(...got.get(n)!)} .. ${Math.max(...got.get(n)!)}`,
      option[n],
    ]),
  );
  for (const n of names) report.figures[`coalescing ${n} runs`] = runs.get(n)!;
  const cmwqRuns = runs.get('cmwq') ?? NaN;
  checkOrMissing(
    report,
    {
      label: `shared coalescing: cmwq runs of ${COALESCE_N} queueings, ${KEYS} keys`,
      value: cmwqRuns,
      shown: Number.isFinite(cmwqRuns) ? cmwqRuns.toLocaleString('en-US') : '-',
      target: `<= ${(2 * KEYS).toLocaleString('en-US')}`,
      holds: cmwqRuns >= KEYS && cmwqRuns <= 2 * KEYS,
    },
    Number.isFinite(cmwqRuns),
  );
}

async function tables(server: TestPostgres, names: ContenderName[], report: ScenarioReport): Promise<void> {
  const mode: RunMode = { keyed: true, handlerMs: 0 };
  const rows: string[][] = [];
  for (const name of names) {
    const total = Math.max(KEYS, Math.round(TABLE_RUNS[name] / KEYS) * KEYS);
    const t0 = Date.now();
    const { first, last } = await withCluster(server, name, mode, async (c) => {
      let first: TableSize | undefined;
      for (let done = 0; done < total; done += KEYS) {
        await c.producer.ask({ op: 'burst', n: KEYS, batch: KEYS, keys: KEYS }, 'queued');
        await c.runsReach(done + KEYS);
        if (first === undefined) {
          await c.quiet(200);
          first = await tableSize(c.url);
        }
      }
      await c.quiet(200);
      return { first: first!, last: await tableSize(c.url) };
    });
    const secs = (Date.now() - t0) / 1000;
    rows.push([
      name,
      total.toLocaleString('en-US'),
      first.rows.toLocaleString('en-US'),
      fmtKiB(first.bytes),
      last.rows.toLocaleString('en-US'),
      fmtKiB(last.bytes),
      `${((last.bytes - first.bytes) / (total - KEYS || 1)).toFixed(1)} B`,
      `${secs.toFixed(0)} s`,
    ]);
    report.figures[`table ${name} runs`] = total;
    report.figures[`table ${name} rows first`] = first.rows;
    report.figures[`table ${name} rows last`] = last.rows;
    report.figures[`table ${name} bytes first`] = first.bytes;
    report.figures[`table ${name} bytes last`] = last.bytes;
    if (name === 'cmwq') {
      check(report, {
        label: `shared table rows after ${total.toLocaleString('en-US')} runs of ${KEYS} keys (cmwq)`,
        value: last.rows,
        shown: `${last.rows} rows (${first.rows} after the first ${KEYS})`,
        target: 'constant',
        holds: last.rows === first.rows,
      });
    }
  }
  heading(
    `Shared table size: rounds of ${KEYS} keys (each queued once a round, run before the next round)`,
    'one run each; rows and bytes of every table the contender made, after the first round and at the end' +
      (FULL
        ? '\n(the peers run fewer rounds to keep the benchmark short: their rows or bytes grow with every run)'
        : ''),
  );
  printTable(['contender', 'runs', 'rows@1st', 'bytes@1st', 'rows@end', 'bytes@end', 'growth/run', 'took'], rows);
  if (!names.includes('cmwq'))
    checkOrMissing(
      report,
      { label: 'shared table rows (cmwq)', value: NaN, shown: '-', target: 'constant', holds: false },
      false,
    );
}
