/**
 * CPU-intensive reports (the kernel's wq_cpu_intensive_report): a handler's synchronous segment ran longer than
 * cpuIntensiveThreshMs. It cannot be preempted on an event loop, so it is counted, published and, for a function
 * that keeps doing it, warned about with the kernel's advice.
 */
import { config } from '../base/init.js';
import { watchdogHooks } from './heartbeat.js';
import type { PoolWorkqueue } from './pool-workqueue.js';
import { chCpuIntensive, warn, workEvent } from './tracepoints.js';
import type { Work } from './work.js';

/**
 * The run of work on pwq that just returned was found CPU intensive: count it, publish it, and warn about its
 * function from the 4th time on with exponential back-off (4, 5, 7, 11, 19, ... times), as the kernel does.
 */
export function cpuHog(work: Work<any>, pwq: PoolWorkqueue): void {
  const info = work._fn;
  watchdogHooks.noteStalls();
  pwq.stats.cpuIntensive++;
  if (chCpuIntensive.hasSubscribers) chCpuIntensive.publish(workEvent(work, pwq, -1));
  if (!pwq.pool.concurrencyManaged) return;
  const count = ++info.hogs;
  const n = count + 1 - WARNING_THRESH;
  if (count >= WARNING_THRESH && (n & (n - 1)) === 0) {
    warn(
      `workqueue: ${info.name} hogged CPU for >${Math.round(config.cpuIntensiveThreshMs * 1000)}us ${count} times, consider switching to WQ_UNBOUND`,
    );
  }
}

const WARNING_THRESH = 4;
