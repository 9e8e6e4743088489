/**
 * The monitor agent: preloaded into an application by `cmwq top` and `cmwq dump` (node --import), it reports
 * the application's workqueues to the CLI over a pipe (the file descriptor in CMWQ_MONITOR_FD), one JSON
 * object per line:
 *
 *   {"type":"monitor","rows":[...wqMonitor() rows of every cmwq instance loaded]}   every interval, and at exit
 *   {"type":"dump","dump":{...wqDump()},"text":"...showAllWorkqueues()"}            at exit and on SIGUSR2
 *
 * Writes are synchronous so that the exit report is not lost. Nothing here keeps the application alive. The
 * agent does not import cmwq: it reads the registry every cmwq instance fills (monitor.ts), so it sees the
 * application's own copy.
 */
import { writeSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import type { MonitorSource } from '../observe/monitor.js';

const fd = Number(process.env.CMWQ_MONITOR_FD);
const interval = Number(process.env.CMWQ_MONITOR_INTERVAL_MS ?? 1000);

function sources(): MonitorSource[] {
  return (
    ((globalThis as Record<symbol, unknown>)[Symbol.for('cmwq.monitorSources')] as MonitorSource[] | undefined) ?? []
  );
}

function send(message: unknown): void {
  try {
    writeSync(fd, `${JSON.stringify(message)}\n`);
  } catch {
    // The CLI went away: the application carries on unwatched.
  }
}

function monitor(final: boolean): void {
  send({ type: 'monitor', time: Date.now(), final, rows: sources().flatMap((s) => s.wqMonitor()) });
}

function dump(reason: string): void {
  const all = sources();
  send({
    type: 'dump',
    reason,
    dump: all.map((s) => s.wqDump()),
    text: all.map((s) => s.showAllWorkqueues()).join(''),
  });
}

// Worker threads inherit NODE_OPTIONS, and with it this agent: only the main thread reports.
if (isMainThread && Number.isInteger(fd) && fd > 2) {
  setInterval(() => monitor(false), interval > 0 ? interval : 1000).unref();
  process.on('SIGUSR2', () => dump('SIGUSR2'));
  process.on('exit', () => {
    monitor(true);
    dump('exit');
  });
}
