/**
 * A child process of the shared-workqueue benchmark: `node shared-node.js <contender> producer|worker`, forked by
 * bench/shared.ts with an IPC channel. It loads its one contender (shared-protocol.ts loadContender) and obeys the
 * parent's commands:
 * - producer: `setup` (schema, queues), then `burst` (jobs in batches, as fast as the library takes them) or
 *   `steady` (single queueings at a fixed rate, each stamped with its queue time), each answered with `queued`;
 * - worker: `start` (claims jobs until `stop`), counting each handler start and sending `progress` at most every
 *   PROGRESS_MS while the count moves; `latencies` returns the samples taken so far.
 * `stop` closes the contender and exits. Any failure is sent as `error` and ends the process with code 1, so the
 * parent never waits on a dead child.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Command,
  epochMs,
  type JobData,
  loadContender,
  type NodeContender,
  PROGRESS_MS,
  type Reply,
} from './shared-protocol.js';

const [name, role] = process.argv.slice(2) as [NodeContender, 'producer' | 'worker'];
const contender = await loadContender(name);

function send(r: Reply): void {
  process.send!(r);
}

// ---- worker side: counting runs ----
let runs = 0;
let lastAt = 0;
let reported = 0;
let latencies: number[] = [];
let progressTimer: NodeJS.Timeout | undefined;

function onRun(job: JobData): void {
  const at = epochMs();
  runs++;
  lastAt = at;
  if (job.t > 0) latencies.push(at - job.t);
}

function reportProgress(): void {
  if (runs === reported) return;
  reported = runs;
  send({ op: 'progress', runs, lastAt });
}

// ---- producer side ----
function jobsOf(from: number, to: number, keys: number): JobData[] {
  const out: JobData[] = [];
  for (let i = from; i < to; i++) out.push({ k: keys > 0 ? i % keys : -1, t: 0 });
  return out;
}

async function burst(n: number, batch: number, keys: number): Promise<void> {
  const t0 = epochMs();
  for (let i = 0; i < n; i += batch) await contender.queueBatch(jobsOf(i, Math.min(n, i + batch), keys));
  send({ op: 'queued', t0, t1: epochMs(), calls: [] });
}

/** n single queueings, the i-th due at t0 + i / rate; a late one goes at once (none is skipped). */
async function steady(n: number, rate: number): Promise<void> {
  const t0 = epochMs();
  const inFlight = new Set<Promise<void>>();
  const calls: number[] = [];
  for (let i = 0; i < n; i++) {
    const wait = t0 + (i * 1000) / rate - epochMs();
    if (wait > 0) await sleep(wait);
    const t = epochMs();
    const p = contender.queueOne({ k: -1, t }).finally(() => {
      calls.push(epochMs() - t);
      inFlight.delete(p);
    });
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  send({ op: 'queued', t0, t1: epochMs(), calls });
}

async function handle(cmd: Command): Promise<void> {
  switch (cmd.op) {
    case 'setup':
      await contender.setup(cmd.url, cmd.mode);
      return send({ op: 'ready' });
    case 'start':
      await contender.startWorker(cmd.url, cmd.mode, onRun);
      progressTimer = setInterval(reportProgress, PROGRESS_MS);
      return send({ op: 'ready' });
    case 'burst':
      return burst(cmd.n, cmd.batch, cmd.keys);
    case 'steady':
      return steady(cmd.n, cmd.rate);
    case 'latencies': {
      const values = latencies;
      latencies = [];
      return send({ op: 'latencies', values });
    }
    case 'stop':
      if (progressTimer !== undefined) clearInterval(progressTimer);
      reportProgress();
      await contender.close();
      process.disconnect();
      return;
  }
}

function fail(error: unknown): void {
  const message = `${name} ${role}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
  if (process.connected) process.send!({ op: 'error', message } satisfies Reply, () => process.exit(1));
  else {
    console.error(message);
    process.exit(1);
  }
}

process.on('message', (cmd: Command) => void handle(cmd).catch(fail));
process.on('unhandledRejection', fail);
