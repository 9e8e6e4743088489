/**
 * The watchdog thread: watches one event loop from outside it, so that a loop stuck in a synchronous handler is
 * still seen (a blocked loop cannot watch itself).
 *
 * The watched loop writes a heartbeat into shared memory (watchdog.ts): an item sequence number that is odd
 * while a handler's synchronous segment runs, and which function, pool workqueue and worker run it. This thread
 * samples it every tick, as the kernel's scheduler tick samples the running worker:
 *
 * - CPU hogs: the same odd sequence seen for cpuIntensiveThreshMs marks that run as CPU intensive (HB_HOG); the
 *   loop counts it when the handler returns. Runs are timed from the first tick that saw them, so a report is
 *   never early; a run shorter than the threshold plus one tick may go unseen, as in the kernel.
 * - Lockups: no progress for watchdogThreshS while work is pending or a handler runs prints "BUG: workqueue
 *   lockup" straight to fd 2 (the loop, which normally relays a thread's stderr, may be the one that is stuck),
 *   followed by the last showAllWorkqueues() text the loop left in shared memory (stateSnapshot, said how old),
 *   and tells the loop, which publishes cmwq:workqueue_stall and prints the state again once it can.
 *
 * When the loop has been idle for a second the thread stops ticking and sets HB_ASLEEP; the loop wakes it with
 * a message the next time it has work.
 */
import { writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { HB_ASLEEP, HB_FUNC, HB_HOG, HB_PENDING, HB_PWQ, HB_SEQ, HB_STALLS, HB_WORKER } from '../core/heartbeat.js';
import type { WatchdogMessage, WatchdogReport } from './watchdog.js';

const hb = new Int32Array(workerData.heartbeat as SharedArrayBuffer);
const snapshot = workerData.stateSnapshot as SharedArrayBuffer;
const snapshotHeader = new Int32Array(snapshot, 0, 2);
const snapshotTime = new Float64Array(snapshot, 8, 1);
const snapshotText = new Uint8Array(snapshot, workerData.stateSnapshotTextOffset as number);
const decoder = new TextDecoder();
const port = parentPort!;
let hogMs: number = workerData.cpuIntensiveThreshMs;
let stallMs: number = workerData.watchdogThreshS * 1000;
let tickMs = tickFor(hogMs, stallMs);
const funcs = new Map<number, string>();
const workers = new Map<number, string>();
const pwqs = new Map<number, string>();

const IDLE_SLEEP_MS = 1000;

function tickFor(hog: number, stall: number): number {
  const candidates = [hog > 0 ? hog / 2 : Infinity, stall > 0 ? Math.min(stall / 4, 250) : Infinity];
  return Math.max(1, Math.min(...candidates));
}

let lastSeq = Atomics.load(hb, HB_SEQ);
let lastChange = performance.now();
let timer: NodeJS.Timeout | null = null;

function describeRunning(): string {
  const func = funcs.get(Atomics.load(hb, HB_FUNC)) ?? '?';
  const worker = workers.get(Atomics.load(hb, HB_WORKER)) ?? '?';
  const pwq = pwqs.get(Atomics.load(hb, HB_PWQ)) ?? '?';
  return `${worker}:${func} (workqueue ${pwq})`;
}

/**
 * The loop's last state report, read under its seqlock (a loop stuck in a handler is not writing; one that is
 * still running may be, and then a few tries suffice), with a line saying how old it is. Empty if none yet.
 */
function lastState(): string {
  for (let tries = 0; tries < 5; tries++) {
    const seq = Atomics.load(snapshotHeader, 0);
    if ((seq & 1) === 1) continue;
    const length = Atomics.load(snapshotHeader, 1);
    const text = decoder.decode(snapshotText.slice(0, length));
    const at = snapshotTime[0];
    if (Atomics.load(snapshotHeader, 0) !== seq || seq === 0) continue;
    return `  the loop's last state report, from ${((Date.now() - at) / 1000).toFixed(1)}s ago:\n${text}`;
  }
  return '';
}

function tick(): void {
  const now = performance.now();
  const seq = Atomics.load(hb, HB_SEQ);
  const runningHandler = (seq & 1) === 1;
  if (seq !== lastSeq) {
    lastSeq = seq;
    lastChange = now;
  } else if (runningHandler || Atomics.load(hb, HB_PENDING) === 1) {
    const stuck = now - lastChange;
    if (runningHandler && hogMs > 0 && stuck >= hogMs && Atomics.load(hb, HB_HOG) !== seq)
      Atomics.store(hb, HB_HOG, seq);
    if (stallMs > 0 && stuck >= stallMs) {
      const secs = Math.round(stuck / 1000);
      const inFlight = runningHandler ? describeRunning() : null;
      const text =
        `BUG: workqueue lockup - pool cpus=0 stuck for ${secs}s!\n` +
        (inFlight !== null
          ? `  in-flight: ${inFlight}\n`
          : '  no handler running: the event loop itself is blocked\n') +
        lastState();
      try {
        writeSync(2, text);
      } catch {
        // stderr closed: the report still reaches the loop below.
      }
      const report: WatchdogReport = { type: 'stall', stuckS: secs, inFlight };
      Atomics.add(hb, HB_STALLS, 1);
      port.postMessage(report);
      lastChange = now;
    }
  } else if (now - lastChange >= IDLE_SLEEP_MS) {
    Atomics.store(hb, HB_ASLEEP, 1);
    timer = null;
    return;
  }
  timer = setTimeout(tick, tickMs);
}

port.on('message', (message: WatchdogMessage) => {
  switch (message.type) {
    case 'names':
      for (const [id, name] of message.funcs) funcs.set(id, name);
      for (const [id, name] of message.workers) workers.set(id, name);
      for (const [id, name] of message.pwqs) pwqs.set(id, name);
      for (const id of message.forget) pwqs.delete(id);
      break;
    case 'config':
      hogMs = message.cpuIntensiveThreshMs;
      stallMs = message.watchdogThreshS * 1000;
      tickMs = tickFor(hogMs, stallMs);
      break;
    case 'wake':
      break;
  }
  if (timer === null && Atomics.load(hb, HB_ASLEEP) === 0) {
    lastSeq = Atomics.load(hb, HB_SEQ);
    lastChange = performance.now();
    timer = setTimeout(tick, tickMs);
  }
});

timer = setTimeout(tick, tickMs);
