/**
 * Randomized model test: thousands of random operation sequences on 4 works and 3 workqueues (one per-CPU
 * highpri, one unbound with max_active 2, one ordered), checked against a model of the SPEC §3 guarantees:
 *
 * - every queue call's result is predicted (§3.1, §3.5, §3.6, §3.11, §3.12); every successful queue leads to
 *   exactly one execution unless a later cancel/mod/disable took it back (§3.1, §3.2);
 * - a work never executes concurrently with itself, and only from a queued instance (§3.3);
 * - currentWork() and workPending() inside handlers (§3.2, §3.4); armed works never run early (§3.7);
 * - flushWork, flushWorkqueue, cancelWorkSync and disableWorkSync promises all settle, with the right values and
 *   only once what they wait for has ended; overlapping flushes resolve in order (§3.8, §3.9, §3.11);
 * - max_active is never exceeded; the ordered workqueue runs strictly in queueing order, one at a time
 *   (§3.13, §3.14); failures are all reported (§3.16).
 *
 * The seed is random per run (or MODEL_SEED=<n>); a failure prints it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import {
  allocOrderedWorkqueue,
  allocWorkqueue,
  cancelWork,
  cancelWorkSync,
  currentWork,
  DelayedWork,
  disableWork,
  disableWorkSync,
  enableAndQueueWork,
  enableWork,
  flushDelayedWork,
  flushWork,
  flushWorkqueue,
  modDelayedWork,
  queueDelayedWork,
  queueWork,
  workBusy,
  workPending,
  WQ_HIGHPRI,
  WQ_UNBOUND,
  type WorkEvent,
  type Workqueue,
} from '../src/index.js';
import { mulberry32, turn, useManualClock } from './helpers.js';

// These tests check currentWork() and the checks built on it across awaits: async context on.
const clock = useManualClock({ asyncContext: true });

const SEQUENCES = Number(process.env.MODEL_SEQUENCES ?? 5000);
const BASE_SEED = Number(process.env.MODEL_SEED ?? Math.floor(Math.random() * 2 ** 31));

let rng = mulberry32(BASE_SEED);
const rint = (n: number): number => Math.floor(rng() * n);
const chance = (p: number): boolean => rng() < p;

class IntentionalFailure extends Error {}

// ---- the world -------------------------------------------------------------------------------------------------

const violations: string[] = [];
function violation(message: string): void {
  if (violations.length < 20) violations.push(message);
}
function check(cond: boolean, message: () => string): void {
  if (!cond) violation(message());
}

let reportedFailures = 0;
let thrownFailures = 0;
const onError = (error: unknown): void => {
  if (error instanceof IntentionalFailure) reportedFailures++;
  else violation(`unexpected handler failure: ${error instanceof Error ? error.stack : String(error)}`);
};

const wqA = allocWorkqueue('model-a', WQ_HIGHPRI, 0, { onError });
const wqB = allocWorkqueue('model-b', WQ_UNBOUND, 2, { onError });
const wqO = allocOrderedWorkqueue('model-o', 0, { onError });
const WQS: Workqueue[] = [wqA, wqB, wqO];
const MAX_ACTIVE: Record<string, number> = { 'model-a': 256, 'model-b': 2, 'model-o': 1 };
const inflight: Record<string, number> = { 'model-a': 0, 'model-b': 0, 'model-o': 0 };

interface WM {
  name: string;
  w: DelayedWork<number>;
  asyncFn: boolean;
  pending: boolean;
  state: 'none' | 'armed' | 'queued';
  wq: Workqueue | null;
  expiry: number;
  disable: number;
  /** cancelWorkSync calls whose promise has not settled yet. */
  syncCancels: number;
  /** How many of those are known to have released their temporary disable (a queue call succeeded since). */
  syncOverKnown: number;
  starts: number;
  ends: number;
  takebacks: number;
  queuesOk: number;
  running: boolean;
  runWq: string | null;
}

let models: WM[] = [];
const byWork = new Map<unknown, WM>();
/** The ordered workqueue's queued instances, in queueing order. */
const fifoO: WM[] = [];
let inQueueCall: WM | null = null;
let queueEventSeen = false;
let flushFiring: WM | null = null;
const lastStartWq = new Map<unknown, string>();
let quiescing = false;
let log: string[] = [];
function note(s: string): void {
  log.push(s);
  if (log.length > 60) log.shift();
}

