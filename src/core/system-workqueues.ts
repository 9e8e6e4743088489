/**
 * The system workqueues, as the kernel's (names and flags from kernel/workqueue.c). They are cheap objects;
 * their pools and workers are made when work is first queued on them. They cannot be destroyed.
 */
import {
  WQ_BH,
  WQ_FREEZABLE,
  WQ_HIGHPRI,
  WQ_POWER_EFFICIENT,
  WQ_UNBOUND,
  WQ_UNBOUND_MAX_ACTIVE,
} from '../base/constants.js';
import { allocWorkqueueInternal } from './alloc.js';

/**
 * The default system workqueue, `events` (the kernel's system_wq): per-CPU, max_active {@link WQ_DFL_ACTIVE}.
 * {@link scheduleWork}, {@link scheduleDelayedWork} and {@link workOnCpu} use it. For short items; long or
 * CPU-heavy ones belong on {@link systemLongWq} or {@link systemUnboundWq}. The system workqueues are made when
 * cmwq loads (their pools and workers when first used) and cannot be destroyed.
 */
export const systemWq = allocWorkqueueInternal('events', 0, 0, undefined, true);
/** `events_highpri` (the kernel's system_highpri_wq): per-CPU, on the high-priority pools ({@link WQ_HIGHPRI}). */
export const systemHighpriWq = allocWorkqueueInternal('events_highpri', WQ_HIGHPRI, 0, undefined, true);
/**
 * `events_long` (the kernel's system_long_wq): per-CPU like `events`, with its own max_active; for items that may
 * take long, so that they do not use up `events`' limit.
 */
export const systemLongWq = allocWorkqueueInternal('events_long', 0, 0, undefined, true);
/**
 * `events_unbound` (the kernel's system_unbound_wq): {@link WQ_UNBOUND}, max_active {@link WQ_UNBOUND_MAX_ACTIVE}
 * for the whole process; its module works run on the default unbound pool's threads.
 */
export const systemUnboundWq = allocWorkqueueInternal(
  'events_unbound',
  WQ_UNBOUND,
  WQ_UNBOUND_MAX_ACTIVE,
  undefined,
  true,
);
/** `events_freezable` (the kernel's system_freezable_wq): per-CPU and {@link WQ_FREEZABLE}. */
export const systemFreezableWq = allocWorkqueueInternal('events_freezable', WQ_FREEZABLE, 0, undefined, true);
/** `events_power_efficient` (the kernel's system_power_efficient_wq): per-CPU, {@link WQ_POWER_EFFICIENT}. */
export const systemPowerEfficientWq = allocWorkqueueInternal(
  'events_power_efficient',
  WQ_POWER_EFFICIENT,
  0,
  undefined,
  true,
);
/**
 * `events_freezable_pwr_efficient` (the kernel's system_freezable_power_efficient_wq): per-CPU,
 * {@link WQ_FREEZABLE} and {@link WQ_POWER_EFFICIENT}.
 */
export const systemFreezablePowerEfficientWq = allocWorkqueueInternal(
  'events_freezable_pwr_efficient',
  WQ_FREEZABLE | WQ_POWER_EFFICIENT,
  0,
  undefined,
  true,
);
/**
 * `events_bh` (the kernel's system_bh_wq): {@link WQ_BH}; synchronous handlers only, served before every other
 * pool of the CPU.
 */
export const systemBhWq = allocWorkqueueInternal('events_bh', WQ_BH, 0, undefined, true);
/** `events_bh_highpri` (the kernel's system_bh_highpri_wq): {@link WQ_BH} and {@link WQ_HIGHPRI}; served first. */
export const systemBhHighpriWq = allocWorkqueueInternal('events_bh_highpri', WQ_BH | WQ_HIGHPRI, 0, undefined, true);
