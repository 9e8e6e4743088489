/**
 * The threads layer's entry: installs its executors (thread pools) and rescuers into the core's executor seam
 * (core/executor.ts). Imported once, by the public entry; the core never imports the threads layer.
 */
import { executors } from '../core/executor.js';
import { Rescuer } from './rescuer.js';
import { ThreadPool } from './thread-pool.js';

executors.factory = {
  executor: (options) => new ThreadPool(options),
  rescuer: (workqueueName) => new Rescuer(workqueueName),
};
