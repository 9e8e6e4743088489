/**
 * The dashboard's recorder: what `cmwq web` shows beyond wqMonitor(), gathered inside the watched program.
 *
 * How: it subscribes to the execute_start / execute_end tracepoints and keeps, per worker, a ring buffer of
 * that worker's most recent executions (start, end, function, workqueue, failed or CPU hog); CPU hogs, lockups
 * and cmwq warnings go to a log. webSnapshot(), called a few times a second by the monitor agent, takes from
 * each ring what is new since the previous snapshot (at most SNAPSHOT_PER_LANE entries per worker, the newest),
 * reads every worker's state from the pools, and adds the workqueues' queue-wait and run-time distributions
 * (kept by the core anyway) and the log since the previous snapshot.
 *
 * Sampling, so that a busy program pays a few percent at most (bench: `npm run bench -- web`): a subscribed
 * tracepoint costs every item its event object and the recorder's work, about a microsecond together, which
 * is too much at 100,000 items a second. So each report period starts subscribed and records until CAPTURE
 * executions have ended, then unsubscribes (from a microtask: never inside a publish, which would make the
 * channel skip another subscriber) until the next snapshot: a quiet program is recorded whole, a busy one for
 * a window at the start of each period, and the tracepoints cost nothing for the rest of it. A snapshot says
 * which share of the time it covered; the page draws what was recorded (at such rates slices are narrower
 * than a pixel anyway).
 *
 * Invariants: a ring never grows (RING entries per worker); the log keeps at most LOG_KEEP unsent entries; a
 * worker that left its pool loses its ring once what it recorded has been sent; an execution is recorded only
 * if both its start and its end were seen. Times sent are epoch milliseconds, so that the page can line them
 * up with its own clock; the hot path reads only performance.now().
 */
import { performance } from 'node:perf_hooks';
import { threadId } from 'node:worker_threads';
import { combineHistograms } from '../base/histogram.js';
import { allPools } from '../core/pools.js';
import { chCpuIntensive, chExecuteEnd, chExecuteStart, chStall, type WorkEvent } from '../core/tracepoints.js';
import type { Worker } from '../core/worker.js';
import { workqueues } from '../core/wq-list.js';

/** Executions kept per worker between two snapshots. */
const RING = 512;
/** Executions per worker a snapshot carries at most (the newest). */
const SNAPSHOT_PER_LANE = 256;
/** Log entries kept unsent at most (the oldest go first). */
const LOG_KEEP = 200;
/** Executions recorded per report period at most: past them the recorder stops listening until the next one. */
const CAPTURE = 1000;
/**
 * After a period that reached CAPTURE, the recorder sits out this many periods: each subscribe and unsubscribe
 * changes the channel's shape, which costs the hot path a deoptimization, so a busy program toggles it about
 * twice a second rather than eight times.
 */
const BUSY_SKIP = 3;

/** Execution flag: the handler threw or rejected. */
export const EXEC_FAILED = 1;
/** Execution flag: a synchronous segment of it ran past cpuIntensiveThreshMs (a CPU hog). */
export const EXEC_HOG = 2;

/** One execution on the timeline. */
export interface WebExec {
  /** The worker's lane key: `<pool id>/<worker name>`. */
  lane: string;
  /** Start and end, epoch ms. */
  start: number;
  /** End, epoch ms. */
  end: number;
  /** The work function. */
  func: string;
  /** Its workqueue. */
  workqueue: string;
  /** EXEC_FAILED | EXEC_HOG. */
  flags: number;
}

/** A worker as the dashboard shows it. */
export interface WebWorker {
  /** The timeline lane key: `<pool id>/<worker name>`. */
  lane: string;
  /** The worker name (kworker/0:1). */
  name: string;
  /** Its pool id. */
  pool: number;
  /** Idle, running (its synchronous segment executes) or sleeping (awaiting). */
  state: 'idle' | 'running' | 'sleeping';
  /** The item it runs (function and workqueue), null when idle. */
  func: string | null;
  /** The workqueue of the item it runs, null when idle. */
  workqueue: string | null;
  /** When that item started (epoch ms), -1 if unknown (it started before the recorder did). */
  since: number;
  /** The thread the item runs on. */
  threadId: number;
}

/** A pool as the dashboard shows it. */
export interface WebPool {
  /** The pool id. */
  id: number;
  /** Its CPU, -1 for an unbound pool. */
  cpu: number;
  /** A highpri pool (nice -20). */
  highpri: boolean;
  /** A BH pool. */
  bh: boolean;
  /** Items on its worklist. */
  worklist: number;
  /** Its workers. */
  workers: number;
  /** Its idle workers. */
  idle: number;
}

/** A log line: a CPU hog, a cmwq warning (hog warnings, handler failures without onError) or a lockup. */
export interface WebLogEntry {
  /** When, epoch ms. */
  time: number;
  /** What happened. */
  kind: 'hog' | 'warning' | 'lockup';
  /** The line to show. */
  text: string;
}

