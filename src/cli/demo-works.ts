/**
 * The module works of `cmwq demo`: the handler of the dedicated workqueue's items, in a module of its own so that
 * it can run on a worker thread (a module work names its function by module and export; a closure cannot cross
 * threads). It ships compiled next to demo.ts (dist/src/cli/demo-works.js), so the demo finds it from a clone and
 * from the installed package alike.
 *
 * How its lines reach the demo: a thread cannot call the demo's printer, so the handler posts each line, with
 * its thread id and the time it happened (epoch ms, comparable across threads), on a BroadcastChannel whose name
 * the item carries in its data. The main thread stamps and prints it. One channel per demo run: two demos in one
 * process never mix lines. A channel is opened per item and closed when it ends, so nothing here keeps a thread
 * alive; a message posted before the close is still delivered.
 *
 * Nothing here imports cmwq at run time: the thread has already loaded it, and this file only needs its types.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { BroadcastChannel, threadId } from 'node:worker_threads';
import type { Work } from '../index.js';

/** The payload of one dedicated item (the container pattern: the item's own fields, cloned to its thread). */
export interface DedicatedTask {
  /** The item's number, 0..n-1 in queueing order. */
  id: number;
  /** What it "processes". */
  task: string;
  /** How long it sleeps (awaits) while processing, in ms. */
  sleepMs: number;
  /** The name of the BroadcastChannel its lines go to. */
  channel: string;
}

/** A line a dedicated item posts on its channel. */
export interface DemoLine {
  /** The item's number ({@link DedicatedTask.id}). */
  id: number;
  /** The worker_threads threadId of the thread that ran it. */
  threadId: number;
  /** When it happened: epoch ms with sub-ms precision (performance.timeOrigin + performance.now()). */
  at: number;
  /** The text, without the function's name. */
  text: string;
  /** True on the item's last line. */
  last: boolean;
}

/**
 * The dedicated workqueue's handler: "processes" its task by sleeping a little (process context may sleep: here,
 * await), announcing the start and the end of it on the item's channel.
 * @param work the item; `work.data` is its {@link DedicatedTask}.
 * @returns a promise that settles when the item is done.
 */
export async function dedicatedWorkFn(work: Work<DedicatedTask>): Promise<void> {
  const { id, task, sleepMs, channel } = work.data;
  const out = new BroadcastChannel(channel);
  const say = (text: string, last: boolean) => {
    const line: DemoLine = { id, threadId, at: performance.timeOrigin + performance.now(), text, last };
    out.postMessage(line);
  };
  try {
    say(`Dedicated work [${id}]: processing ${task}`, false);
    await sleep(sleepMs);
    say(`Dedicated work [${id}]: done`, true);
  } finally {
    out.close();
  }
}
