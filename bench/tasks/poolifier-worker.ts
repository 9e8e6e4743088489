/** The poolifier thread worker: the benchmark tasks (peer-tasks.ts) as named task functions for pool.execute(data, name). */
import { ThreadWorker } from 'poolifier';
import { sleeper, spin, tiny } from './peer-tasks.js';

export default new ThreadWorker<number, unknown>({
  tiny: (n) => tiny(n!),
  spin: (ms) => spin(ms!),
  sleeper: (ms) => sleeper(ms!),
});
