/** The workerpool worker script: registers the benchmark tasks (peer-tasks.ts) under their names for pool.exec(). */
import workerpool from 'workerpool';
import { sleeper, spin, tiny } from './peer-tasks.js';

workerpool.worker({ tiny, spin, sleeper });
