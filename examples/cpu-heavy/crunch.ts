/**
 * The CPU-heavy part of the cpu-heavy example, in a module of its own so that any thread can load it: a work
 * function named with workFunc(new URL('./crunch.js', import.meta.url), 'crunch') runs on the unbound pool's
 * worker threads, where a plain function could only run on the thread that made it.
 *
 * Nothing here knows about threads. A module work's handler gets a Work-like object whose `data` is a
 * structured clone of what the main thread queued; its return value is ignored.
 */
import { performance } from 'node:perf_hooks';
import type { Work } from 'cmwq';

/** What the main thread queues: which job this is, and how much computation it asks for. */
export interface CrunchJob {
  id: number;
  slices: number;
  sliceMs: number;
}

/** Pure computation for about `msec` milliseconds (a stand-in for hashing, compression, image work, ...). */
function crunchFor(msec: number, seed: number): number {
  const end = performance.now() + msec;
  let x = seed;
  while (performance.now() < end) {
    for (let i = 0; i < 10_000; i++) x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
  }
  return x;
}

/**
 * One job: `slices` slices of `sliceMs` ms each, back to back, without ever yielding. On the main thread this
 * would freeze every timer and socket for the whole job; on a worker thread it only keeps that thread busy.
 */
export function crunch(work: Work<CrunchJob>): void {
  const { id, slices, sliceMs } = work.data;
  let x = id;
  for (let s = 0; s < slices; s++) x = crunchFor(sliceMs, x);
}

/** A checksum (Adler-32) of some bytes, for workOnCpu(): unlike a work's, its return value comes back. */
export function checksum(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (const byte of bytes) {
    a = (a + byte) % 65_521;
    b = (b + a) % 65_521;
  }
  return ((b << 16) | a) >>> 0;
}
