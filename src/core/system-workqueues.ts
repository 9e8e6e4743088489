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

export const systemWq = allocWorkqueueInternal('events', 0, 0, undefined, true);
export const systemHighpriWq = allocWorkqueueInternal('events_highpri', WQ_HIGHPRI, 0, undefined, true);
export const systemLongWq = allocWorkqueueInternal('events_long', 0, 0, undefined, true);
export const systemUnboundWq = allocWorkqueueInternal(
  'events_unbound',
  WQ_UNBOUND,
  WQ_UNBOUND_MAX_ACTIVE,
  undefined,
  true,
);
export const systemFreezableWq = allocWorkqueueInternal('events_freezable', WQ_FREEZABLE, 0, undefined, true);
export const systemPowerEfficientWq = allocWorkqueueInternal(
  'events_power_efficient',
  WQ_POWER_EFFICIENT,
  0,
  undefined,
  true,
);
export const systemFreezablePowerEfficientWq = allocWorkqueueInternal(
  'events_freezable_pwr_efficient',
  WQ_FREEZABLE | WQ_POWER_EFFICIENT,
  0,
  undefined,
  true,
);
export const systemBhWq = allocWorkqueueInternal('events_bh', WQ_BH, 0, undefined, true);
export const systemBhHighpriWq = allocWorkqueueInternal('events_bh_highpri', WQ_BH | WQ_HIGHPRI, 0, undefined, true);