const onQueueEvent = (message: unknown): void => {
  const e = message as WorkEvent;
  const wm = byWork.get(e.work);
  if (wm === undefined) return;
  if (inQueueCall === wm) {
    queueEventSeen = true;
  } else {
    // A timer fired (or flushDelayedWork fired it): the armed instance becomes queued.
    check(
      wm.pending && wm.state === 'armed',
      () => `${wm.name}: queued by its timer but the model has it ${wm.pending ? wm.state : 'idle'}`,
    );
    check(wm.wq?.name === e.workqueue, () => `${wm.name}: timer queued it on ${e.workqueue}, armed for ${wm.wq?.name}`);
    if (flushFiring !== wm) {
      check(
        clock.now() >= wm.expiry,
        () => `${wm.name}: fired at ${clock.now()} before its expiry ${wm.expiry} (§3.7)`,
      );
      check(clock.now() - wm.expiry < 1, () => `${wm.name}: fired at ${clock.now()}, expiry ${wm.expiry}`);
    }
    wm.state = 'queued';
  }
  if (e.workqueue === 'model-o') fifoO.push(wm);
};
const onStartEvent = (message: unknown): void => {
  const e = message as WorkEvent;
  if (byWork.has(e.work)) lastStartWq.set(e.work, e.workqueue);
};
diagnosticsChannel.subscribe('cmwq:workqueue_queue_work', onQueueEvent);
diagnosticsChannel.subscribe('cmwq:workqueue_execute_start', onStartEvent);
process.on('unhandledRejection', (reason) => violation(`unhandled rejection: ${String(reason)}`));

// ---- handler side ----------------------------------------------------------------------------------------------

function onStart(wm: WM): string {
  const wqName = lastStartWq.get(wm.w) ?? '?';
  check(
    wm.pending && wm.state === 'queued',
    () => `${wm.name}: started without a queued instance (model ${wm.pending ? wm.state : 'idle'}) (§3.1)`,
  );
  check(wm.wq?.name === wqName, () => `${wm.name}: started on ${wqName}, queued on ${wm.wq?.name}`);
  check(!wm.running, () => `${wm.name}: executes concurrently with itself (§3.3)`);
  check(!workPending(wm.w), () => `${wm.name}: pending inside its handler (§3.2)`);
  check(currentWork() === wm.w, () => `${wm.name}: currentWork() is not the work in its handler (§3.4)`);
  if (wqName === 'model-o') {
    check(
      fifoO[0] === wm,
      () => `ordered: ${wm.name} started, but ${fifoO[0]?.name ?? 'nothing'} was queued first (§3.14)`,
    );
    if (fifoO[0] === wm) fifoO.shift();
  }
  inflight[wqName]++;
  check(
    inflight[wqName] <= MAX_ACTIVE[wqName],
    () => `${wqName}: ${inflight[wqName]} in flight, max_active ${MAX_ACTIVE[wqName]} (§3.13)`,
  );
  wm.pending = false;
  wm.state = 'none';
  wm.starts++;
  wm.running = true;
  wm.runWq = wqName;
  note(`start ${wm.name}#${wm.starts} on ${wqName}`);
  return wqName;
}

function onEnd(wm: WM, wqName: string): void {
  inflight[wqName]--;
  wm.running = false;
  wm.ends++;
  note(`end ${wm.name}#${wm.ends}`);
}

/** What a handler does from inside: requeue itself or queue another work, sometimes. */
function handlerActions(wm: WM): void {
  if (quiescing) return;
  if (chance(0.3)) randomQueue(wm);
  if (chance(0.1)) randomQueue(models[rint(models.length)]);
}

