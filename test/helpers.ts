/**
 * Helpers shared by the test files: event-loop turns, deferreds, promise tracking, error codes, a seeded RNG,
 * CPU spinning, the ManualClock set-up, gated works, and running node in a child process (to its end, or until
 * it prints the address of the server it started).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import {
  ManualClock,
  Work,
  WorkqueueError,
  queueWork,
  workqueueInit,
  type Workqueue,
  type WorkqueueInitOptions,
} from '../src/index.js';

/** Resolves after one turn of the event loop (one setImmediate). */
export const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Lets the event loop turn `turns` times (10 by default), so that queued work gets to run. */
export async function settle(turns = 10): Promise<void> {
  for (let i = 0; i < turns; i++) await turn();
}

/** A promise with its resolve function, for gating handlers from the test. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** What gatedWork takes. */
export interface GatedWorkOptions<W extends Work> {
  /** Prefixes the events: 'b' records 'b-start' and 'b-end'. */
  label?: string;
  /** Numbers each run's events ('start0', 'end0', 'start1', …; 'x0-start' with label 'x') and gates only the first run. */
  numbered?: boolean;
  /** The array the events go to, for sharing it with other works; a new one by default. */
  events?: string[];
  /** Called as each run starts, before its start event (to count the runs, say). */
  onStart?: () => void;
  /** The class to make the work with (DelayedWork, say); Work by default. */
  kind?: new (
    func: () => Promise<void>,
  ) => W;
}

/** A work whose handler records a start event, awaits the gate, then records an end event. */
export interface GatedWork<W extends Work> {
  work: W;
  gate: { promise: Promise<void>; resolve: () => void };
  events: string[];
}

/** Makes a work whose handler records 'start', awaits a deferred gate the test resolves, and records 'end'. */
export function gatedWork<W extends Work = Work>({
  label,
  numbered = false,
  events = [],
  onStart,
  kind,
}: GatedWorkOptions<W> = {}): GatedWork<W> {
  const gate = deferred();
  let runs = 0;
  const name = (what: string, run: number | string) =>
    label === undefined ? `${what}${run}` : `${label}${run}-${what}`;
  const Kind = kind ?? (Work as unknown as new (func: () => Promise<void>) => W);
  const work = new Kind(async () => {
    const i = runs++;
    onStart?.();
    const run = numbered ? i : '';
    events.push(name('start', run));
    if (!numbered || i === 0) await gate.promise;
    events.push(name('end', run));
  });
  return { work, gate, events };
}

/** Makes a gatedWork, queues it on wq and lets the loop settle, so that it is running, asleep on its gate. */
export async function startGated<W extends Work = Work>(
  wq: Workqueue,
  options?: GatedWorkOptions<W>,
): Promise<GatedWork<W>> {
  const gated = gatedWork(options);
  queueWork(wq, gated.work);
  await settle();
  return gated;
}

/** Tracks a promise's settlement (and its value) without awaiting it. */
export function track<T>(p: Promise<T>): { done: boolean; value: T | undefined } {
  const state: { done: boolean; value: T | undefined } = { done: false, value: undefined };
  p.then((v) => {
    state.done = true;
    state.value = v;
  });
  return state;
}

/** The code of the WorkqueueError fn throws (asserting that is what it throws), or undefined if it returns. */
export function caughtCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof WorkqueueError, `expected a WorkqueueError, got ${String(error)}`);
    return error.code;
  }
  return undefined;
}

/** A seeded pseudo-random generator (mulberry32) returning numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Keeps the CPU busy for ms milliseconds, synchronously. */
export function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** Calls workqueueInit with a new ManualClock (and any other options) and returns the clock. */
export function useManualClock(options: Omit<WorkqueueInitOptions, 'clock'> = {}): ManualClock {
  const clock = new ManualClock();
  workqueueInit({ ...options, clock });
  return clock;
}

/** How a child process run by runNode ended, and what it printed. */
export interface NodeRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when runNode killed it for outliving its timeout. */
  killed: boolean;
  elapsedMs: number;
  stdout: string;
  stderr: string;
}

/** A child process that started a server, and the address it printed. */
export interface ServingNode {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>/`. */
  url: string;
  /** Its stderr so far. */
  stderr: () => string;
}

/**
 * Spawns `node <args>` (a `cmwq web` run) and resolves once it prints `http://127.0.0.1:<port>/` on a line of its
 * own to stderr; rejects if it exits first. The caller ends the child.
 */
export function startServing(args: string[]): Promise<ServingNode> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stdout!.resume();
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(err);
      if (m !== null) resolve({ child, url: m[1]!, stderr: () => err });
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      reject(new Error(`${args.join(' ')} exited (${code}) before printing its address:\n${err}`)),
    );
  });
}

/**
 * Runs `node <args>` in a child process (in cwd, by default this one's), collecting its output; kills it (SIGKILL
 * by default) after timeoutMs.
 */
export function runNode(
  args: string[],
  {
    timeoutMs,
    killSignal = 'SIGKILL',
    env,
    cwd,
  }: { timeoutMs?: number; killSignal?: NodeJS.Signals; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<NodeRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env, cwd });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            killed = true;
            child.kill(killSignal);
          }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, killed, elapsedMs: Date.now() - started, stdout, stderr });
    });
  });
}

/**
 * Captures the process warnings emitted from now on: they are collected in `warnings` and not printed (Node's own
 * printer, a 'warning' listener, is set aside until stop()), so that expected warnings do not look like failures.
 */
export function captureWarnings(): { warnings: Error[]; stop: () => Promise<void> } {
  const warnings: Error[] = [];
  const printers = process.listeners('warning');
  for (const printer of printers) process.off('warning', printer);
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  return {
    warnings,
    async stop() {
      // A warning is emitted on the next tick: let those emitted last arrive here first.
      await new Promise((resolve) => setImmediate(resolve));
      process.off('warning', onWarning);
      for (const printer of printers) process.on('warning', printer);
    },
  };
}

/** Runs fn with the process warnings emitted meanwhile collected (not printed) in the array it is given. */
export async function withWarnings(fn: (warnings: Error[]) => Promise<void>): Promise<void> {
  const capture = captureWarnings();
  try {
    await fn(capture.warnings);
  } finally {
    await capture.stop();
  }
}
