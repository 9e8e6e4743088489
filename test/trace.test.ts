/**
 * Chrome Trace Event files: `cmwq trace -- <command>` on the demo, and wqTraceStart()/wqTraceStop() in process.
 * The file must be valid JSON with the fields the Trace Event Format requires of each event (name, ph, ts, pid,
 * tid; dur for complete events; numeric args for counters; name args for metadata; an integer bind_id with
 * flow_in/flow_out booleans for version-2 flows), one slice per execution on its worker's track, and every flow
 * (queue -> activate -> execution, by bind_id) complete.
 *
 * The demo's file is also imported by a real trace importer that works offline: the trace engine of Chrome
 * DevTools' Performance panel (the npm package @paulirish/trace_engine, which Lighthouse uses). It must take the
 * file as a generic trace without warnings and build the thread tracks a viewer draws: one per worker and per
 * workqueue, named as in the file, with the same slices. (That engine reads flows only as version-1 events, so
 * the arrows are checked by checkFlows above it; ui.perfetto.dev needs network and Chromium's chrome://tracing
 * no longer loads, so neither can be driven here.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type TraceEvent,
  cancelDelayedWork,
  DelayedWork,
  Work,
  allocWorkqueue,
  destroyWorkqueue,
  flushWork,
  queueDelayedWork,
  queueWork,
  wqTraceStart,
  wqTraceStop,
  wqTracing,
} from '../src/index.js';
import { caughtCode, deferred, runNode, settle } from './helpers.js';

const cli = fileURLToPath(new URL('../src/cli/cli.js', import.meta.url));
const MARKS = /^(queue_work|activate_work) /;
/** Every key an event of this writer may carry (the Trace Event Format's names). */
const KEYS = new Set(['name', 'cat', 'ph', 'ts', 'pid', 'tid', 'dur', 'args', 'bind_id', 'flow_in', 'flow_out']);

/** The part of DevTools' trace engine this test reads: a thread track and its slices. */
interface EngineThread {
  tid: number;
  name: string | null;
  entries: { name: string; ts: number; dur?: number }[];
}
interface TraceEngine {
  TraceModel: {
    Model: {
      createWithAllHandlers(): {
        parse(events: unknown[]): Promise<void>;
        parsedTrace(): { data: EngineData } | null;
      };
    };
  };
  Handlers: { Threads: { threadsInTrace(data: EngineData): EngineThread[] } };
}
interface EngineData {
  Meta: { traceIsGeneric: boolean };
  Warnings: { perWarning: Map<string, unknown[]> };
}

/**
 * Imports events into DevTools' trace engine, as the Performance panel does when a file is loaded, and returns the
 * thread tracks it built. The engine expects a browser's DOMRect; a plain stand-in serves in Node.
 */
async function importIntoDevTools(events: TraceEvent[]): Promise<{ data: EngineData; threads: EngineThread[] }> {
  const g = globalThis as { DOMRect?: unknown };
  g.DOMRect ??= class {
    constructor(
      public x = 0,
      public y = 0,
      public width = 0,
      public height = 0,
    ) {}
  };
  const engine = (await import('@paulirish/trace_engine')) as unknown as TraceEngine;
  const model = engine.TraceModel.Model.createWithAllHandlers();
  await model.parse(events);
  const parsed = model.parsedTrace();
  assert.ok(parsed !== null, 'the engine produced a parsed trace');
  return { data: parsed.data, threads: engine.Handlers.Threads.threadsInTrace(parsed.data) };
}

