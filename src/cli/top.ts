/**
 * `cmwq top -- <command>` and `cmwq dump -- <command>`: run a Node program with the monitor agent preloaded
 * (monitor-agent.ts, through NODE_OPTIONS=--import) and read its reports from a pipe on the child's fd 3.
 *
 * top shows wqMonitor() live, one row per workqueue, refreshed every interval, like the kernel's
 * tools/workqueue/wq_monitor.py (or prints each report as a JSON line with --json); the program's own output
 * goes to stderr so that stdout stays the monitor's. dump prints wqDump() and showAllWorkqueues() when the
 * program exits, and whenever it receives SIGUSR2.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { clearScreenDown, cursorTo } from 'node:readline';
import type { WqMonitorRow } from '../observe/monitor.js';

export interface TopOptions {
  json?: boolean;
  /** Only workqueues whose name matches. */
  filter?: RegExp;
  intervalMs?: number;
  out?: NodeJS.WritableStream;
}

const AGENT_FD = 3;

/** Spawns command (a Node program: `node app.js ...` or `app.js ...`) with the agent; resolves its exit code. */
function spawnWatched(
  command: string[],
  mode: 'top' | 'dump',
  intervalMs: number,
  onMessage: (message: { type: string; [key: string]: unknown }) => void,
): Promise<number> {
  if (command.length === 0) throw new Error('no command given: cmwq top -- node app.js');
  const [first, ...rest] = command;
  const isNode = /(^|[\\/])node(\.exe)?$/.test(first) || first === process.execPath;
  const file = isNode ? first : process.execPath;
  const args = isNode ? rest : command;
  const agent = new URL('./agent.js', import.meta.url).href;
  const child = spawn(file, args, {
    stdio: ['inherit', mode === 'top' ? 2 : 'inherit', 'inherit', 'pipe'],
    env: {
      ...process.env,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${agent}`.trim(),
      CMWQ_MONITOR_FD: String(AGENT_FD),
      CMWQ_MONITOR_INTERVAL_MS: String(intervalMs),
    },
  });
  const pipe = child.stdio[AGENT_FD] as NodeJS.ReadableStream;
  const lines = createInterface({ input: pipe });
  lines.on('line', (line) => {
    try {
      onMessage(JSON.parse(line));
    } catch {
      // not ours
    }
  });
  const closed = new Promise<void>((resolve) => lines.on('close', resolve));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      void closed.then(() => resolve(code ?? (signal !== null ? 128 : 1)));
    });
  });
}

const COLUMNS: [keyof WqMonitorRow, string, number][] = [
  ['total', 'total', 10],
  ['infl', 'infl', 6],
  ['cpuTime', 'CPUtime', 9],
  ['cpuIntensive', 'CPUitsv', 8],
  ['cmWakeup', 'CMW', 8],
  ['mayday', 'mayday', 7],
  ['rescued', 'rescued', 8],
  ['failed', 'failed', 7],
  ['pending', 'pending', 8],
  ['waitP99', 'waitP99', 9],
  ['runP99', 'runP99', 9],
];

function cell(value: number, key: keyof WqMonitorRow): string {
  if (key === 'cpuTime') return (value / 1000).toFixed(1);
  if (key === 'waitP99' || key === 'runP99')
    return value === 0 ? '-' : value < 10 ? value.toFixed(2) : value.toFixed(0);
  return String(value);
}

/** The wq_monitor-style table for rows. */
export function formatMonitor(rows: WqMonitorRow[]): string {
  const nameWidth = Math.max(24, ...rows.map((r) => r.name.length + 1));
  const header = 'name'.padEnd(nameWidth) + COLUMNS.map(([, title, w]) => title.padStart(w)).join('');
  const body = rows.map(
    (row) =>
      row.name.padEnd(nameWidth) + COLUMNS.map(([key, , w]) => cell(row[key] as number, key).padStart(w)).join(''),
  );
  return `${[header, ...body].join('\n')}\n`;
}

export async function runTop(command: string[], options: TopOptions = {}): Promise<number> {
  const out = options.out ?? process.stdout;
  const tty = !options.json && (out as NodeJS.WriteStream).isTTY === true;
  return spawnWatched(command, 'top', options.intervalMs ?? 1000, (message) => {
    if (message.type !== 'monitor') return;
    const rows = (message.rows as WqMonitorRow[]).filter(
      (r) => options.filter === undefined || options.filter.test(r.name),
    );
    if (options.json) {
      out.write(`${JSON.stringify({ time: message.time, final: message.final, rows })}\n`);
      return;
    }
    if (tty) {
      cursorTo(out as NodeJS.WriteStream, 0, 0);
      clearScreenDown(out as NodeJS.WriteStream);
    }
    out.write(
      `${new Date(message.time as number).toISOString()}${message.final ? ' (exit)' : ''}\n${formatMonitor(rows)}\n`,
    );
  });
}

export async function runDump(
  command: string[],
  options: { json?: boolean; out?: NodeJS.WritableStream } = {},
): Promise<number> {
  const out = options.out ?? process.stdout;
  return spawnWatched(command, 'dump', 2 ** 31 - 1, (message) => {
    if (message.type !== 'dump') return;
    if (options.json) {
      out.write(`${JSON.stringify({ reason: message.reason, dump: message.dump })}\n`);
      return;
    }
    out.write(
      `cmwq dump (${String(message.reason)}):\n${JSON.stringify(message.dump, null, 2)}\n${String(message.text)}`,
    );
  });
}
