/**
 * The entry point of every thread cmwq starts: CPU k, an unbound pool's thread, a rescuer (thread.ts is the
 * owner's side of it).
 *
 * The thread is a CPU of its own: it loads the same cmwq core, whose pools run the items it is sent, with
 * concurrency management (a handler that awaits lets the next item start) and a budget after which the loop
 * yields. Each item becomes a local RemoteWork on one of this thread's own workqueues (normal, highpri, BH) and
 * runs through a shim that marks it started in shared memory, publishes "running since" for the owner's
 * dispatcher, times its synchronous segment (CPU-hog accounting is the owner's) and reports the outcome. Outcomes
 * of one pass of the loop go back in one message.
 *
 * Handlers here may use cmwq as on any thread: function works they queue run on this thread's loop.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { WQ_BH, WQ_HIGHPRI, WQ_MAX_ACTIVE } from '../base/constants.js';
import { WorkqueueError } from '../base/errors.js';
import { config, THREAD_ROLE } from '../base/init.js';
import { type ModuleFunc, moduleRef, preload, setModuleImporter, workFunc } from '../core/module-func.js';
import { workContext } from '../core/current.js';
import { queueWork } from '../core/queue.js';
import {
  encodeError,
  F_BH,
  F_CALL_ARG,
  F_HIGHPRI,
  F_WANT_RESULT,
  ITEM_FIELDS,
  OP_ABORT,
  OP_DONE,
  OP_READY,
  OP_RUN,
  RECORD_FIELDS,
  SLOT_ENDED,
  SLOT_FAILED,
  SLOT_STARTED,
  SLOTS,
  ST_FUNC,
  ST_RUNNING,
  ST_STARTED,
  type ThreadBoot,
  threadState,
} from './protocol.js';
import { S_CMW, S_FAILED, S_HOG } from '../core/executor.js';
import { settleOnce } from '../core/settle.js';
import { abortInstance, Work } from '../core/work.js';
import { allocWorkqueueInternal } from '../core/alloc.js';
import type { Workqueue } from '../core/workqueue.js';
import { importInThread } from './ts-loader.js';

const boot = (workerData as Record<string, ThreadBoot>)[THREAD_ROLE];
setModuleImporter(importInThread);
const port = parentPort!;
const hogMs = boot.cpuIntensiveThreshMs;
config.nrCpus = boot.nrCpus;
config.asyncContext = boot.asyncContext;
// Hogs are timed by the shim and accounted by the owner; no watchdog thread of this thread's own.
config.cpuIntensiveThreshMs = 0;
config.watchdogThreshS = 0;

const { running, since, started } = threadState(boot.state);
const epochNow = (): number => performance.timeOrigin + performance.now();

/** An item sent here: data is the owner's copy; slot is how the owner knows it. */
class RemoteWork extends Work<unknown> {
  constructor(
    func: (work: RemoteWork) => unknown,
    data: unknown,
    readonly slot: number,
    readonly flags: number,
    /** The owner's id of the module function. */
    readonly fnId: number,
  ) {
    super(func as (work: Work<unknown>) => unknown, data);
  }
}

/** The items in flight, by slot. */
const works: (RemoteWork | null)[] = new Array(SLOTS).fill(null);
/** The owner's module function ids → this thread's shims. */
const shims: ((work: RemoteWork) => unknown)[] = [];
/** This thread's workqueues for the items, by F_HIGHPRI | F_BH. */
const localWqs: Workqueue[] = [];

function localWq(flags: number): Workqueue {
  const index = flags & (F_HIGHPRI | F_BH);
  let wq = localWqs[index];
  if (wq === undefined) {
    const bh = (flags & F_BH) !== 0;
    const wqFlags = (bh ? WQ_BH : 0) | ((flags & F_HIGHPRI) !== 0 ? WQ_HIGHPRI : 0);
    wq = localWqs[index] = allocWorkqueueInternal(
      `${boot.namePrefix}remote${index}`,
      wqFlags,
      bh ? 0 : WQ_MAX_ACTIVE,
      {},
      true,
    );
  }
  return wq;
}

let outbox: unknown[] = [];
let flushScheduled = false;

function reply(work: RemoteWork, status: number, cpuMs: number, value: unknown): void {
  works[work.slot] = null;
  // Ended, for the owner, should this thread die before the batch goes out.
  started[work.slot] = (status & S_FAILED) !== 0 ? SLOT_FAILED : SLOT_ENDED;
  outbox.push(
    work.slot,
    status,
    cpuMs,
    (status & S_FAILED) !== 0 ? encodeError(value) : (work.flags & F_WANT_RESULT) !== 0 ? value : undefined,
  );
  if (!flushScheduled) {
    flushScheduled = true;
    queueMicrotask(flush);
  }
}

