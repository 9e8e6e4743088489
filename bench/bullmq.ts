/**
 * Scenario — BullMQ beside cmwq's shared workqueue: `npm run bench -- bullmq` (named only: it starts a
 * redis-server and an embedded PostgreSQL server). BullMQ runs on a throw-away redis-server of its own
 * (bench/redis-server.ts: a free port, a temporary directory, nothing persisted), cmwq's shared workqueue
 * (cmwq/postgres) on the embedded PostgreSQL server the shared scenario uses (test/pg-server.ts, fsync off).
 * Both are driven exactly as bench/shared.ts drives its contenders, with its pieces: each measured run forks a
 * producer and 2 worker processes afresh (bench/tasks/shared-node.ts; BullMQ's adapter is
 * bench/tasks/shared-bullmq.ts), on an emptied store (cmwq: a new database; BullMQ: FLUSHALL before and after),
 * and the runs alternate between the two (harness rounds()).
 *
 * (a) throughput: tiny jobs queued in batches of 1,000 (BullMQ: `addBulk`; cmwq: `queueWorks`) while both workers
 *     run; jobs/s from the first queue call to the start of the last job's handler; 20,000 jobs a run each
 *     (the shared scenario's default for cmwq).
 * (b) latency: single jobs queued at a steady 50 per second; queue-to-start latency is the worker's clock at the
 *     handler's start minus the producer's just before the queue call; p50 and p99 of each run.
 * (c) coalescing: 10,000 queueings of 1,000 keys (key = i % 1,000, in batches of 1,000) while the workers run
 *     5 ms handlers; how many handler runs follow once everything settles. BullMQ uses
 *     `deduplication: { id, keepLastIfActive: true }` (its header says what that guarantees), cmwq the pending bit.
 *
 * Medians of 5 runs (throughput and latency after a warm-up run). A missing redis-server fails the scenario at
 * once, saying how to install it. CMWQ_BENCH_SCALE scales every count.
 */
import { createRequire } from 'node:module';
import { startPostgres, type TestPostgres } from '../test/pg-server.js';
import {
  type Contender,
  describeRuns,
  fmtMs,
  fmtRate,
  fmtX,
  heading,
  median,
  newReport,
  printTable,
  type RoundsOptions,
  rounds,
  type ScenarioReport,
  scaled,
} from './harness.js';
import { type RedisServer, startRedis } from './redis-server.js';
import {
  BATCH,
  Child,
  type Cluster,
  clusterOf,
  LAT_N,
  LAT_RATE,
  latencyRun,
  throughputRun,
  withCluster,
} from './shared.js';
import type { RunMode } from './tasks/shared-protocol.js';

type Name = 'cmwq' | 'bullmq';
const NAMES: readonly Name[] = ['cmwq', 'bullmq'];

const THROUGHPUT_N: Record<Name, number> = { cmwq: scaled(20_000), bullmq: scaled(20_000) };
const KEYS = Math.min(1000, scaled(1000));
const COALESCE_N = scaled(10_000);
const COALESCE_HANDLER_MS = 5;
/** No run of a worker for this long after the producer is done: everything queued has run. */
const QUIET_MS = 1500;
const UNKEYED: RunMode = { keyed: false, handlerMs: 0 };

/** The two stores, one per contender. */
interface Stores {
  pg: TestPostgres;
  redis: RedisServer;
}

/** BullMQ's cluster: a producer and 2 workers on the emptied redis-server; all stopped and flushed after. */
async function withBullmqCluster<T>(redis: RedisServer, mode: RunMode, fn: (c: Cluster) => Promise<T>): Promise<T> {
  await redis.flushAll();
  const children: Child[] = [];
  try {
    const producer = new Child('bullmq', 'producer');
    children.push(producer);
    await producer.ask({ op: 'setup', url: redis.url, mode }, 'ready');
    const workers = [new Child('bullmq', 'worker'), new Child('bullmq', 'worker')];
    children.push(...workers);
    await Promise.all(workers.map((w) => w.ask({ op: 'start', url: redis.url, mode }, 'ready')));
    return await fn(clusterOf('bullmq', redis.url, producer, workers));
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await redis.flushAll();
  }
}

/** Runs `fn` on a fresh cluster of the contender, on its own store. */
function withContender<T>(stores: Stores, name: Name, mode: RunMode, fn: (c: Cluster) => Promise<T>): Promise<T> {
  return name === 'cmwq' ? withCluster(stores.pg, 'cmwq', mode, fn) : withBullmqCluster(stores.redis, mode, fn);
}

/** cmwq / BullMQ of a figure. */
function ratioOf(fig: Map<Name, number>): number {
  return fig.get('cmwq')! / fig.get('bullmq')!;
}

/**
 * Runs the three parts on a fresh redis-server and embedded PostgreSQL server (both stopped at the end, also on
 * failure).
 * @returns the figures (medians; BullMQ is no target of cmwq's, so the scenario makes no checks).
 * @throws Error when redis-server is missing, saying `apt-get install redis-server`.
 */
export async function run(): Promise<ScenarioReport> {
  const report = newReport('bullmq');
  const redis = await startRedis();
  let pg: TestPostgres | undefined;
  try {
    pg = await startPostgres();
    const { version } = createRequire(import.meta.url)('bullmq/package.json') as { version: string };
    console.log(
      `\n(bullmq: BullMQ ${version} on redis-server ${redis.version} (nothing persisted); cmwq's shared workqueue ` +
        'on an embedded PostgreSQL server, fsync off; a producer and 2 worker processes each)',
    );
    const stores = { pg, redis };
    await throughput(stores, report);
    await latency(stores, report);
    await coalescing(stores, report);
  } finally {
    await pg?.stop();
    await redis.stop();
  }
  return report;
}

