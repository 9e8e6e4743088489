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
 *
 * A file, not an inherited pipe, because wrappers do not pass extra file descriptors on. Writes are synchronous,
 * appended, one line per write, so that the exit report is never lost and processes do not interleave. A process
 * that never loaded cmwq (npx itself, the tsx launcher) writes nothing. Nothing here keeps the process alive. The
 * agent does not import cmwq: it reads the registry every cmwq instance fills (observe/monitor.ts), so it sees
 * the application's own copy whatever path it was loaded from.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import type { MonitorSource } from '../observe/monitor.js';

const file = process.env.CMWQ_MONITOR_FILE;
const interval = Number(process.env.CMWQ_MONITOR_INTERVAL_MS ?? 1000);
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

// Worker threads inherit NODE_OPTIONS, and with it this agent: only the main thread reports.
if (isMainThread && file !== undefined && file !== '') {
  setInterval(() => monitor(false), interval > 0 ? interval : 1000).unref();
  process.on('SIGUSR2', () => dump('SIGUSR2'));
  process.on('exit', () => {
    monitor(true);
    dump('exit');
    if (fd >= 0) closeSync(fd);
  });
}
