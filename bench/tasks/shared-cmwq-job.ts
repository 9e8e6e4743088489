/**
 * The module work of cmwq's contender in the shared-workqueue benchmark: `workFunc(<this module>, 'benchJob')`.
 * A shared workqueue's node imports this module in its own process to run the items it claims, so the same
 * module instance that shared-cmwq.ts configured with setBenchJob() counts the run (a node that ran it on another
 * thread would count nothing, and the benchmark would stall and say so).
 */
import type { Work } from '../../src/index.js';
import type { JobData } from './shared-protocol.js';

let onRun: (job: JobData) => void = () => {
  throw new Error('shared-cmwq-job: setBenchJob() was not called in this process');
};
let handlerMs = 0;

/** Sets what each run reports to and how long it sleeps (the worker process calls it before claiming). */
export function setBenchJob(report: (job: JobData) => void, ms: number): void {
  onRun = report;
  handlerMs = ms;
}

/** The handler: reports its start, then sleeps `handlerMs` when asked to. */
export async function benchJob(work: Work<JobData>): Promise<void> {
  onRun(work.data);
  if (handlerMs > 0) await new Promise((resolve) => setTimeout(resolve, handlerMs));
}