/** Checks every event's required fields; returns the execution slices (on worker tracks). */
function validate(events: TraceEvent[]): TraceEvent[] {
  assert.ok(events.length > 0);
  for (const e of events) {
    for (const key of Object.keys(e)) assert.ok(KEYS.has(key), `field ${key} of ${JSON.stringify(e)}`);
    assert.equal(typeof e.name, 'string', JSON.stringify(e));
    assert.ok(['X', 'C', 'M'].includes(e.ph), `phase ${e.ph}`);
    assert.ok(Number.isFinite(e.ts) && e.ts >= 0, `ts of ${JSON.stringify(e)}`);
    assert.ok(Number.isInteger(e.pid) && Number.isInteger(e.tid), `pid/tid of ${JSON.stringify(e)}`);
    if (e.cat !== undefined) assert.equal(typeof e.cat, 'string');
    if (e.args !== undefined) assert.ok(typeof e.args === 'object' && e.args !== null && !Array.isArray(e.args));
    if (e.ph === 'X') assert.ok(Number.isFinite(e.dur) && e.dur! >= 0, `dur of ${JSON.stringify(e)}`);
    else assert.equal(e.dur, undefined, 'dur only on complete events');
    // Version-2 flows live on slices: an integer bind_id and at least one of flow_in / flow_out, both booleans.
    if (e.bind_id !== undefined || e.flow_in !== undefined || e.flow_out !== undefined) {
      assert.equal(e.ph, 'X', `a flow binds a slice: ${JSON.stringify(e)}`);
      assert.ok(Number.isInteger(e.bind_id) && e.bind_id! > 0, `bind_id of ${JSON.stringify(e)}`);
      assert.ok(e.flow_in === true || e.flow_out === true, `flow_in/flow_out of ${JSON.stringify(e)}`);
      for (const f of [e.flow_in, e.flow_out]) assert.ok(f === undefined || typeof f === 'boolean');
    }
    if (e.ph === 'M') {
      assert.ok(['process_name', 'thread_name', 'thread_sort_index'].includes(e.name));
      assert.ok(e.args !== undefined && ('name' in e.args || 'sort_index' in e.args));
    }
    if (e.ph === 'C') {
      assert.ok(e.args !== undefined && Object.keys(e.args).length > 0);
      for (const v of Object.values(e.args)) assert.equal(typeof v, 'number');
    }
  }
  // Every track that has slices is named.
  const named = new Set(events.filter((e) => e.name === 'thread_name').map((e) => e.tid));
  for (const e of events) if (e.ph === 'X') assert.ok(named.has(e.tid), `track ${e.tid} is named`);
  // Slices on one track never overlap partially (worker tracks run one item at a time).
  const byTid = new Map<number, TraceEvent[]>();
  for (const e of events) if (e.ph === 'X') byTid.set(e.tid, [...(byTid.get(e.tid) ?? []), e]);
  for (const slices of byTid.values()) {
    slices.sort((a, b) => a.ts - b.ts);
    for (let i = 1; i < slices.length; i++)
      assert.ok(
        slices[i].ts >= slices[i - 1].ts + slices[i - 1].dur!,
        `${slices[i].name} starts after the previous ends`,
      );
  }
  return events.filter((e) => e.ph === 'X' && e.tid >= 100 && e.tid < 1_000_000);
}

/** Every bind_id: one flow_out start, at most one step, one flow_in end, in time order. Returns the flow count. */
function checkFlows(events: TraceEvent[]): number {
  const flows = new Map<number, TraceEvent[]>();
  for (const e of events) if (e.bind_id !== undefined) flows.set(e.bind_id, [...(flows.get(e.bind_id) ?? []), e]);
  for (const [id, parts] of flows) {
    parts.sort((a, b) => a.ts - b.ts);
    const start = parts[0];
    const end = parts[parts.length - 1];
    assert.ok(start.flow_out === true && start.flow_in !== true && start.name.startsWith('queue_work '), `flow ${id}`);
    assert.ok(end.flow_in === true && end.flow_out !== true && !MARKS.test(end.name), `flow ${id} ends on a run`);
    for (const step of parts.slice(1, -1))
      assert.ok(step.flow_in && step.flow_out && step.name.startsWith('activate_work'));
    assert.ok(parts.length <= 3, `flow ${id}: queue, activate, execution`);
    assert.equal(start.name.slice('queue_work '.length), end.name, 'the flow ends on the queued function');
  }
  return flows.size;
}

