/**
 * The hand-written worker thread of the signalling micro-benchmark (signalling.ts), also the "raw postMessage"
 * reference of threads.ts. The item is a number; "running" it is computing n + 1, sent back as its completion.
 *
 * workerData.mode picks how items arrive and completions leave:
 * - 'message': postMessage. A number is one item, answered with one message (n + 1); an array of numbers is a
 *   batch, answered with one message holding the array of completions.
 * - 'ring-wait' / 'ring-poll': a SharedArrayBuffer ring (layout in ring.ts). The parent writes items into the
 *   submission ring and publishes its tail with Atomics.store + Atomics.notify; this thread writes n + 1 into the
 *   completion ring, publishes its tail the same way. When the submission ring is empty, 'ring-wait' at once waits
 *   with Atomics.waitAsync (so its event loop stays free); 'ring-poll' first keeps polling the ring for
 *   workerData.pollUs microseconds (no event-loop turn between items while work keeps coming), then waits the same
 *   way.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { RingLayout, type SignalWorkerData, waitAsync } from './ring.js';

const data = workerData as SignalWorkerData;
const port = parentPort!;

if (data.mode === 'message') {
  port.on('message', (m: number | number[]) => {
    if (typeof m === 'number') {
      port.postMessage(m + 1);
    } else {
      const out = new Array<number>(m.length);
      for (let i = 0; i < m.length; i++) out[i] = m[i] + 1;
      port.postMessage(out);
    }
  });
} else {
  // A pending Atomics.waitAsync holds no libuv handle: without a listener on the (ref'd) port, this thread's event
  // loop would find nothing to wait for and the thread would exit at its first wait.
  port.on('message', () => {});
  void ringLoop(data);
}

async function ringLoop(d: SignalWorkerData): Promise<void> {
  const { SUB_TAIL, COMP_TAIL, STOP, CTRL_WORDS } = RingLayout;
  const size = d.size!;
  const mask = size - 1;
  const ctrl = new Int32Array(d.sab!, 0, CTRL_WORDS);
  const sub = new Int32Array(d.sab!, CTRL_WORDS * 4, size);
  const comp = new Int32Array(d.sab!, (CTRL_WORDS + size) * 4, size);
  const pollMs = d.mode === 'ring-poll' ? (d.pollUs ?? 0) / 1000 : 0;
  let head = 0; // items taken from the submission ring
  let ctail = 0; // completions written
  for (;;) {
    let tail = Atomics.load(ctrl, SUB_TAIL);
    if (tail === head && pollMs > 0) {
      const until = performance.now() + pollMs;
      while ((tail = Atomics.load(ctrl, SUB_TAIL)) === head && performance.now() < until);
    }
    if (tail === head) {
      if (Atomics.load(ctrl, STOP) !== 0) break;
      const r = waitAsync(ctrl, SUB_TAIL, head);
      if (r.async) await r.value;
      if (Atomics.load(ctrl, STOP) !== 0) break;
      continue;
    }
    // The parent never has more than `size` items outstanding, so the completion ring cannot overflow.
    while (head !== tail) {
      comp[ctail & mask] = sub[head & mask] + 1;
      head = (head + 1) | 0;
      ctail = (ctail + 1) | 0;
    }
    Atomics.store(ctrl, COMP_TAIL, ctail);
    Atomics.notify(ctrl, COMP_TAIL);
  }
  port.close();
}