function makeWork(_name: string, asyncFn: boolean): DelayedWork<number> {
  if (asyncFn) {
    return new DelayedWork<number>(async function modelAsync(self) {
      const wm = byWork.get(self)!;
      const wqName = onStart(wm);
      const awaits = rint(4);
      const fail = chance(0.05);
      try {
        handlerActions(wm);
        for (let i = 0; i < awaits; i++) {
          if (chance(0.5)) await turn();
          else await Promise.resolve();
          check(currentWork() === self, () => `${wm.name}: currentWork() lost across an await (§3.4)`);
          if (chance(0.3)) handlerActions(wm);
        }
      } finally {
        onEnd(wm, wqName);
      }
      if (fail) {
        thrownFailures++;
        throw new IntentionalFailure('async');
      }
    }, 0);
  }
  return new DelayedWork<number>(function modelPlain(self) {
    const wm = byWork.get(self)!;
    const wqName = onStart(wm);
    const awaits = rint(3);
    const fail = chance(0.05);
    if (awaits === 0) {
      try {
        handlerActions(wm);
      } finally {
        onEnd(wm, wqName);
      }
      if (fail) {
        thrownFailures++;
        throw new IntentionalFailure('sync');
      }
      return undefined;
    }
    handlerActions(wm);
    // A plain function returning a promise: the worker sleeps until it settles.
    return (async () => {
      try {
        for (let i = 0; i < awaits; i++) await turn();
        if (chance(0.3)) handlerActions(wm);
      } finally {
        onEnd(wm, wqName);
      }
      if (fail) {
        thrownFailures++;
        throw new IntentionalFailure('plain-async');
      }
    })();
  }, 0);
}

// ---- harness operations, each with its predicted outcome -----------------------------------------------------

const outstanding = new Set<string>();
let promiseSeq = 0;
function watch<T>(label: string, p: Promise<T>, onValue: (v: T) => void): void {
  const id = `${label}#${promiseSeq++}`;
  outstanding.add(id);
  p.then(
    (v) => {
      outstanding.delete(id);
      onValue(v);
    },
    (e) => {
      outstanding.delete(id);
      violation(`${label} rejected: ${String(e)}`);
    },
  );
}

const isRunning = (wm: WM): boolean => (workBusy(wm.w) & 2) !== 0;

/**
 * cancelWorkSync disables the work until the running instance has ended and its own promise callback has run;
 * the model learns that moment only when its promise settles, a little later. Meanwhile a queue call may go
 * either way, unless the instance is still running (then it surely fails).
 */
const activeSyncCancels = (wm: WM): number => wm.syncCancels - wm.syncOverKnown;

/** 'yes' / 'no' if the model knows whether a queue call succeeds; 'unknown' in the instant a cancelWorkSync ends. */
function canQueue(wm: WM): 'yes' | 'no' | 'unknown' {
  if (wm.pending || wm.disable > 0) return 'no';
  if (activeSyncCancels(wm) > 0) return isRunning(wm) ? 'no' : 'unknown';
  return 'yes';
}

function takeback(wm: WM): void {
  if (wm.state === 'queued' && wm.wq === wqO) {
    const i = fifoO.indexOf(wm);
    check(i >= 0, () => `${wm.name}: taken back from the ordered queue but not in its FIFO`);
    if (i >= 0) fifoO.splice(i, 1);
  }
  wm.pending = false;
  wm.state = 'none';
  wm.takebacks++;
}

function queued(wm: WM, wq: Workqueue, delay: number): void {
  // A successful queue proves every earlier cancelWorkSync has released its disable.
  wm.syncOverKnown = wm.syncCancels;
  wm.pending = true;
  wm.queuesOk++;
  wm.wq = wq;
  if (queueEventSeen) wm.state = 'queued';
  else {
    check(delay > 0, () => `${wm.name}: queued with delay ${delay} but no queue event`);
    wm.state = 'armed';
    wm.expiry = clock.now() + delay;
  }
}

function callQueue(wm: WM, fn: () => boolean): boolean {
  inQueueCall = wm;
  queueEventSeen = false;
  try {
    return fn();
  } finally {
    inQueueCall = null;
  }
}

function opQueue(wm: WM, wq: Workqueue): void {
  const predicted = canQueue(wm);
  const r = callQueue(wm, () => queueWork(wq, wm.w));
  note(`queueWork(${wq.name}, ${wm.name}) = ${r} (predicted ${predicted})`);
  if (predicted !== 'unknown')
    check(
      r === (predicted === 'yes'),
      () => `queueWork(${wm.name}) returned ${r}, predicted ${predicted} (§3.1/§3.12)`,
    );
  if (r) queued(wm, wq, 0);
  else check(!queueEventSeen, () => `queueWork(${wm.name}) returned false but queued`);
}