test('cmwq trace writes the demo as a Chrome Trace Event file: a slice per execution, flows matched, counters', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cmwq-trace-'));
  try {
    const file = join(dir, 'demo.json');
    const run = await runNode([cli, 'trace', '-o', file, '--', cli, 'demo', '--fast', '--timeline'], {
      timeoutMs: 30_000,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /cmwq trace: \d+ events written to .*demo\.json/);
    const trace = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: TraceEvent[]; displayTimeUnit: string };
    assert.equal(trace.displayTimeUnit, 'ms');
    const runs = validate(trace.traceEvents);
    // The demo's own timeline lists every run: "start .. end  function  (workqueue)".
    const listed = [...run.stdout.matchAll(/^ {4}[\d.]+ \.\. [\d.]+ {2}(\S+?)(\[\d+\])? {2}\((\S+)\)$/gm)];
    assert.ok(listed.length >= 10, run.stdout);
    assert.equal(runs.length, listed.length, 'one slice per execution');
    assert.deepEqual(
      runs.map((r) => `${r.name} ${String(r.args?.workqueue)}`).sort(),
      listed.map((m) => `${m[1]} ${m[3]}`).sort(),
    );
    for (const r of runs) assert.match(String(r.args?.worker), /^kworker\//);
    assert.equal(checkFlows(trace.traceEvents), runs.length, 'each execution has its flow from its queueing');
    const counters = new Set(trace.traceEvents.filter((e) => e.ph === 'C').map((e) => e.name));
    assert.deepEqual([...counters].sort(), ['in flight', 'pending']);

    // A real importer: DevTools' Performance panel engine takes the file and builds the same tracks and slices.
    const { data, threads } = await importIntoDevTools(trace.traceEvents);
    assert.equal(data.Meta.traceIsGeneric, true, 'imported as a generic (non-browser) trace');
    assert.equal(data.Warnings.perWarning.size, 0, 'no import warnings');
    const named = new Map(
      trace.traceEvents.filter((e) => e.name === 'thread_name').map((e) => [e.tid, String(e.args?.name)]),
    );
    const slicesOf = (tid: number) =>
      trace.traceEvents
        .filter((e) => e.ph === 'X' && e.tid === tid)
        .map((e) => `${e.name}@${e.ts}+${e.dur}`)
        .sort();
    assert.deepEqual(
      threads.map((t) => [t.tid, t.name]).sort(),
      [...named].filter(([tid]) => slicesOf(tid).length > 0).sort(),
      'one track per worker and workqueue, named as in the file',
    );
    for (const t of threads) {
      assert.deepEqual(t.entries.map((e) => `${e.name}@${e.ts}+${e.dur}`).sort(), slicesOf(t.tid), `${t.name}`);
    }
    const workerTracks = threads.filter((t) => /^kworker\//.test(t.name ?? ''));
    assert.equal(
      workerTracks.reduce((n, t) => n + t.entries.length, 0),
      runs.length,
      'the worker tracks hold every execution',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('wqTraceStart/wqTraceStop in process: failures marked, a running item closed at stop, bad input refused', async () => {
  assert.equal(
    caughtCode(() => wqTraceStart({ maxEvents: 0 })),
    'ERR_WQ_INVALID_ARG',
  );
  assert.equal(wqTracing(), false);
  const errors: unknown[] = [];
  const wq = allocWorkqueue('tracewq', 0, 1, { onError: (error) => errors.push(error) });
  wqTraceStart();
  assert.equal(
    caughtCode(() => wqTraceStart()),
    'ERR_WQ_INVALID_ARG',
    'already on',
  );
  const gate = deferred();
  const fails = new Work(function fails() {
    throw new Error('boom');
  });
  queueWork(wq, fails);
  await flushWork(fails);
  assert.equal(errors.length, 1);
  const sleeper = new Work(async function sleeper() {
    await gate.promise;
  });
  const behind = new Work(function behind() {});
  queueWork(wq, sleeper);
  queueWork(wq, behind); // inactive behind sleeper (maxActive 1): no execution, so no flow, by the stop
  await settle();
  const trace = wqTraceStop();
  assert.equal(wqTracing(), false);
  gate.resolve();
  await flushWork(behind);
  await destroyWorkqueue(wq);
  const runs = validate(trace.traceEvents);
  assert.deepEqual(
    runs.map((r) => r.name),
    ['fails', 'sleeper'],
  );
  assert.equal(runs[0].args?.failed, true);
  assert.match(String(runs[0].args?.error), /boom/);
  assert.equal(runs[1].args?.unfinished, true, 'still running at stop');
  assert.equal(checkFlows(trace.traceEvents), 2);
  assert.ok(
    trace.traceEvents.some((e) => e.name === 'queue_work behind' && e.bind_id === undefined),
    'an item that never started keeps its queue mark, without a dangling arrow',
  );
  assert.deepEqual(wqTraceStop().traceEvents, [], 'stopping again returns an empty trace');
});

test('a traced delayed work that re-arms itself from its handler: its slice ends on the workqueue it ran on', async () => {
  const wq = allocWorkqueue('trace-rearm');
  let runs = 0;
  // Queued at once (delay 0), then armed again from its own handler: while armed, the work's pool-workqueue
  // field holds its expiry, so the end of the run must take the workqueue from the worker, not from the work.
  const rearms = new DelayedWork(function rearms(work) {
    runs++;
    queueDelayedWork(wq, work, 60_000);
  });
  wqTraceStart();
  queueDelayedWork(wq, rearms, 0);
  await settle();
  const trace = wqTraceStop();
  assert.equal(runs, 1);
  assert.equal(cancelDelayedWork(rearms), true, 'armed again by its handler');
  await destroyWorkqueue(wq);
  const slices = validate(trace.traceEvents);
  assert.deepEqual(
    slices.map((r) => [r.name, r.args?.unfinished]),
    [['rearms', undefined]],
    'one finished slice',
  );
  assert.ok(
    trace.traceEvents.some((e) => e.ph === 'C' && e.ts >= slices[0].ts + slices[0].dur!),
    "the workqueue's counters were sampled at the end of the run",
  );
});
