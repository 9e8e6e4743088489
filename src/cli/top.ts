/**
 * `cmwq top -- <command>` and `cmwq dump -- <command>`: run a program with the monitor agent preloaded in each of
 * its Node processes (agent.ts, through NODE_OPTIONS=--import) and read the reports the agent appends to a file
 * in a private temporary directory (polled; read to the end once the program has exited, so the exit report is
 * always shown).
 *
 * The command is what the user would type: `node app.js`, `app.js` (run with this Node), or any other program
 * found on PATH (`npx tsx app.ts`, `npm start`, `tsx app.ts`), which runs as it is; the agent rides along in
 * NODE_OPTIONS into every Node process it starts.
 *
 * top shows wqMonitor() live, one row per workqueue, refreshed every interval, like the kernel's
 * tools/workqueue/wq_monitor.py, or prints each report as a JSON line with --json. Idle system workqueues (no
 * item ever run, none pending) are left out unless --all or a regex names them; workqueues destroyed during the
 * run keep their final row, marked destroyed. stdout is the monitor's: on a terminal the table is drawn on the
 * alternate screen with the program's latest output under it, and when the program exits the screen is restored,
 * the program's output is written out (its last MiB) and the final table printed after it; otherwise the
 * program's output goes to stderr. dump prints wqDump() and showAllWorkqueues() when the program exits and
 * whenever its process receives SIGUSR2; with --json the program's stdout goes to stderr.
 */
import type { WqMonitorRow } from '../index.js';
import { type Report, watchProgram } from './watched.js';

/** What runTop() takes. */
export interface TopOptions {
  /** One JSON object per report instead of the table. */
  json?: boolean;
  /** Only workqueues whose name matches (idle system workqueues included). */
  filter?: RegExp;
  /** Show idle system workqueues too. */
  all?: boolean;
  /** The refresh interval, ms (1000). */
  intervalMs?: number;
  /** Where the table goes (process.stdout). */
  out?: NodeJS.WritableStream;
  /** Where the program's output goes when out is not a terminal (process.stderr). */
  err?: NodeJS.WritableStream;
}

/** A row as top shows it: destroyed rows are the final counters of a workqueue destroyed during the run. */
export interface TopRow extends WqMonitorRow {
  destroyed?: boolean;
  /** The reporting process, when more than one reports. */
  pid?: number;
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
  if (key === 'cpuTime') return (value / 1000).toFixed(1); // wqMonitor() counts ms; the table shows s
  if (key === 'waitP99' || key === 'runP99')
    return value === 0 ? '-' : value < 10 ? value.toFixed(2) : value.toFixed(0);
  return String(value);
}

function label(row: TopRow): string {
  return `${row.name}${row.pid !== undefined ? ` [${row.pid}]` : ''}${row.destroyed === true ? ' (destroyed)' : ''}`;
}

/** The wq_monitor-style table for rows (CPUtime in seconds, waitP99 and runP99 in milliseconds). */
export function formatMonitor(rows: TopRow[]): string {
  const nameWidth = Math.max(24, ...rows.map((r) => label(r).length + 1));
  const header = 'name'.padEnd(nameWidth) + COLUMNS.map(([, title, w]) => title.padStart(w)).join('');
  const body = rows.map(
    (row) =>
      label(row).padEnd(nameWidth) + COLUMNS.map(([key, , w]) => cell(row[key] as number, key).padStart(w)).join(''),
  );
  return `${[header, ...body].join('\n')}\n`;
}

/** The latest monitor report of each process. */
type Latest = Map<number, Report>;

/**
 * The rows to show: live rows, then the final rows of workqueues destroyed (and not alive again under that name),
 * of every reporting process; idle system workqueues only with all or a filter that names them.
 */
export function topRows(latest: Latest, filter: RegExp | undefined, all: boolean): TopRow[] {
  const rows: TopRow[] = [];
  const many = latest.size > 1;
  for (const report of latest.values()) {
    const live = report.rows as WqMonitorRow[];
    const system = new Set((report.system as string[] | undefined) ?? []);
    const liveNames = new Set(live.map((r) => r.name));
    const gone = ((report.destroyed as WqMonitorRow[] | undefined) ?? []).filter((r) => !liveNames.has(r.name));
    for (const row of [...live, ...gone.map((r) => ({ ...r, destroyed: true }))] as TopRow[]) {
      if (filter !== undefined ? !filter.test(row.name) : !all && system.has(row.name) && idle(row)) continue;
      rows.push(many ? { ...row, pid: report.pid } : row);
    }
  }
  return rows;
}

