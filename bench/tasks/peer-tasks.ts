/**
 * The benchmark tasks as plain functions of their payload, for the worker-thread pools that call an export with
 * the task's data: piscina and tinypool load this module directly (the export is picked with `{ name }`), and the
 * workerpool and poolifier workers register these same functions.
 *
 * - tiny(n): the near-empty task of the throughput and round-trip runs (returns n + 1);
 * - spin(ms): a synchronous CPU hog, busy on performance.now() for `ms` milliseconds;
 * - sleeper(ms): awaits a setTimeout of `ms` milliseconds, then returns.
 */
import { performance } from 'node:perf_hooks';

export function tiny(n: number): number {
  return n + 1;
}

export function spin(ms: number): number {
  const end = performance.now() + ms;
  let turns = 0;
  while (performance.now() < end) turns++;
  return turns;
}

export function sleeper(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export default tiny;
