/**
 * Flush colors: how flushWorkqueue() knows when everything queued before it has ended (the kernel's work colors
 * and flushers, without their 4-bit limit).
 *
 * Each workqueue has a FIFO of colors (wq.colors, ids counting up from wq.colorBase). Every queued instance is
 * counted in the newest color from queueing until its handler ends or it is cancelled (takeColor / putColor); a
 * flush closes the newest color and opens a fresh one, and is released when every color up to its own has drained.
 * Colors are released strictly in order, so overlapping flushes resolve in the order they were made, and items
 * queued after a flush (a self-requeuing item included) count in a later color and never hold it up.
 *
 * Who may change what: queue.ts takes a color for each queueing; the end of a run (pool-workqueue.ts decActive)
 * and a cancel (grab-pending.ts) put it back. Nothing else touches wq.colors.
 */
import type { Workqueue } from './workqueue.js';

/** One flush color of a workqueue. */
export class FlushColor {
  /** Instances counted in this color that have not ended. */
  count = 0;
  /** Flushers released when this color and every older one have drained. */
  readonly waiters: (() => void)[] = [];
}

/**
 * Counts a new instance in wq's newest color and returns the color's id. Items hold color ids (small integers),
 * not color objects: a million long-lived items pointing at a young object would make every scavenge walk them.
 */
export function takeColor(wq: Workqueue): number {
  const colors = wq.colors;
  colors[colors.length - 1].count++;
  return wq.colorBase + colors.length - 1;
}

/** An instance counted in color id ended or was cancelled. */
export function putColor(wq: Workqueue, id: number): void {
  if (--wq.colors[id - wq.colorBase].count === 0) flushColorDone(wq);
}

/** A color's count reached 0: release every flush whose colors have all drained, oldest first. */
function flushColorDone(wq: Workqueue): void {
  const colors = wq.colors;
  while (colors.length > 1 && colors[0].count === 0) {
    const done = colors.shift()!;
    wq.colorBase++;
    for (const resolve of done.waiters) resolve();
  }
}

/** Whether any instance queued on wq is pending (queued, not armed) or running. */
export function workqueueBusy(wq: Workqueue): boolean {
  return wq.colors.length > 1 || wq.colors[0].count !== 0;
}

/** Starts a flush of wq: a promise for the end of every instance queued so far. */
export function startFlushWorkqueue(wq: Workqueue): Promise<void> {
  if (!workqueueBusy(wq)) return Promise.resolve();
  const closed = wq.colors[wq.colors.length - 1];
  wq.colors.push(new FlushColor());
  const promise = new Promise<void>((resolve) => closed.waiters.push(resolve));
  if (closed.count === 0) flushColorDone(wq);
  return promise;
}
