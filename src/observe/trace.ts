/**
 * Tracing to a Chrome Trace Event file (the JSON that ui.perfetto.dev and chrome://tracing open): wqTraceStart()
 * subscribes to the per-item tracepoints, wqTraceStop() returns the trace.
 *
 * What the trace holds, all in one process (pid = this process):
 *
 *   - a track per worker (tid from 100 up, named after the worker): one complete ('X') slice per execution, from
 *     execute_start to execute_end, named after the work function, with the workqueue, worker and CPU in args (and
 *     `failed`, `error`, `cpuHog` when they apply);
 *   - a track per thread that ran module works (tid 2,000,000 + thread id): the same slice there too;
 *   - a track per workqueue (tid 1,000,000 + n): a zero-length slice where each item was queued and where it was
 *     activated (became eligible under max_active);
 *   - flow arrows queue -> activate -> execution, as flow events version 2 (`bind_id` with `flow_out` / `flow_in`
 *     on the slices themselves, which both viewers bind exactly, whatever the timestamps);
 *   - counters 'pending' and 'in flight', one series per workqueue, sampled from the workqueue's own counts at
 *     most once per COUNTER_EVERY_US per workqueue, and once more at stop.
 *
 * Invariants: a flow is written only once its execution started, so every bind_id has one start and one end
 * (an item cancelled while pending keeps its queue slice, without an arrow); an execution still running at
 * stop is closed there with args.unfinished. Timestamps are microseconds since the process started, strictly
 * increasing per workqueue track so that two marks never share an instant. Past maxEvents, recording stops and
 * otherData.dropped counts what was left out.
 */
import { performance } from 'node:perf_hooks';
import { threadId } from 'node:worker_threads';
import { describe, invalidArg } from '../base/errors.js';
import {
  chActivateWork,
  chCpuIntensive,
  chExecuteEnd,
  chExecuteStart,
  chQueueWork,
  type WorkEvent,
} from '../core/tracepoints.js';
import type { Work } from '../core/work.js';
import type { Worker } from '../core/worker.js';
import type { Workqueue } from '../core/workqueue.js';
import { workqueueCounts } from './monitor.js';

/** One event of the Trace Event Format (the fields this file writes). */
export interface TraceEvent {
  /** The slice, counter or metadata name. */
  name: string;
  /** Phase: 'X' complete slice, 'C' counter, 'M' metadata. */
  ph: 'X' | 'C' | 'M';
  /** Microseconds. */
  ts: number;
  /** Process id. */
  pid: number;
  /** Track (thread) id. */
  tid: number;
  /** Category: cmwq. */
  cat?: string;
  /** 'X' only: duration, microseconds. */
  dur?: number;
  /** Arguments shown with the event. */
  args?: Record<string, unknown>;
  /** Flow events version 2: the flow this slice starts, continues or ends. */
  bind_id?: number;
  /** This slice ends (or continues) the flow bind_id. */
  flow_in?: boolean;
  /** This slice starts (or continues) the flow bind_id. */
  flow_out?: boolean;
}

/** A trace as wqTraceStop() returns it: JSON.stringify it into a .json file. */
export interface WqTrace {
  /** The events. */
  traceEvents: TraceEvent[];
  /** How viewers show times. */
  displayTimeUnit: 'ms';
  /** What made the trace, and how many events were left out past maxEvents. */
  otherData: {
    /** Always 'cmwq'. */
    producer: string;
    /** Events left out past maxEvents. */
    dropped: number;
  };
}

/** What wqTraceStart() takes. */
export interface WqTraceOptions {
  /** Stop recording after this many events (default 1,000,000: about 250,000 items). */
  maxEvents?: number;
}

const CAT = 'cmwq';
const WORKER_TID_BASE = 100;
const WQ_TID_BASE = 1_000_000;
const THREAD_TID_BASE = 2_000_000;
const COUNTER_EVERY_US = 1000;
const DEFAULT_MAX_EVENTS = 1_000_000;

/** A pending instance: its queue and activate slices, until its execution starts. */
interface Pending {
  queued: TraceEvent;
  activated: TraceEvent | null;
}

/** A workqueue's track and its counters' last sampling. */
interface WqTrack {
  tid: number;
  lastTs: number;
  lastCounterTs: number;
  wq: Workqueue;
}

/** The state of one tracing session. */
interface Session {
  events: TraceEvent[];
  maxEvents: number;
  dropped: number;
  nextFlow: number;
  pending: Map<Work<any>, Pending>;
  /** Executions running now, by worker: the slice to close, and its copy on a thread track. */
  open: Map<Worker, { slice: TraceEvent; threadSlice: TraceEvent | null }>;
  workerTids: Map<string, number>;
  threadTids: Set<number>;
  wqTracks: Map<Workqueue, WqTrack>;
}

