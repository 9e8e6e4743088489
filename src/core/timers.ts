/**
 * The timer base of this thread, wired to the configured clock and to the queueing of expired delayed works.
 */
import { config } from '../base/init.js';
import { type DelayedWork, delayedWorkTimerFn } from './delayed-work.js';
import { TimerBase } from './timer-base.js';

export const timerBase = new TimerBase<DelayedWork<any>>(
  () => config.clock,
  (dwork) => delayedWorkTimerFn(dwork),
);