function opQueueDelayed(wm: WM, wq: Workqueue, delay: number): void {
  const predicted = canQueue(wm);
  const r = callQueue(wm, () => queueDelayedWork(wq, wm.w, delay));
  note(`queueDelayedWork(${wq.name}, ${wm.name}, ${delay}) = ${r} (predicted ${predicted})`);
  if (predicted !== 'unknown')
    check(
      r === (predicted === 'yes'),
      () => `queueDelayedWork(${wm.name}) returned ${r}, predicted ${predicted} (§3.5)`,
    );
  if (r) queued(wm, wq, delay);
  else check(!queueEventSeen, () => `queueDelayedWork(${wm.name}) returned false but queued`);
}

function opMod(wm: WM, wq: Workqueue, delay: number): void {
  const wasPending = wm.pending;
  const requeue: 'yes' | 'no' | 'unknown' =
    wm.disable > 0 ? 'no' : activeSyncCancels(wm) > 0 ? (isRunning(wm) ? 'no' : 'unknown') : 'yes';
  const r = callQueue(wm, () => modDelayedWork(wq, wm.w, delay));
  note(`modDelayedWork(${wq.name}, ${wm.name}, ${delay}) = ${r} (was pending ${wasPending})`);
  check(r === wasPending, () => `modDelayedWork(${wm.name}) returned ${r}, but pending was ${wasPending} (§3.6)`);
  if (wasPending) takeback(wm);
  const nowPending = workPending(wm.w);
  if (requeue !== 'unknown')
    check(
      nowPending === (requeue === 'yes'),
      () => `modDelayedWork(${wm.name}) left pending=${nowPending}, predicted ${requeue}`,
    );
  if (nowPending) queued(wm, wq, delay);
}

function opCancel(wm: WM): void {
  const r = cancelWork(wm.w);
  note(`cancelWork(${wm.name}) = ${r}`);
  check(r === wm.pending, () => `cancelWork(${wm.name}) returned ${r}, model pending ${wm.pending} (§3.11)`);
  if (r) takeback(wm);
}

function opDisable(wm: WM): void {
  const r = disableWork(wm.w);
  note(`disableWork(${wm.name}) = ${r}`);
  check(r === wm.pending, () => `disableWork(${wm.name}) returned ${r}, model pending ${wm.pending} (§3.12)`);
  if (r) takeback(wm);
  wm.disable++;
}

function opSyncWait(wm: WM, kind: 'cancel' | 'disable'): void {
  const wasPending = wm.pending;
  const startsAtCall = wm.starts;
  const p = kind === 'cancel' ? cancelWorkSync(wm.w) : disableWorkSync(wm.w);
  note(`${kind}WorkSync(${wm.name}) (pending ${wasPending})`);
  check(!workPending(wm.w), () => `${kind}WorkSync(${wm.name}) left it pending`);
  if (wasPending) takeback(wm);
  if (kind === 'cancel') wm.syncCancels++;
  else wm.disable++;
  watch(`${kind}WorkSync(${wm.name})`, p, (v) => {
    if (kind === 'cancel') {
      wm.syncCancels--;
      if (wm.syncOverKnown > 0) wm.syncOverKnown--;
    }
    check(v === wasPending, () => `${kind}WorkSync(${wm.name}) resolved ${v}, was pending ${wasPending} (§3.11)`);
    check(
      wm.ends >= startsAtCall,
      () => `${kind}WorkSync(${wm.name}) resolved before the running instance ended (§3.11)`,
    );
  });
}

function opEnable(wm: WM, wq: Workqueue | null): void {
  const expectQueued = wm.disable === 1;
  if (wq === null) {
    const r = enableWork(wm.w);
    note(`enableWork(${wm.name}) = ${r}`);
    check(r === expectQueued, () => `enableWork(${wm.name}) returned ${r} at depth ${wm.disable} (§3.12)`);
  } else {
    const r = callQueue(wm, () => enableAndQueueWork(wq, wm.w));
    note(`enableAndQueueWork(${wq.name}, ${wm.name}) = ${r}`);
    check(r === expectQueued, () => `enableAndQueueWork(${wm.name}) returned ${r} at depth ${wm.disable} (§3.12)`);
    if (r) queued(wm, wq, 0);
  }
  wm.disable--;
}

