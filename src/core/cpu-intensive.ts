/**
 * CPU-intensive reports (the kernel's wq_cpu_intensive_report): a handler's synchronous segment ran longer than
 * cpuIntensiveThreshMs. It cannot be preempted on an event loop, so it is counted, published and, for a function
 * that keeps doing it, warned about with the kernel's advice.
 */
import { config } from '../base/init.js';
import { watchdogHooks } from './heartbeat.js';
import type { PoolWorkqueue } from './pool-workqueue.js';
import { sharedByLocal } from './shared.js';
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
    const hogged = `workqueue: ${info.name} hogged CPU for >${Math.round(config.cpuIntensiveThreshMs * 1000)}us ${count} times`;
    const shared = sharedByLocal.get(pwq.wq);
    // A shared workqueue is unbound already: its node runs the items on this loop, where a long segment also
    // holds back the node's lease renewals, so the kernel's advice would be wrong there.
    warn(
      shared === undefined
        ? `${hogged}, consider switching to WQ_UNBOUND`
        : `${hogged} on shared workqueue ${shared.name}, which runs its items on this node's event loop: split ` +
            'the work, or move the heavy part to a worker thread (workOnWorkqueue() on a local WQ_UNBOUND ' +
            'workqueue), and keep leaseMs well above the longest synchronous segment',
    );
  }
}

const WARNING_THRESH = 4;
