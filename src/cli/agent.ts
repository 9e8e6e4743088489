/**
 * The monitor agent: preloaded into every Node process of a program run by `cmwq top` and `cmwq dump` (through
 * NODE_OPTIONS=--import, which wrappers such as npx, npm and tsx pass on to the node they start), it appends the
 * process's reports to the file named by CMWQ_MONITOR_FILE, one JSON object per line:
 *
 *   {"type":"monitor","pid":1,"time":...,"final":false,"rows":[...],"destroyed":[...],"system":[...]}
 *        every interval and at exit: wqMonitor() rows of every cmwq instance loaded, the final rows of the
 *        workqueues destroyed so far, the names of the system workqueues
 *   {"type":"dump","pid":1,"reason":"exit","dump":[...wqDump()],"text":"...showAllWorkqueues()"}
 *        at exit and on SIGUSR2
 *   {"type":"web","pid":1,"time":...,"final":false,"rows":[...],"snapshot":{...webSnapshot()}}
 *        instead of "monitor" with CMWQ_MONITOR_MODE=web (`cmwq web`): every interval and at exit
 *   {"type":"trace","pid":1,"file":"...","events":N,"dropped":0}
 *        with CMWQ_TRACE_FILE (`cmwq trace`): each cmwq instance traces from the moment it loads (through the
 *        registry's hook) and the trace is written to that file at exit, as Chrome Trace Event JSON
 *
 * A file, not an inherited pipe, because wrappers do not pass extra file descriptors on. Writes are synchronous,
 * appended, one line per write, so that the exit report is never lost and processes do not interleave. A process
 * that never loaded cmwq (npx itself, the tsx launcher) writes nothing. Nothing here keeps the process alive. The
 * agent does not import cmwq: it reads the registry every cmwq instance fills (observe/registry.ts), so it sees
 * the application's own copy whatever path it was loaded from.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import type { WebSnapshot } from '../observe/recorder.js';
import type { MonitorSource } from '../observe/registry.js';
import type { TraceEvent } from '../observe/trace.js';

const file = process.env.CMWQ_MONITOR_FILE;
const interval = Number(process.env.CMWQ_MONITOR_INTERVAL_MS ?? 1000);
const mode = process.env.CMWQ_MONITOR_MODE ?? 'top';
const traceFile = process.env.CMWQ_TRACE_FILE;
const ON_SOURCE = Symbol.for('cmwq.onMonitorSource');
let fd = -1;

function sources(): MonitorSource[] {
  return (
    ((globalThis as Record<symbol, unknown>)[Symbol.for('cmwq.monitorSources')] as MonitorSource[] | undefined) ?? []
  );
}

function send(message: Record<string, unknown>): void {
  try {
    if (fd < 0) fd = openSync(file!, 'a');
    writeSync(fd, `${JSON.stringify({ ...message, pid: process.pid })}\n`);
  } catch {
    // The CLI went away: the application carries on unwatched.
  }
}

function monitor(final: boolean): void {
  const all = sources();
  if (all.length === 0) return;
  send({
    type: 'monitor',
    time: Date.now(),
    final,
    rows: all.flatMap((s) => s.wqMonitor()),
    destroyed: all.flatMap((s) => s.destroyedRows?.() ?? []),
    system: all.flatMap((s) => s.systemNames?.() ?? []),
  });
}

function dump(reason: string): void {
  const all = sources();
  if (all.length === 0) return;
  send({
    type: 'dump',
    reason,
    dump: all.map((s) => s.wqDump()),
    text: all.map((s) => s.showAllWorkqueues()).join(''),
  });
}

/** The dashboard's report: the rows and every instance's snapshot, merged. */
function web(final: boolean): void {
  const all = sources();
  if (all.length === 0) return;
  const snapshots = all.flatMap((s) => (s.webSnapshot !== undefined ? [s.webSnapshot()] : []));
  const merged: WebSnapshot = {
    time: Date.now(),
    pools: snapshots.flatMap((s) => s.pools),
    workers: snapshots.flatMap((s) => s.workers),
    execs: snapshots.flatMap((s) => s.execs),
    dropped: snapshots.reduce((n, s) => n + s.dropped, 0),
    coverage: snapshots.reduce((c, s) => Math.min(c, s.coverage), 1),
    histograms: snapshots.flatMap((s) => s.histograms),
    log: snapshots.flatMap((s) => s.log),
  };
  send({ type: 'web', time: merged.time, final, rows: all.flatMap((s) => s.wqMonitor()), snapshot: merged });
}

/** Writes every instance's trace to the file, in chunks (a trace can hold a million events). */
function writeTrace(path: string): void {
  // A process without cmwq (a wrapper such as npx, before the program itself) leaves the file to the program.
  if (sources().length === 0) return;
  const events: TraceEvent[] = [];
  let dropped = 0;
  for (const s of sources()) {
    const trace = s.wqTraceStop?.();
    if (trace === undefined) continue;
    for (const event of trace.traceEvents) events.push(event);
    dropped += trace.otherData.dropped;
  }
  const out = openSync(path, 'w');
  try {
    writeSync(out, '{"traceEvents":[\n');
    const CHUNK = 10_000;
    for (let i = 0; i < events.length; i += CHUNK) {
      const part = events.slice(i, i + CHUNK).map((e) => JSON.stringify(e));
      writeSync(out, `${part.join(',\n')}${i + CHUNK < events.length ? ',\n' : '\n'}`);
    }
    writeSync(out, `],"displayTimeUnit":"ms","otherData":${JSON.stringify({ producer: 'cmwq', dropped })}}\n`);
  } finally {
    closeSync(out);
  }
  send({ type: 'trace', file: path, events: events.length, dropped });
}

/** Calls start with each cmwq instance, those loaded already and those that load later. */
function onEachSource(start: (source: MonitorSource) => void): void {
  (globalThis as Record<symbol, unknown>)[ON_SOURCE] = start;
  for (const source of sources()) start(source);
}

// Worker threads inherit NODE_OPTIONS, and with it this agent: only the main thread reports.
if (isMainThread && file !== undefined && file !== '') {
  if (traceFile !== undefined && traceFile !== '') {
    onEachSource((source) => source.wqTraceStart?.());
    process.on('exit', () => {
      writeTrace(traceFile);
      if (fd >= 0) closeSync(fd);
    });
  } else {
    // `cmwq web`: record from the first item on (the recorder starts as each instance registers).
    if (mode === 'web') onEachSource((source) => void source.webSnapshot?.());
    const report = mode === 'web' ? web : monitor;
    setInterval(() => report(false), interval > 0 ? interval : 1000).unref();
    process.on('SIGUSR2', () => dump('SIGUSR2'));
    process.on('exit', () => {
      report(true);
      dump('exit');
      if (fd >= 0) closeSync(fd);
    });
  }
}