function idle(row: WqMonitorRow): boolean {
  return row.total === 0 && row.infl === 0 && row.pending === 0;
}

/** How much of the program's output a terminal session keeps to write out at exit. */
const KEEP_OUTPUT_BYTES = 1 << 20;

/**
 * Runs `cmwq top`: the program under command, its workqueues shown every intervalMs. Resolves the program's
 * exit code.
 */
export async function runTop(command: string[], options: TopOptions = {}): Promise<number> {
  const out = options.out ?? process.stdout;
  const err = options.err ?? process.stderr;
  const tty = !options.json && (out as NodeJS.WriteStream).isTTY === true;
  const latest: Latest = new Map();
  const header = (report: Report): string =>
    `${new Date(report.time as number).toISOString()}${report.final ? ' (exit)' : ''}\n`;
  const screen = tty ? new Screen(out as NodeJS.WriteStream) : null;
  let last: Report | null = null;
  const code = await watchProgram(command, {
    intervalMs: options.intervalMs ?? 1000,
    output: screen !== null ? (chunk) => screen.output(chunk) : 'stdout-to-stderr',
    onReport(report) {
      if (report.type !== 'monitor') return;
      latest.set(report.pid, report);
      last = report;
      const rows = topRows(latest, options.filter, options.all === true);
      if (options.json) out.write(`${JSON.stringify({ time: report.time, final: report.final, rows })}\n`);
      else if (screen !== null) screen.table(`${header(report)}${formatMonitor(rows)}`);
      else out.write(`${header(report)}${formatMonitor(rows)}\n`);
    },
  });
  if (screen !== null) {
    screen.close(err);
    if (last !== null)
      out.write(`${header(last)}${formatMonitor(topRows(latest, options.filter, options.all === true))}`);
  }
  if (last === null && !options.json) err.write('cmwq top: the program reported no workqueues (did it load cmwq?)\n');
  return code;
}

/**
 * The terminal view of `cmwq top`: the alternate screen holds the table and, under it, the program's latest
 * output lines; close() restores the user's screen and writes out the program's output (its last MiB).
 */
class Screen {
  private text = '';
  private kept: Buffer[] = [];
  private keptBytes = 0;
  private dropped = false;
  private redraw: NodeJS.Timeout | null = null;

  constructor(private readonly out: NodeJS.WriteStream) {
    out.write('\x1b[?1049h\x1b[?25l');
  }

  table(text: string): void {
    this.text = text;
    this.draw();
  }

  output(chunk: Buffer): void {
    this.kept.push(chunk);
    this.keptBytes += chunk.length;
    while (this.keptBytes > KEEP_OUTPUT_BYTES && this.kept.length > 1) {
      this.keptBytes -= this.kept.shift()!.length;
      this.dropped = true;
    }
    this.redraw ??= setTimeout(() => {
      this.redraw = null;
      this.draw();
    }, 100);
  }

  private draw(): void {
    const rows = this.out.rows ?? 24;
    const columns = this.out.columns ?? 80;
    const table = this.text.split('\n');
    const room = rows - table.length - 1;
    const tail =
      room > 0
        ? Buffer.concat(this.kept)
            .toString('utf8')
            .split('\n')
            .slice(-room - 1, -1)
        : [];
    const lines = [...table, ...(tail.length > 0 ? ['-- program output --', ...tail] : [])];
    this.out.write(`\x1b[H\x1b[2J${lines.map((l) => l.slice(0, columns)).join('\n')}`);
  }

  close(err: NodeJS.WritableStream): void {
    if (this.redraw !== null) clearTimeout(this.redraw);
    this.out.write('\x1b[?25h\x1b[?1049l');
    if (this.dropped) err.write('cmwq top: (the program printed more than 1 MiB; its last MiB follows)\n');
    for (const chunk of this.kept) err.write(chunk);
  }
}

/** Runs `cmwq dump`: the program under command; its dumps at exit and on SIGUSR2. Resolves its exit code. */
export async function runDump(
  command: string[],
  options: { json?: boolean; out?: NodeJS.WritableStream } = {},
): Promise<number> {
  const out = options.out ?? process.stdout;
  return watchProgram(command, {
    intervalMs: 2 ** 31 - 1,
    output: options.json ? 'stdout-to-stderr' : 'inherit',
    onReport(report) {
      if (report.type !== 'dump') return;
      if (options.json) {
        out.write(`${JSON.stringify({ reason: report.reason, pid: report.pid, dump: report.dump })}\n`);
        return;
      }
      out.write(
        `cmwq dump (${String(report.reason)}):\n${JSON.stringify(report.dump, null, 2)}\n${String(report.text)}`,
      );
    },
  });
}
