/**
 * The pools of this thread: each CPU's standard pools, made on first use, and the unbound pools, shared by
 * every unbound workqueue with equal attributes (the kernel's unbound_pool_hash) and freed with their last user.
 */
import { Cpu } from './cpu.js';
import { config, localCpu } from './init.js';
import { WorkerPool } from './worker-pool.js';

const loop = new Cpu(localCpu);
/** Per-CPU pools of this thread, by [bh][highpri]. */
const cpuPools: (WorkerPool | undefined)[] = [];
const unboundPools = new Map<string, { pool: WorkerPool; refs: number }>();
const clock = () => config.clock;

export function cpuPool(highpri: boolean, bh: boolean): WorkerPool {
  const index = (bh ? 2 : 0) + (highpri ? 1 : 0);
  let pool = cpuPools[index];
  if (pool === undefined) {
    pool = cpuPools[index] = new WorkerPool({ cpu: localCpu, highpri, bh }, loop, '', clock);
    loop.addPool(pool);
  }
  return pool;
}

/** Takes a reference on the unbound pool for key (made if needed). */
export function getUnboundPool(key: string, highpri: boolean): WorkerPool {
  let entry = unboundPools.get(key);
  if (entry === undefined) {
    entry = { pool: new WorkerPool({ cpu: -1, highpri, bh: false }, loop, key, clock), refs: 0 };
    unboundPools.set(key, entry);
    loop.addPool(entry.pool);
  }
  entry.refs++;
  return entry.pool;
}

/** Drops a reference on an unbound pool; the last one frees it as soon as it has nothing left to run. */
export function putUnboundPool(pool: WorkerPool): void {
  const entry = unboundPools.get(pool.attrsKey);
  if (entry === undefined || entry.pool !== pool) return;
  // Not now: the caller may be a handler running on this very pool, in the middle of the run loop.
  if (--entry.refs === 0) queueMicrotask(() => reapUnboundPool(pool));
}

/** Frees pool if nobody references it and it is idle; a busy one is looked at again when a worker goes idle. */
export function reapUnboundPool(pool: WorkerPool): void {
  const entry = unboundPools.get(pool.attrsKey);
  if (entry === undefined || entry.pool !== pool || entry.refs > 0) return;
  if (pool.worklist.length > 0 || pool.workers.size !== pool.nrIdle || pool.nrRunning > 0) {
    pool.unreferenced = true;
    return;
  }
  pool.unreferenced = false;
  unboundPools.delete(pool.attrsKey);
  loop.pools.splice(loop.pools.indexOf(pool), 1);
}

/** Every live pool of this thread, per-CPU first. */
export function allPools(): WorkerPool[] {
  return [...loop.pools].sort((a, b) => a.id - b.id);
}