let session: Session | null = null;
const pid = process.pid;

const nowUs = (): number => performance.now() * 1000;

function push(s: Session, event: TraceEvent): boolean {
  if (s.events.length >= s.maxEvents) {
    s.dropped++;
    return false;
  }
  s.events.push(event);
  return true;
}

function meta(s: Session, tid: number, name: string, sortIndex: number): void {
  s.events.push({ name: 'thread_name', ph: 'M', ts: 0, pid, tid, args: { name } });
  s.events.push({ name: 'thread_sort_index', ph: 'M', ts: 0, pid, tid, args: { sort_index: sortIndex } });
}

function wqTrack(s: Session, wq: Workqueue): WqTrack {
  let track = s.wqTracks.get(wq);
  if (track === undefined) {
    track = { tid: WQ_TID_BASE + s.wqTracks.size, lastTs: -1, lastCounterTs: -Infinity, wq };
    s.wqTracks.set(wq, track);
    meta(s, track.tid, `workqueue ${wq.name}`, track.tid - WQ_TID_BASE);
  }
  return track;
}

function workerTid(s: Session, worker: Worker): number {
  const key = `${worker.pool.id}/${worker.name}`;
  let tid = s.workerTids.get(key);
  if (tid === undefined) {
    tid = WORKER_TID_BASE + s.workerTids.size;
    s.workerTids.set(key, tid);
    meta(s, tid, `${worker.name} (pool ${worker.pool.id})`, tid);
  }
  return tid;
}

function threadTid(s: Session, id: number): number {
  const tid = THREAD_TID_BASE + id;
  if (!s.threadTids.has(id)) {
    s.threadTids.add(id);
    meta(s, tid, `thread ${id}`, tid);
  }
  return tid;
}

/** A zero-length mark on the workqueue's track, strictly after the previous one there. */
function mark(s: Session, event: WorkEvent, what: string): TraceEvent | null {
  const track = wqTrack(s, event.work._pwq!.wq);
  let ts = nowUs();
  if (ts <= track.lastTs) ts = track.lastTs + 0.001;
  track.lastTs = ts;
  const slice: TraceEvent = {
    name: `${what} ${event.function}`,
    cat: CAT,
    ph: 'X',
    ts,
    dur: 0,
    pid,
    tid: track.tid,
    args: { workqueue: event.workqueue, req_cpu: event.req_cpu, cpu: event.cpu },
  };
  sampleCounters(s, track, ts, false);
  return push(s, slice) ? slice : null;
}

function sampleCounters(s: Session, track: WqTrack, ts: number, force: boolean): void {
  if (!force && ts - track.lastCounterTs < COUNTER_EVERY_US) return;
  track.lastCounterTs = ts;
  const { infl, pending } = workqueueCounts(track.wq);
  const series = `workqueue ${track.wq.name}`;
  push(s, { name: 'pending', cat: CAT, ph: 'C', ts, pid, tid: 0, args: { [series]: pending } });
  push(s, { name: 'in flight', cat: CAT, ph: 'C', ts, pid, tid: 0, args: { [series]: infl } });
}

function onQueue(message: unknown): void {
  const s = session!;
  const event = message as WorkEvent;
  const queued = mark(s, event, 'queue_work');
  if (queued !== null) s.pending.set(event.work, { queued, activated: null });
}

function onActivate(message: unknown): void {
  const s = session!;
  const event = message as WorkEvent;
  const slice = mark(s, event, 'activate_work');
  const pending = s.pending.get(event.work);
  if (pending !== undefined) pending.activated = slice;
}

function onStart(message: unknown): void {
  const s = session!;
  const event = message as WorkEvent;
  const work = event.work;
  const worker = work._worker;
  if (worker === null) return;
  const ts = nowUs();
  const args: Record<string, unknown> = { workqueue: event.workqueue, worker: worker.name, cpu: event.cpu };
  const slice: TraceEvent = {
    name: event.function,
    cat: CAT,
    ph: 'X',
    ts,
    dur: 0,
    pid,
    tid: workerTid(s, worker),
    args,
  };
  if (!push(s, slice)) return;
  const pending = s.pending.get(work);
  if (pending !== undefined) {
    s.pending.delete(work);
    const id = s.nextFlow++;
    pending.queued.bind_id = id;
    pending.queued.flow_out = true;
    if (pending.activated !== null) {
      pending.activated.bind_id = id;
      pending.activated.flow_in = true;
      pending.activated.flow_out = true;
    }
    slice.bind_id = id;
    slice.flow_in = true;
  }
  let threadSlice: TraceEvent | null = null;
  if (worker.thread !== null) {
    args.threadId = worker.thread.threadId;
    threadSlice = { ...slice, tid: threadTid(s, worker.thread.threadId), args };
    delete threadSlice.bind_id;
    delete threadSlice.flow_in;
    if (!push(s, threadSlice)) threadSlice = null;
  } else {
    args.threadId = threadId;
  }
  s.open.set(worker, { slice, threadSlice });
  sampleCounters(s, wqTrack(s, work._pwq!.wq), ts, false);
}