function opFlushWork(wm: WM, delayed: boolean): void {
  // flushWork waits for a queued instance, not for an armed timer (as the kernel's flush_work); flushDelayedWork
  // fires the timer first.
  const pendingAtCall = wm.pending && (delayed || wm.state === 'queued');
  const runningAtCall = isRunning(wm);
  const startsAtCall = wm.starts;
  const takebacksAtCall = wm.takebacks;
  const predicted = pendingAtCall || runningAtCall;
  let p: Promise<boolean>;
  if (delayed) {
    flushFiring = wm;
    try {
      p = flushDelayedWork(wm.w);
    } finally {
      flushFiring = null;
    }
    if (pendingAtCall) check(wm.state === 'queued', () => `flushDelayedWork(${wm.name}) did not fire its timer (§3.8)`);
  } else p = flushWork(wm.w);
  note(`flush${delayed ? 'Delayed' : ''}Work(${wm.name}) pending ${pendingAtCall} running ${runningAtCall}`);
  watch(`flushWork(${wm.name})`, p, (v) => {
    check(v === predicted, () => `flushWork(${wm.name}) resolved ${v}, predicted ${predicted} (§3.8)`);
    if (runningAtCall)
      check(wm.ends >= startsAtCall, () => `flushWork(${wm.name}) resolved before the running instance ended (§3.8)`);
    if (pendingAtCall) {
      check(
        wm.ends >= startsAtCall + 1 || wm.takebacks > takebacksAtCall,
        () => `flushWork(${wm.name}) resolved before the pending instance ran (§3.8)`,
      );
    }
  });
}

const flushSeq: Record<string, number> = { 'model-a': 0, 'model-b': 0, 'model-o': 0 };
const flushResolved: Record<string, number> = { 'model-a': -1, 'model-b': -1, 'model-o': -1 };

function opFlushWorkqueue(wq: Workqueue): void {
  const seq = flushSeq[wq.name]++;
  const waitFor: { wm: WM; ends: number; takebacks: number | null }[] = [];
  for (const wm of models) {
    if (wm.pending && wm.state === 'queued' && wm.wq === wq)
      waitFor.push({ wm, ends: wm.starts + 1, takebacks: wm.takebacks });
    if (wm.running && wm.runWq === wq.name) waitFor.push({ wm, ends: wm.starts, takebacks: null });
  }
  note(`flushWorkqueue(${wq.name}) #${seq} waits for ${waitFor.map((x) => x.wm.name).join(',')}`);
  watch(`flushWorkqueue(${wq.name})`, flushWorkqueue(wq), () => {
    check(
      seq > flushResolved[wq.name],
      () => `flushWorkqueue(${wq.name}) #${seq} resolved after #${flushResolved[wq.name]} (§3.9)`,
    );
    flushResolved[wq.name] = seq;
    for (const x of waitFor) {
      check(
        x.wm.ends >= x.ends || (x.takebacks !== null && x.wm.takebacks > x.takebacks),
        () => `flushWorkqueue(${wq.name}) resolved before ${x.wm.name} instance #${x.ends} ended (§3.9)`,
      );
    }
  });
}

const randomWq = (): Workqueue => WQS[rint(WQS.length)];
const randomDelay = (): number => (chance(0.25) ? 0 : 1 + rint(40));

function randomQueue(wm: WM): void {
  const k = rint(3);
  if (k === 0) opQueue(wm, randomWq());
  else if (k === 1) opQueueDelayed(wm, randomWq(), randomDelay());
  else opMod(wm, randomWq(), randomDelay());
}

