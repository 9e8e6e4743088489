/**
 * Chrome Trace Event files: `cmwq trace -- <command>` on the demo, and wqTraceStart()/wqTraceStop() in process.
 * The file must be valid JSON with the fields the Trace Event Format requires of each event, one slice per
 * execution on its worker's track, and every flow (queue -> activate -> execution, by bind_id) complete.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type TraceEvent,
  Work,
  allocWorkqueue,
  destroyWorkqueue,
  flushWork,
  queueWork,
  wqTraceStart,
  wqTraceStop,
  wqTracing,
} from '../src/index.js';
import { caughtCode, deferred, runNode, settle } from './helpers.js';

const cli = fileURLToPath(new URL('../src/cli/cli.js', import.meta.url));
const MARKS = /^(queue_work|activate_work) /;

/** Checks every event's required fields; returns the execution slices (on worker tracks). */
function validate(events: TraceEvent[]): TraceEvent[] {
  assert.ok(events.length > 0);
  for (const e of events) {
    assert.equal(typeof e.name, 'string', JSON.stringify(e));
    assert.ok(['X', 'C', 'M'].includes(e.ph), `phase ${e.ph}`);
    assert.ok(Number.isFinite(e.ts) && e.ts >= 0, `ts of ${JSON.stringify(e)}`);
    assert.ok(Number.isInteger(e.pid) && Number.isInteger(e.tid), `pid/tid of ${JSON.stringify(e)}`);
    if (e.ph === 'X') assert.ok(Number.isFinite(e.dur) && e.dur! >= 0, `dur of ${JSON.stringify(e)}`);
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
