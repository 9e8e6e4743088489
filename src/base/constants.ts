/**
 * Public constants, with the kernel's values (include/linux/workqueue.h, 6.12).
 */

/** Workqueue flags, as passed to allocWorkqueue(). */
export const WQ_BH = 1 << 0;
export const WQ_UNBOUND = 1 << 1;
export const WQ_FREEZABLE = 1 << 2;
export const WQ_MEM_RECLAIM = 1 << 3;
export const WQ_HIGHPRI = 1 << 4;
export const WQ_CPU_INTENSIVE = 1 << 5;
export const WQ_SYSFS = 1 << 6;
export const WQ_POWER_EFFICIENT = 1 << 7;

/** Every flag a caller may pass. */
export const WQ_USER_FLAGS =
  WQ_BH | WQ_UNBOUND | WQ_FREEZABLE | WQ_MEM_RECLAIM | WQ_HIGHPRI | WQ_CPU_INTENSIVE | WQ_SYSFS | WQ_POWER_EFFICIENT;

/** Flags a WQ_BH workqueue may carry besides WQ_BH itself (the kernel's __WQ_BH_ALLOWS). */
export const WQ_BH_ALLOWS = WQ_BH | WQ_HIGHPRI;

/** Internal: set on workqueues made by allocOrderedWorkqueue() (the kernel's __WQ_ORDERED). */
export const __WQ_ORDERED = 1 << 17;

export const WQ_MAX_ACTIVE = 512;
export const WQ_UNBOUND_MAX_ACTIVE = WQ_MAX_ACTIVE;
export const WQ_DFL_ACTIVE = WQ_MAX_ACTIVE / 2;
export const WQ_DFL_MIN_ACTIVE = 8;

/** workBusy() bits. */
export const WORK_BUSY_PENDING = 1 << 0;
export const WORK_BUSY_RUNNING = 1 << 1;

/** "No particular CPU": queue on the caller's own CPU (the kernel's WORK_CPU_UNBOUND). */
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
