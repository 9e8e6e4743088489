/**
 * The heartbeat: what this loop publishes, with plain stores into shared memory, for the watchdog thread that
 * watches it from outside (observe/watchdog.ts starts it), and the tables of names the thread prints.
 *
 * The core writes the heartbeat on its hot path (a few stores per item) and never imports the watchdog: the
 * watchdog plugs in through `watchdogHooks`, which do nothing until it is loaded. Names (functions, workers,
 * pool workqueues) are given small ids here; the ones the thread has not been told of yet wait in `unsentNames`,
 * keyed by id so that they stay bounded while no thread runs.
 */
import type { PoolWorkqueue } from './pool-workqueue.js';

/** Heartbeat slots. */
/**
 * Heartbeat slots. A const enum, so that the hot path's uses are literals (an imported `const` costs V8 a cell load
 * and a hole check at every use); the HB_* constants below name the same slots for the watchdog's files.
 */
export const enum Hb {
  /** Item sequence: odd while a handler's synchronous segment runs. */
  SEQ = 0,
  /** The running item's function id. */
  FUNC = 1,
  /** Its pool workqueue id. */
  PWQ = 2,
  /** Its worker's id. */
  WORKER = 3,
  /** 1 while the loop has work scheduled. */
  PENDING = 4,
  /** Written by the thread: the sequence number of a run found CPU intensive. */
  HOG = 5,
  /** Written by the thread: it stopped ticking; wake it with a message. */
  ASLEEP = 6,
  /** Written by the thread: lockups reported so far. */
  STALLS = 7,
}
export const HB_SEQ = Hb.SEQ;
export const HB_FUNC = Hb.FUNC;
export const HB_PWQ = Hb.PWQ;
export const HB_WORKER = Hb.WORKER;
export const HB_PENDING = Hb.PENDING;
export const HB_HOG = Hb.HOG;
export const HB_ASLEEP = Hb.ASLEEP;
export const HB_STALLS = Hb.STALLS;
const HB_SLOTS = 8;

/** This loop's heartbeat, shared with the watchdog thread. */
export const heartbeat = new Int32Array(new SharedArrayBuffer(HB_SLOTS * 4));

/**
 * What the watchdog (observe/) does for the core, set when it is loaded. The defaults do nothing, so a core
 * without a watchdog (a thread cmwq started) runs as well.
 */
export const watchdogHooks = {
  /**
   * Set once the watchdog has started (or is starting) its thread: from then on kick() has something to do only
   * while the thread sleeps (Hb.ASLEEP), so the loop calls it only then (see kickWatchdog()).
   */
  started: false,
  /** The loop has work: make sure the thread watches. */
  kick: (): void => {},
  /** New names are waiting in unsentNames. */
  namesChanged: (): void => {},
  /** A handler returned after being found stuck: report the lockups now. */
  noteStalls: (): void => {},
  /** The state printed under a lockup report (showAllWorkqueues(), set by observe/monitor.ts). */
  stateText: (): string => '',
};

/**
 * The loop has work (it was scheduled): lets the watchdog know if it needs to (its thread is not started yet, or
 * sleeps). A settle that runs the next item kicks once per item, so the common case is two loads, not a call.
 */
export function kickWatchdog(): void {
  if (watchdogHooks.started === false || heartbeat[Hb.ASLEEP] === 1) watchdogHooks.kick();
}

/**
 * Per-function record: a small id for the heartbeat, and the CPU-hog count behind the kernel-style warning. Keyed
 * by the function's name, as the kernel's reports name functions by symbol: a work made per request with its own
 * closure shares the record of its siblings, so records (here and in the thread) do not grow with items.
 */
export interface FuncInfo {
  id: number;
  name: string;
  hogs: number;
}

const funcInfos = new Map<string, FuncInfo>();
let lastFunc: ((...args: never) => unknown) | null = null;
let lastInfo: FuncInfo | null = null;
let nextFuncId = 1;
let nextPwqId = 1;

/**
 * Names not yet sent to the thread, by id, so that they stay bounded while no thread runs (a worker culled and
 * made again, or a pwq made and forgotten, takes one entry).
 */
export const unsentNames = {
  funcs: new Map<number, string>(),
  workers: new Map<number, string>(),
  pwqs: new Map<number, string>(),
  forget: new Set<number>(),
};

/**
 * The FuncInfo of a work function (a one-entry cache in front of the map: works mostly share functions). Kept to
 * the cache test so that V8 inlines it where an item starts (processOneWork); the map is funcInfoMiss()'s.
 */
export function funcInfo(func: (...args: never) => unknown): FuncInfo {
  return func === lastFunc ? lastInfo! : funcInfoMiss(func);
}

/** funcInfo() past its one-entry cache: the record by name, made on first sight. */
function funcInfoMiss(func: (...args: never) => unknown): FuncInfo {
  const name = func.name || '<anonymous>';
  let info = funcInfos.get(name);
  if (info === undefined) {
    info = { id: nextFuncId++, name, hogs: 0 };
    funcInfos.set(name, info);
    unsentNames.funcs.set(info.id, info.name);
    watchdogHooks.namesChanged();
  }
  lastFunc = func;
  lastInfo = info;
  return info;
}

/**
 * The heartbeat id of a worker: derived from its pool and its id in the pool, which are reused, so that the
 * thread's table of names stays as small as the set of workers that ever coexist.
 */
export function registerWorker(poolId: number, workerId: number, name: string): number {
  const id = poolId * 65536 + workerId;
  unsentNames.workers.set(id, name);
  watchdogHooks.namesChanged();
  return id;
}

/** The heartbeat id of a pool workqueue (its workqueue's name is what the thread prints). */
export function registerPwq(pwq: PoolWorkqueue): number {
  const id = nextPwqId++;
  unsentNames.pwqs.set(id, pwq.wq.name);
  watchdogHooks.namesChanged();
  return id;
}

/** A pool workqueue is gone with its workqueue: forget its id here and in the thread. */
export function unregisterPwq(pwq: PoolWorkqueue): void {
  if (!unsentNames.pwqs.delete(pwq.hbId)) unsentNames.forget.add(pwq.hbId);
  watchdogHooks.namesChanged();
}