async function throughput(stores: Stores, report: ScenarioReport): Promise<void> {
  const opts: RoundsOptions = { runs: 5, warmup: 1 };
  const queueRates = new Map<Name, number[]>(NAMES.map((n) => [n, []]));
  const contenders: Contender[] = NAMES.map((name) => ({
    name,
    run: () =>
      withContender(stores, name, UNKEYED, async (c) => {
        const run = await throughputRun(c, THROUGHPUT_N[name]);
        queueRates.get(name)!.push(run.queueRate);
        return run.rate;
      }),
  }));
  const got = await rounds(contenders, { ...opts, between: () => {} });
  const med = new Map(NAMES.map((n) => [n, median(got.get(n)!)]));
  heading(
    `BullMQ throughput: tiny jobs queued in batches of ${BATCH} while 2 worker processes run`,
    `${describeRuns(contenders, opts)}; jobs/s from the first queue call to the last handler's start`,
  );
  printTable(
    ['contender', 'jobs', 'jobs/s', 'min .. max', 'queued/s', 'vs bullmq'],
    NAMES.map((n) => [
      n,
      THROUGHPUT_N[n].toLocaleString('en-US'),
      fmtRate(med.get(n)!),
      `${fmtRate(Math.min(...got.get(n)!))} .. ${fmtRate(Math.max(...got.get(n)!))}`,
      fmtRate(median(queueRates.get(n)!)),
      fmtX(med.get(n)! / med.get('bullmq')!),
    ]),
  );
  for (const n of NAMES) {
    report.figures[`throughput ${n} jobs/s`] = med.get(n)!;
    report.figures[`queueing ${n} jobs/s`] = median(queueRates.get(n)!);
  }
  report.figures['throughput cmwq / bullmq'] = ratioOf(med);
}

async function latency(stores: Stores, report: ScenarioReport): Promise<void> {
  const opts: RoundsOptions = { runs: 5, warmup: 1 };
  const p99s = new Map<Name, number[]>(NAMES.map((n) => [n, []]));
  const callP50s = new Map<Name, number[]>(NAMES.map((n) => [n, []]));
  const contenders: Contender[] = NAMES.map((name) => ({
    name,
    run: () =>
      withContender(stores, name, UNKEYED, async (c) => {
        const run = await latencyRun(c);
        callP50s.get(name)!.push(run.callP50);
        p99s.get(name)!.push(run.p99);
        return run.p50;
      }),
  }));
  const got = await rounds(contenders, { ...opts, between: () => {} });
  const p50 = new Map(NAMES.map((n) => [n, median(got.get(n)!)]));
  const p99 = new Map(NAMES.map((n) => [n, median(p99s.get(n)!)]));
  heading(
    `BullMQ latency: queue (producer process) to handler start (worker process), ${LAT_RATE} jobs/s steady`,
    `${describeRuns(contenders, opts)}; ${LAT_N} jobs a run; p50 and p99 of each run, then their medians`,
  );
  printTable(
    ['contender', 'p50', 'p99', 'queue call p50'],
    NAMES.map((n) => [n, fmtMs(p50.get(n)!, 2), fmtMs(p99.get(n)!, 2), fmtMs(median(callP50s.get(n)!), 2)]),
  );
  for (const n of NAMES) {
    report.figures[`latency ${n} p50 ms`] = p50.get(n)!;
    report.figures[`latency ${n} p99 ms`] = p99.get(n)!;
    report.figures[`queue call ${n} p50 ms`] = median(callP50s.get(n)!);
  }
  report.figures['latency p50 cmwq / bullmq'] = ratioOf(p50);
  report.figures['latency p99 cmwq / bullmq'] = ratioOf(p99);
}

async function coalescing(stores: Stores, report: ScenarioReport): Promise<void> {
  const opts: RoundsOptions = { runs: 5, warmup: 0 };
  const mode: RunMode = { keyed: true, handlerMs: COALESCE_HANDLER_MS };
  const contenders: Contender[] = NAMES.map((name) => ({
    name,
    run: () =>
      withContender(stores, name, mode, async (c) => {
        await c.producer.ask({ op: 'burst', n: COALESCE_N, batch: Math.min(BATCH, KEYS), keys: KEYS }, 'queued');
        return c.quiet(QUIET_MS);
      }),
  }));
  const got = await rounds(contenders, { ...opts, between: () => {} });
  const runs = new Map(NAMES.map((n) => [n, median(got.get(n)!)]));
  const option: Record<Name, string> = {
    cmwq: 'Work { key } (pending bit)',
    bullmq: 'deduplication { id, keepLastIfActive }',
  };
  heading(
    `BullMQ coalescing: ${COALESCE_N.toLocaleString('en-US')} queueings of ${KEYS} keys while 2 worker processes ` +
      `run ${COALESCE_HANDLER_MS} ms handlers`,
    `${describeRuns(contenders, opts)}; runs counted until no handler started for ${QUIET_MS} ms`,
  );
  printTable(
    ['contender', 'runs', 'min .. max', 'de-duplication used'],
    NAMES.map((n) => [
      n,
      runs.get(n)!.toLocaleString('en-US'),
      `${Math.min(...got.get(n)!)} .. ${Math.max(...got.get(n)!)}`,
      option[n],
    ]),
  );
  for (const n of NAMES) report.figures[`coalescing ${n} runs`] = runs.get(n)!;
}