/** Per workqueue: [upper bound ms, count] buckets of the sampled queue waits and run times. */
export interface WebHistograms {
  /** The workqueue. */
  workqueue: string;
  /** Queue waits. */
  wait: [number, number][];
  /** Run times. */
  run: [number, number][];
}

/** What one snapshot carries (see the header). */
export interface WebSnapshot {
  /** When it was taken, epoch ms. */
  time: number;
  /** Every pool. */
  pools: WebPool[];
  /** Every worker, with its state. */
  workers: WebWorker[];
  /** Executions recorded since the previous snapshot. */
  execs: WebExec[];
  /** Executions recorded since the previous snapshot that are not in execs (past SNAPSHOT_PER_LANE). */
  dropped: number;
  /** The share of the time since the previous snapshot during which executions were recorded (0..1). */
  coverage: number;
  /** Per workqueue, the queue-wait and run-time buckets. */
  histograms: WebHistograms[];
  /** Log entries since the previous snapshot. */
  log: WebLogEntry[];
}

const origin = performance.timeOrigin;
const now = (): number => performance.now();

/** A worker's ring of recent executions and its open one. */
class Lane {
  readonly start = new Float64Array(RING);
  readonly end = new Float64Array(RING);
  readonly func: string[] = new Array(RING).fill('');
  readonly wq: string[] = new Array(RING).fill('');
  readonly flags = new Uint8Array(RING);
  /** Executions written in all (the next goes to written % RING) and taken by snapshots. */
  written = 0;
  sent = 0;
  openStart = -1;
  openFlags = 0;

  constructor(
    readonly key: string,
    readonly worker: Worker,
  ) {}
}

const lanes = new Map<Worker, Lane>();
const log: WebLogEntry[] = [];
let started = false;
/** Subscribed to execute_start/end now; since when; for how long in this period; executions recorded in it. */
let subscribed = false;
let subscribedAt = 0;
let coveredMs = 0;
let recordedInPeriod = 0;
let unsubscribing = false;
let skipPeriods = 0;
/** The current cycle: when it started, and how long it was recorded. */
let cycleStart = 0;
let cycleCoveredMs = 0;
/** A one-entry cache in front of lanes: synchronous items mostly run on one worker, one after the other. */
let lastWorker: Worker | null = null;
let lastLane: Lane | null = null;

function laneOf(worker: Worker): Lane {
  if (worker === lastWorker) return lastLane!;
  let lane = lanes.get(worker);
  if (lane === undefined) lanes.set(worker, (lane = new Lane(`${worker.pool.id}/${worker.name}`, worker)));
  lastWorker = worker;
  lastLane = lane;
  return lane;
}

function onStart(message: unknown): void {
  const worker = (message as WorkEvent).work._worker;
  if (worker === null || recordedInPeriod >= CAPTURE) return;
  const lane = laneOf(worker);
  lane.openStart = now();
  lane.openFlags = 0;
}

function onEnd(message: unknown): void {
  const event = message as WorkEvent;
  const worker = event.work._worker;
  if (worker === null) return;
  const lane = laneOf(worker);
  if (lane.openStart < 0) return; // started while the recorder was not listening
  const i = lane.written++ % RING;
  lane.start[i] = lane.openStart;
  lane.end[i] = now();
  lane.func[i] = event.function;
  lane.wq[i] = event.workqueue;
  lane.flags[i] = lane.openFlags | ('error' in event ? EXEC_FAILED : 0);
  lane.openStart = -1;
  if (++recordedInPeriod === CAPTURE && !unsubscribing) {
    unsubscribing = true;
    queueMicrotask(unsubscribe);
  }
}

function subscribe(): void {
  if (subscribed) return;
  subscribed = true;
  subscribedAt = now();
  chExecuteStart.subscribe(onStart);
  chExecuteEnd.subscribe(onEnd);
}

function unsubscribe(): void {
  unsubscribing = false;
  if (!subscribed || recordedInPeriod < CAPTURE) return;
  subscribed = false;
  coveredMs += now() - subscribedAt;
  chExecuteStart.unsubscribe(onStart);
  chExecuteEnd.unsubscribe(onEnd);
  for (const lane of lanes.values()) lane.openStart = -1;
}

/**
 * A report period ends. Returns the share of the time recorded, over the current cycle (a recorded period and
 * the ones sat out after it, or just this period while the program is quiet), and plans the next period:
 * recording again, unless a busy period makes it sit out BUSY_SKIP periods first.
 */
