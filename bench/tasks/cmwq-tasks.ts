/**
 * The benchmark tasks as cmwq module works: named with workFunc(new URL('./tasks/cmwq-tasks.js', import.meta.url),
 * '<export>') and run on an unbound pool's threads. Each receives its Work; `work.data` is the structured-cloned
 * payload. Return values are ignored by cmwq (completion is observed with flushWork / flushWorkqueue).
 */
import { performance } from 'node:perf_hooks';
import type { Work } from '../../src/index.js';

export function tiny(work: Work<number>): number {
  return work.data + 1;
}

export function spin(work: Work<number>): void {
  const end = performance.now() + work.data;
  while (performance.now() < end);
}

export async function sleeper(work: Work<number>): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, work.data));
}
