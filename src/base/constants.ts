/**
 * Public constants, with the kernel's values (include/linux/workqueue.h, 6.12).
 */

/**
 * Workqueue flag: a bottom-half workqueue. Its items run on the CPU's BH pool (worker `ksoftirqd/<cpu>`), which
 * the loop serves before every other pool. Handlers must be synchronous: one that returns a promise fails that
 * item with `ERR_WQ_BH_ASYNC`. Only {@link WQ_HIGHPRI} may be combined with it, and `maxActive` must be 0.
 *
 * Workqueue flags are bits for the `flags` argument of {@link allocWorkqueue} and {@link allocOrderedWorkqueue};
 * combine them with `|`. They have the kernel's values.
 */
export const WQ_BH = 1 << 0;
/**
 * Workqueue flag: not tied to a CPU. The workqueue uses an unbound pool, shared by every unbound workqueue with
 * equal pool attributes ({@link WorkqueueAttrs}); its `maxActive` counts items in flight in the whole process,
 * not per CPU. Module works ({@link workFunc}) run on the pool's worker threads; function works run on the thread
 * that queued them, with the workqueue's limits and order kept.
 */
export const WQ_UNBOUND = 1 << 1;
/**
 * Workqueue flag: takes part in freezing. Between {@link freezeWorkqueuesBegin} and {@link thawWorkqueues} the
 * workqueue activates nothing new: items queued meanwhile wait inactive (none is dropped).
 */
export const WQ_FREEZABLE = 1 << 2;
/**
 * Workqueue flag: guaranteed forward progress. The workqueue owns a rescuer thread (`kworker/R-<name>`) from
 * allocation on; when its pool cannot get a thread for its module works within 10 ms (a thread failed to start,
 * or every thread is busy at the pool's limit), the rescuer runs them. `mayday` and `rescued` in
 * {@link wqMonitor} count it.
 */
export const WQ_MEM_RECLAIM = 1 << 3;
/**
 * Workqueue flag: uses the high-priority pools, which the loop serves before the normal ones (worker names end
 * in `H`, e.g. `kworker/0:1H`).
 */
export const WQ_HIGHPRI = 1 << 4;
/**
 * Workqueue flag, accepted for the kernel's API. A synchronous segment cannot be preempted on an event loop, so it
 * changes no scheduling; long segments are detected and counted whatever the flags (`cpuIntensive` in
 * {@link wqMonitor}). Move CPU-heavy work to a {@link WQ_UNBOUND} workqueue instead.
 */
export const WQ_CPU_INTENSIVE = 1 << 5;
/** Workqueue flag, accepted for the kernel's API; it changes nothing (there is no sysfs). */
export const WQ_SYSFS = 1 << 6;
/** Workqueue flag, accepted for the kernel's API; it changes nothing (there is no power-saving scheduler). */
export const WQ_POWER_EFFICIENT = 1 << 7;

/** Every flag a caller may pass. */
export const WQ_USER_FLAGS =
  WQ_BH | WQ_UNBOUND | WQ_FREEZABLE | WQ_MEM_RECLAIM | WQ_HIGHPRI | WQ_CPU_INTENSIVE | WQ_SYSFS | WQ_POWER_EFFICIENT;

/** Flags a WQ_BH workqueue may carry besides WQ_BH itself (the kernel's __WQ_BH_ALLOWS). */
export const WQ_BH_ALLOWS = WQ_BH | WQ_HIGHPRI;

/** Internal: set on workqueues made by allocOrderedWorkqueue() (the kernel's __WQ_ORDERED). */
export const __WQ_ORDERED = 1 << 17;

/**
 * The highest `maxActive` a workqueue may have (512). A larger value passed to {@link allocWorkqueue} or
 * {@link workqueueSetMaxActive} is clamped to it with a `CmwqWarning`.
 */
export const WQ_MAX_ACTIVE = 512;
/** The highest `maxActive` of an unbound workqueue: the same as {@link WQ_MAX_ACTIVE} (512). */
export const WQ_UNBOUND_MAX_ACTIVE = WQ_MAX_ACTIVE;
/** What `maxActive` 0 means: the default limit of items in flight, 256. */
export const WQ_DFL_ACTIVE = WQ_MAX_ACTIVE / 2;
/**
 * The kernel's default `min_active` of an unbound workqueue (8), exported for the kernel's API. With one event loop
 * per process there is a single node, so cmwq records `minActive` ({@link workqueueSetMinActive}) and reports it,
 * and nothing is scheduled by it.
 */
export const WQ_DFL_MIN_ACTIVE = 8;

/** {@link workBusy} bit: the work is pending (queued, inactive, or armed on its timer). */
export const WORK_BUSY_PENDING = 1 << 0;
/** {@link workBusy} bit: the work's handler is executing (running or asleep on a promise), on any thread. */
export const WORK_BUSY_RUNNING = 1 << 1;

/**
 * The `cpu` argument meaning "no particular CPU" (-1): {@link queueWorkOn} and the other `...On` calls then queue on
 * the caller's own CPU, as {@link queueWork} does.
 */
export const WORK_CPU_UNBOUND = -1;

/** How deep disableWork() nests (the kernel's WORK_OFFQ_DISABLE_MAX). */
export const WORK_OFFQ_DISABLE_MAX = (1 << 16) - 1;

/** A pool keeps idle workers this long before culling the surplus (the kernel's IDLE_WORKER_TIMEOUT, 300 s). */
export const IDLE_WORKER_TIMEOUT_MS = 300_000;
/** Idle workers kept per busy worker before culling starts (the kernel's MAX_IDLE_WORKERS_RATIO). */
export const MAX_IDLE_WORKERS_RATIO = 4;
/** A rescuer is summoned when a pool cannot start a worker within this long (the kernel's MAYDAY_INITIAL_TIMEOUT). */
export const MAYDAY_INITIAL_TIMEOUT_MS = 10;
/**
 * destroyWorkqueue() fires a delayed work armed on the workqueue at most this many times; one that re-arms itself
 * more often (a periodic work never cancelled) is then cancelled with a warning, so that the destroy ends. Ten is
 * where the kernel's drain_workqueue() first warns that it "isn't complete after 10 tries".
 */
export const DESTROY_MAX_FIRES = 10;