async function randomOp(): Promise<void> {
  const wm = models[rint(models.length)];
  const k = rint(100);
  if (k < 18) opQueue(wm, randomWq());
  else if (k < 28) opQueueDelayed(wm, randomWq(), randomDelay());
  else if (k < 36) opMod(wm, randomWq(), randomDelay());
  else if (k < 42) opCancel(wm);
  else if (k < 46) opSyncWait(wm, 'cancel');
  else if (k < 48) {
    if (wm.disable < 3) opSyncWait(wm, 'disable');
  } else if (k < 51) {
    if (wm.disable < 3) opDisable(wm);
  } else if (k < 56) {
    if (wm.disable > 0 && activeSyncCancels(wm) === 0) opEnable(wm, chance(0.5) ? randomWq() : null);
  } else if (k < 61) opFlushWork(wm, false);
  else if (k < 64) opFlushWork(wm, true);
  else if (k < 69) opFlushWorkqueue(randomWq());
  else if (k < 79) {
    const ms = 1 + rint(25);
    note(`advance ${ms}`);
    clock.advance(ms);
  } else if (k < 95) {
    const n = 1 + rint(3);
    for (let i = 0; i < n; i++) await turn();
  } else await Promise.resolve();
  for (const m of models) {
    check(workPending(m.w) === m.pending, () => `${m.name}: workPending ${workPending(m.w)}, model ${m.pending}`);
  }
}

async function quiesce(): Promise<void> {
  quiescing = true;
  for (let i = 0; i < 5000; i++) {
    for (const wm of models) {
      while (wm.disable > 0 && activeSyncCancels(wm) === 0) opEnable(wm, null);
    }
    clock.advance(100);
    await turn();
    const idle = models.every((wm) => workBusy(wm.w) === 0 && wm.disable === 0);
    if (idle && outstanding.size === 0) break;
  }
  // Every workqueue is idle: a flush of each resolves.
  for (const wq of WQS) opFlushWorkqueue(wq);
  for (let i = 0; i < 5 && outstanding.size > 0; i++) await turn();
  check(outstanding.size === 0, () => `promises never settled: ${[...outstanding].join(', ')}`);
  for (const wm of models) {
    check(workBusy(wm.w) === 0, () => `${wm.name}: still busy (${workBusy(wm.w)}) after quiescing`);
    check(!wm.pending && !wm.running, () => `${wm.name}: model pending ${wm.pending} running ${wm.running} at the end`);
    check(wm.starts === wm.ends, () => `${wm.name}: ${wm.starts} starts, ${wm.ends} ends`);
    check(
      wm.queuesOk === wm.starts + wm.takebacks,
      () => `${wm.name}: ${wm.queuesOk} successful queues, ${wm.starts} executions + ${wm.takebacks} taken back (§3.1)`,
    );
  }
  for (const name of Object.keys(inflight))
    check(inflight[name] === 0, () => `${name}: ${inflight[name]} still in flight`);
  check(fifoO.length === 0, () => `ordered FIFO not empty: ${fifoO.map((m) => m.name).join(',')}`);
  check(
    reportedFailures === thrownFailures,
    () => `${thrownFailures} handler failures, ${reportedFailures} reported (§3.16)`,
  );
  quiescing = false;
}

test(`model: ${SEQUENCES} random operation sequences keep every guarantee (seed ${BASE_SEED})`, async (t) => {
  let executions = 0;
  let ops = 0;
  for (let s = 0; s < SEQUENCES; s++) {
    const seed = (BASE_SEED + s) >>> 0;
    rng = mulberry32(seed);
    log = [];
    byWork.clear();
    lastStartWq.clear();
    models = ['w0', 'w1', 'w2', 'w3'].map((name, i) => {
      const asyncFn = i < 2;
      const wm: WM = {
        name,
        w: makeWork(name, asyncFn),
        asyncFn,
        pending: false,
        state: 'none',
        wq: null,
        expiry: 0,
        disable: 0,
        syncCancels: 0,
        syncOverKnown: 0,
        starts: 0,
        ends: 0,
        takebacks: 0,
        queuesOk: 0,
        running: false,
        runWq: null,
      };
      byWork.set(wm.w, wm);
      return wm;
    });
    const n = 10 + rint(50);
    for (let i = 0; i < n; i++) await randomOp();
    ops += n;
    await quiesce();
    executions += models.reduce((sum, wm) => sum + wm.starts, 0);
    if (violations.length > 0) {
      assert.fail(
        `model violated in sequence ${s} (rerun with MODEL_SEED=${seed} MODEL_SEQUENCES=1):\n  ${violations.join('\n  ')}\nlast operations:\n  ${log.join('\n  ')}`,
      );
    }
  }
  t.diagnostic(`${SEQUENCES} sequences, ${ops} operations, ${executions} executions, seed ${BASE_SEED}`);
  assert.ok(executions > SEQUENCES, `the sequences executed work (${executions} executions)`);
});
