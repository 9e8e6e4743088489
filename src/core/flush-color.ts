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
 * An item keeps its color in six bits of its flags (work.ts), not a field of its own: takeColor() gives the id's
 * low bits, and since at most MAX_COLORS colors are alive, consecutive ids, those bits name one of them. A flush
 * that finds MAX_COLORS colors alive (63 flushes still waiting on one workqueue) cannot open another: it waits on
 * the newest color, which stays open until an older color retires and makes room, and is closed then (the
 * kernel's flusher overflow, with 64 colors where the kernel has 16). Such a flush may wait for items queued
 * after it, up to that moment; it is still released, since the color it waits on is closed once there is room.
 *
 * Who may change what: queue.ts takes a color for each queueing; the end of a run (pool-workqueue.ts decActive)
 * and a cancel (grab-pending.ts) put it back. Nothing else touches wq.colors.
 */
import type { Workqueue } from './workqueue.js';

/** The most colors a workqueue keeps alive: 2^6, what an item's six color bits can tell apart. */
export const MAX_COLORS = 64;
const COLOR_BITS_MASK = MAX_COLORS - 1;

/** One flush color of a workqueue. */
export class FlushColor {
  /** Instances counted in this color that have not ended. */
  count = 0;
  /**
   * Flushers released when this color and every older one have drained. On the newest (open) color: flushes that
   * found no room for a color of their own, waiting for it to be closed.
   */
  readonly waiters: (() => void)[] = [];
}

/**
 * Counts a new instance in wq's newest color and returns the color's id, low six bits only (what an item keeps in
 * its flags). Items hold color ids (small integers), not color objects: a million long-lived items pointing at a
 * young object would make every scavenge walk them.
 */
export function takeColor(wq: Workqueue): number {
  const colors = wq.colors;
  colors[colors.length - 1].count++;
  return (wq.colorBase + colors.length - 1) & COLOR_BITS_MASK;
}

/** An instance counted in the color takeColor() named by color ended or was cancelled. */
export function putColor(wq: Workqueue, color: number): void {
  // The live ids are colorBase .. colorBase + colors.length - 1, fewer than 2^6: the low bits name one of them.
  if (--wq.colors[(color - wq.colorBase) & COLOR_BITS_MASK].count === 0) flushColorDone(wq);
}

/**
 * A color's count reached 0: release every flush whose colors have all drained, oldest first; then, if flushes
 * wait on the open newest color for want of room, close it for them now that there is room.
 */
function flushColorDone(wq: Workqueue): void {
  const colors = wq.colors;
  for (;;) {
    while (colors.length > 1 && colors[0].count === 0) {
      const done = colors.shift()!;
      wq.colorBase++;
      for (const resolve of done.waiters) resolve();
    }
    if (colors[colors.length - 1].waiters.length === 0 || colors.length === MAX_COLORS) return;
    colors.push(new FlushColor());
  }
}

/** Whether any instance queued on wq is pending (queued, not armed) or running. */
export function workqueueBusy(wq: Workqueue): boolean {
  return wq.colors.length > 1 || wq.colors[0].count !== 0;
}

/** Starts a flush of wq: a promise for the end of every instance queued so far. */
export function startFlushWorkqueue(wq: Workqueue): Promise<void> {
  if (!workqueueBusy(wq)) return Promise.resolve();
  const colors = wq.colors;
  const closed = colors[colors.length - 1];
  const promise = new Promise<void>((resolve) => closed.waiters.push(resolve));
  // No room for another color: wait on the open one, which flushColorDone() closes once an older one retires.
  if (colors.length === MAX_COLORS) return promise;
  colors.push(new FlushColor());
  if (closed.count === 0) flushColorDone(wq);
  return promise;
}