function flush(): void {
  flushScheduled = false;
  const records = outbox;
  outbox = [];
  try {
    port.postMessage([OP_DONE, records]);
  } catch {
    // A result or an error that cannot be cloned: the item fails with ERR_WQ_DATA_CLONE instead.
    for (let i = 0; i < records.length; i += RECORD_FIELDS) {
      try {
        structuredClone(records[i + 3]);
      } catch (error) {
        records[i + 1] = (records[i + 1] as number) | S_FAILED;
        records[i + 3] = encodeError(
          new WorkqueueError(
            'ERR_WQ_DATA_CLONE',
            `the handler's result or error cannot be sent back: ${(error as Error).message}`,
          ),
        );
      }
    }
    port.postMessage([OP_DONE, records]);
  }
}

/** Wraps a module function: marks the item started, publishes the running segment, times it, reports the end. */
function shimFor(func: ModuleFunc): (work: RemoteWork) => unknown {
  const ref = moduleRef(func)!;
  const shim = (work: RemoteWork): unknown => {
    started[work.slot] = SLOT_STARTED;
    Atomics.store(running, ST_STARTED, running[ST_STARTED] + 1);
    since[0] = epochNow();
    running[ST_FUNC] = work.fnId;
    Atomics.store(running, ST_RUNNING, 1);
    const t0 = performance.now();
    let ret: unknown;
    let then: unknown;
    let error: unknown;
    let threw = false;
    try {
      const arg = (work.flags & F_CALL_ARG) !== 0 ? work.data : work;
      // An async export runs in the work's AsyncLocalStorage scope, so that currentWork() holds across its awaits.
      ret = ref.async === false || !config.asyncContext ? func(arg) : workContext().run(work, func, arg);
      if (ret !== null && ret !== undefined) then = (ret as PromiseLike<unknown>).then;
    } catch (e) {
      error = e;
      threw = true;
    }
    const ms = performance.now() - t0;
    Atomics.store(running, ST_RUNNING, 0);
    const status = hogMs > 0 && ms >= hogMs ? S_HOG : 0;
    if (threw) return reply(work, status | S_FAILED, ms, error);
    if (typeof then !== 'function') return reply(work, status, ms, ret);
    // It sleeps: this thread's pool takes its next item meanwhile (counted at the owner if one was waiting).
    const slept = status | (work._pwq!.pool.worklist.length > 0 ? S_CMW : 0);
    return new Promise<void>((resolve) =>
      settleOnce(ret, then, (failed, value) => {
        reply(work, slept | (failed ? S_FAILED : 0), ms, value);
        resolve();
      }),
    );
  };
  Object.defineProperty(shim, 'name', { value: func.name });
  return shim;
}

/** Module functions still loading here, with the items that wait for them (so that calls are synchronous). */
const loading = new Map<number, RemoteWork[]>();

function run(defs: unknown[], items: unknown[]): void {
  for (let i = 0; i < defs.length; i += 3) {
    const id = defs[i] as number;
    const func = workFunc(defs[i + 1] as string, defs[i + 2] as string);
    shims[id] = shimFor(func);
    const loaded = preload(func);
    if (loaded !== null) {
      loading.set(id, []);
      void loaded.then(() => {
        const waiting = loading.get(id)!;
        loading.delete(id);
        for (const work of waiting) queueWork(localWq(work.flags), work);
      });
    }
  }
  for (let i = 0; i < items.length; i += ITEM_FIELDS) {
    const slot = items[i] as number;
    const id = items[i + 1] as number;
    const flags = items[i + 2] as number;
    const work = new RemoteWork(shims[id], items[i + 3], slot, flags, id);
    works[slot] = work;
    const waiting = loading.get(id);
    if (waiting !== undefined) waiting.push(work);
    else queueWork(localWq(flags), work);
  }
}

/** The owner waits for this item in cancel...Sync or disable...Sync: abort its signal (it may stop early). */
function abort(slot: number): void {
  const work = works[slot];
  if (work !== null && work._worker !== null) abortInstance(work);
}

port.on('message', (message: unknown[]) => {
  if (message[0] === OP_RUN) run(message[1] as unknown[], message[2] as unknown[]);
  else if (message[0] === OP_ABORT) abort(message[1] as number);
});
port.postMessage([OP_READY]);