function nextPeriod(): number {
  const t = now();
  if (subscribed) {
    coveredMs += t - subscribedAt;
    subscribedAt = t;
  }
  cycleCoveredMs += coveredMs;
  const cycleMs = t - cycleStart;
  const coverage = cycleMs > 0 ? Math.min(1, cycleCoveredMs / cycleMs) : 1;
  const busy = recordedInPeriod >= CAPTURE;
  if (busy) {
    unsubscribe(); // not inside a publish: the agent's timer calls this
    skipPeriods = BUSY_SKIP;
  } else if (skipPeriods > 0) skipPeriods--;
  coveredMs = 0;
  recordedInPeriod = 0;
  if (skipPeriods === 0) {
    subscribe();
    cycleStart = t;
    cycleCoveredMs = 0;
  }
  return coverage;
}

function onHog(message: unknown): void {
  const event = message as WorkEvent;
  const worker = event.work._worker;
  if (worker !== null) laneOf(worker).openFlags |= EXEC_HOG;
  addLog(
    'hog',
    `${event.function} (workqueue ${event.workqueue}) ran a synchronous segment past the CPU-intensive threshold`,
  );
}

function onStall(message: unknown): void {
  const { stuckS, inFlight } = message as { stuckS: number; inFlight: string | null };
  addLog(
    'lockup',
    `BUG: workqueue lockup - stuck for ${stuckS}s${inFlight !== null ? `, in-flight: ${inFlight}` : ''}`,
  );
}

function onWarning(warning: Error): void {
  if (warning.name === 'CmwqWarning') addLog('warning', warning.message);
}

function addLog(kind: WebLogEntry['kind'], text: string): void {
  if (log.length >= LOG_KEEP) log.shift();
  log.push({ time: origin + now(), kind, text });
}

/** Starts recording (idempotent): from now on, executions are kept for webSnapshot(). */
export function recorderStart(): void {
  if (started) return;
  started = true;
  cycleStart = now();
  recordedInPeriod = 0;
  cycleCoveredMs = 0;
  skipPeriods = 0;
  subscribe();
  chCpuIntensive.subscribe(onHog);
  chStall.subscribe(onStall);
  process.on('warning', onWarning);
}

/** Stops recording and forgets what was kept (idempotent). */
export function recorderStop(): void {
  if (!started) return;
  started = false;
  recordedInPeriod = CAPTURE;
  unsubscribe();
  chCpuIntensive.unsubscribe(onHog);
  chStall.unsubscribe(onStall);
  process.off('warning', onWarning);
  lanes.clear();
  lastWorker = lastLane = null;
  log.length = 0;
}

function takeExecs(lane: Lane, out: WebExec[]): number {
  const fresh = lane.written - lane.sent;
  const n = Math.min(fresh, SNAPSHOT_PER_LANE);
  for (let k = lane.written - n; k < lane.written; k++) {
    const i = k % RING;
    out.push({
      lane: lane.key,
      start: origin + lane.start[i],
      end: origin + lane.end[i],
      func: lane.func[i],
      workqueue: lane.wq[i],
      flags: lane.flags[i],
    });
  }
  lane.sent = lane.written;
  return fresh - n;
}

/** Everything new for the dashboard since the previous call (see the header); starts the recorder if needed. */
export function webSnapshot(): WebSnapshot {
  recorderStart();
  const coverage = nextPeriod();
  const pools: WebPool[] = [];
  const workers: WebWorker[] = [];
  const live = new Set<Worker>();
  for (const pool of allPools()) {
    pools.push({
      id: pool.id,
      cpu: pool.cpu,
      highpri: pool.highpri,
      bh: pool.bh,
      worklist: pool.worklist.length,
      workers: pool.nrWorkers,
      idle: pool.nrIdle,
    });
    for (const worker of pool.workers) {
      live.add(worker);
      const work = worker.current;
      const lane = lanes.get(worker);
      workers.push({
        lane: lane?.key ?? `${pool.id}/${worker.name}`,
        name: worker.name,
        pool: pool.id,
        state: worker.state as WebWorker['state'],
        func: work?.funcName ?? null,
        workqueue: work !== null ? (worker.currentPwq?.wq.name ?? null) : null,
        since: work !== null && lane !== undefined && lane.openStart >= 0 ? origin + lane.openStart : -1,
        threadId: worker.thread !== null ? worker.thread.threadId : threadId,
      });
    }
  }
  const execs: WebExec[] = [];
  let dropped = 0;
  for (const [worker, lane] of lanes) {
    dropped += takeExecs(lane, execs);
    if (!live.has(worker)) {
      lanes.delete(worker);
      if (worker === lastWorker) lastWorker = lastLane = null;
    }
  }
  const histograms: WebHistograms[] = [];
  for (const wq of workqueues) {
    const pwqs = wq.pwqs.filter((pwq) => pwq !== undefined);
    histograms.push({
      workqueue: wq.name,
      wait: combineHistograms(pwqs.map((pwq) => pwq.waitHist)).buckets(),
      run: combineHistograms(pwqs.map((pwq) => pwq.runHist)).buckets(),
    });
  }
  const entries = log.splice(0, log.length);
  return { time: origin + now(), pools, workers, execs, dropped, coverage, histograms, log: entries };
}