function onEnd(message: unknown): void {
  const s = session!;
  const event = message as WorkEvent;
  const worker = event.work._worker;
  if (worker === null) return;
  const open = s.open.get(worker);
  if (open === undefined) return;
  s.open.delete(worker);
  const ts = nowUs();
  open.slice.dur = ts - open.slice.ts;
  if (open.threadSlice !== null) open.threadSlice.dur = open.slice.dur;
  if ('error' in event) {
    open.slice.args!.failed = true;
    open.slice.args!.error = errorText(event.error);
  }
  // The pwq it ran on: a delayed work that re-armed itself holds its expiry in _pwq by now.
  sampleCounters(s, wqTrack(s, worker.currentPwq!.wq), ts, false);
}

function onHog(message: unknown): void {
  const worker = (message as WorkEvent).work._worker;
  const open = worker !== null ? session!.open.get(worker) : undefined;
  if (open !== undefined) open.slice.args!.cpuHog = true;
}

function errorText(error: unknown): string {
  try {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  } catch {
    return '(unprintable)';
  }
}

const subscriptions: [typeof chQueueWork, (message: unknown) => void][] = [
  [chQueueWork, onQueue],
  [chActivateWork, onActivate],
  [chExecuteStart, onStart],
  [chExecuteEnd, onEnd],
  [chCpuIntensive, onHog],
];

/**
 * Starts recording a trace of every work item's queueing, activation and execution in this thread's
 * workqueues (see wqTraceStop()). Tracing adds a few microseconds per item: for looking, not for production.
 * @param options maxEvents: stop recording after this many events (default 1,000,000).
 * @throws WorkqueueError ERR_WQ_INVALID_ARG if tracing is already on, or maxEvents is not a positive integer.
 */
export function wqTraceStart(options: WqTraceOptions = {}): void {
  const maxEvents = options.maxEvents ?? DEFAULT_MAX_EVENTS;
  if (!Number.isInteger(maxEvents) || maxEvents <= 0)
    invalidArg(`wqTraceStart: maxEvents must be a positive integer, got ${describe(maxEvents)}`);
  if (session !== null) invalidArg('wqTraceStart: tracing is already on; call wqTraceStop() first');
  session = {
    events: [],
    maxEvents,
    dropped: 0,
    nextFlow: 1,
    pending: new Map(),
    open: new Map(),
    workerTids: new Map(),
    threadTids: new Set(),
    wqTracks: new Map(),
  };
  const title = process.argv[1] !== undefined ? `node ${process.argv[1]}` : 'node';
  session.events.push({ name: 'process_name', ph: 'M', ts: 0, pid, tid: 0, args: { name: `${title} (cmwq)` } });
  for (const [channel, listener] of subscriptions) channel.subscribe(listener);
}

/** Whether wqTraceStart() is recording. */
export function wqTracing(): boolean {
  return session !== null;
}

/**
 * Stops tracing and returns the trace: Chrome Trace Event JSON (`JSON.stringify` it to a file, then open it in
 * ui.perfetto.dev or chrome://tracing). Executions still running are closed now, marked unfinished.
 * @returns the trace; an empty one if tracing was off.
 */
export function wqTraceStop(): WqTrace {
  const s = session;
  const trace: WqTrace = {
    traceEvents: [],
    displayTimeUnit: 'ms',
    otherData: { producer: 'cmwq', dropped: 0 },
  };
  if (s === null) return trace;
  for (const [channel, listener] of subscriptions) channel.unsubscribe(listener);
  session = null;
  const ts = nowUs();
  for (const { slice, threadSlice } of s.open.values()) {
    slice.dur = ts - slice.ts;
    slice.args!.unfinished = true;
    if (threadSlice !== null) threadSlice.dur = slice.dur;
  }
  for (const track of s.wqTracks.values()) sampleCounters(s, track, Math.max(ts, track.lastCounterTs), true);
  trace.traceEvents = s.events;
  trace.otherData.dropped = s.dropped;
  return trace;
}
