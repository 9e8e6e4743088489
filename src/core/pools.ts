/**
 * The pools of this thread: each CPU's standard pools, made on first use, and the unbound pools, shared by
 * every unbound workqueue with equal attributes (the kernel's unbound_pool_hash) and freed with their last user.
 *
 * All of them are served by this thread's run loop. The pools of another CPU, and the unbound pools of the
 * thread that owns the threads, have an executor behind them (executor.ts; threads/ provides it): their module works run there,
 * the rest (function works, which cannot cross) here.
 */
import { availableParallelism } from 'node:os';
import { Cpu } from './cpu.js';
import { config, localCpu, ownsThreads } from '../base/init.js';
import { type Executor, executors } from './executor.js';
import type { WorkqueueAttrs } from './workqueue.js';
import { WorkerPool } from './worker-pool.js';

/** An unbound pool's default thread limit: a small multiple of the cores. */
export const DEFAULT_MAX_WORKERS = Math.max(4, 2 * availableParallelism());
/** How long an unbound pool's idle thread lives by default. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

const loop = new Cpu(localCpu);
/** Per-CPU pools, by [cpu][bh * 2 + highpri]. */
const cpuPools: (WorkerPool | undefined)[][] = [];
/** The thread behind each other CPU's pools. */
const cpuThreads: (Executor | undefined)[] = [];
const unboundPools = new Map<string, { pool: WorkerPool; refs: number }>();
const clock = () => config.clock;

export function cpuPool(cpu: number, highpri: boolean, bh: boolean): WorkerPool {
  const index = (bh ? 2 : 0) + (highpri ? 1 : 0);
  const pools = (cpuPools[cpu] ??= []);
  let pool = pools[index];
  if (pool === undefined) {
    pool = pools[index] = new WorkerPool({ cpu, highpri, bh }, loop, '', clock);
    const factory = executors.factory;
    if (cpu !== localCpu && factory !== null) {
      const threads = (cpuThreads[cpu] ??= factory.executor({
        role: { kind: 'cpu', cpu, namePrefix: `kworker/${cpu}:` },
        maxWorkers: 1,
        idleTimeoutMs: Infinity,
      }));
      pool.threads = threads;
      threads.clients.push(pool);
    }
    loop.addPool(pool);
  }
  return pool;
}

/** Takes a reference on the unbound pool for key (made if needed). */
export function getUnboundPool(key: string, highpri: boolean, attrs: WorkqueueAttrs): WorkerPool {
  let entry = unboundPools.get(key);
  if (entry === undefined) {
    const pool = new WorkerPool({ cpu: -1, highpri, bh: false }, loop, key, clock);
    const factory = executors.factory;
    if (ownsThreads && factory !== null) {
      pool.threads = factory.executor({
        role: { kind: 'unbound', cpu: localCpu, namePrefix: `kworker/u${pool.id}:` },
        maxWorkers: attrs.maxWorkers ?? DEFAULT_MAX_WORKERS,
        idleTimeoutMs: attrs.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
        resourceLimits: attrs.resourceLimits,
      });
      pool.threads.clients.push(pool);
    }
    entry = { pool, refs: 0 };
    unboundPools.set(key, entry);
    loop.addPool(entry.pool);
  }
  entry.refs++;
  return entry.pool;
}

/**
 * Drops a reference on an unbound pool; the last one frees it as soon as it has nothing left to run. Resolves
 * once the pool's threads have exited, if this freed it.
 */
export function putUnboundPool(pool: WorkerPool): Promise<void> {
  const entry = unboundPools.get(pool.attrsKey);
  if (entry === undefined || entry.pool !== pool || --entry.refs > 0) return Promise.resolve();
  // Not now: the caller may be a handler running on this very pool, in the middle of the run loop.
  return Promise.resolve().then(() => reapUnboundPool(pool));
}

/**
 * Frees pool if nobody references it and it is idle; a busy one is looked at again when a worker goes idle.
 * Resolves once its threads have exited.
 */
export function reapUnboundPool(pool: WorkerPool): Promise<void> {
  const entry = unboundPools.get(pool.attrsKey);
  if (entry === undefined || entry.pool !== pool || entry.refs > 0) return Promise.resolve();
  if (pool.worklist.length > 0 || pool.workers.size !== pool.nrIdle || pool.nrRunning > 0) {
    pool.reap = () => void reapUnboundPool(pool);
    return Promise.resolve();
  }
  pool.reap = null;
  unboundPools.delete(pool.attrsKey);
  loop.pools.splice(loop.pools.indexOf(pool), 1);
  return pool.threads?.free() ?? Promise.resolve();
}

/** Every live pool of this thread, per-CPU first. */
export function allPools(): WorkerPool[] {
  return [...loop.pools].sort((a, b) => a.id - b.id);
}
