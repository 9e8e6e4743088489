/**
 * Running a program with the monitor agent (agent.ts) preloaded in each of its Node processes (through
 * NODE_OPTIONS=--import) and reading the reports the agent appends to a file in a private temporary directory
 * (polled; read to the end once the program has exited, so the exit report is always shown). Shared by
 * `cmwq top`, `dump`, `web` and `trace`: each says where the program's output goes and what the agent should do.
 *
 * The command is what the user would type: `node app.js`, `app.js` (run with this Node), or any other program
 * found on PATH (`npx tsx app.ts`, `npm start`, `tsx app.ts`), which runs as it is; the agent rides along in
 * NODE_OPTIONS into every Node process it starts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

/** A report line from the agent. */
export interface Report {
  type: string;
  pid: number;
  [key: string]: unknown;
}

/**
 * How a command the user typed is started: a script (.js, .mjs, .cjs, .ts, .mts, .cts) runs with this Node; node
 * itself and anything else (npx, npm, tsx, a shell) run as they are, found on PATH.
 */
export function programCommand(command: readonly string[]): { file: string; args: string[]; shell: boolean } {
  if (command.length === 0) throw new Error('no command given: cmwq top -- node app.js');
  const [first, ...rest] = command;
  if (/(^|[\\/])node(\.exe)?$/.test(first) || first === process.execPath)
    return { file: first, args: rest, shell: false };
  if (/\.(c|m)?(j|t)s$/.test(first)) return { file: process.execPath, args: [...command], shell: false };
  // npx, npm, tsx, sh ...: found on PATH (Windows runs .cmd shims through the shell).
  return { file: first, args: rest, shell: process.platform === 'win32' };
}

export interface WatchOptions {
  intervalMs: number;
  /** Where the program's stdout and stderr go: inherited, stdout to our stderr, or piped to a callback. */
  output: 'inherit' | 'stdout-to-stderr' | ((chunk: Buffer) => void);
  onReport(report: Report): void;
  /** Extra environment for the agent (CMWQ_MONITOR_MODE=web, CMWQ_TRACE_FILE). */
  env?: Record<string, string>;
  /** Called with the program's process once it is spawned (to signal it). */
  onSpawn?(child: ChildProcess): void;
}

/** How often the report file is read while the program runs. */
const POLL_MS = 50;

/** Runs command with the agent; resolves its exit code (128 + n when a signal ended it). */
export function watchProgram(command: readonly string[], options: WatchOptions): Promise<number> {
  const { file, args, shell } = programCommand(command);
  const dir = mkdtempSync(join(tmpdir(), 'cmwq-top-'));
  const reports = join(dir, 'reports.jsonl');
  writeFileSync(reports, '');
  const agent = new URL('./agent.js', import.meta.url).href;
  const piped = typeof options.output === 'function';
  const child = spawn(file, args, {
    shell,
    stdio: ['inherit', options.output === 'inherit' ? 'inherit' : piped ? 'pipe' : 2, piped ? 'pipe' : 'inherit'],
    env: {
      ...process.env,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${agent}`.trim(),
      CMWQ_MONITOR_FILE: reports,
      CMWQ_MONITOR_INTERVAL_MS: String(options.intervalMs),
      ...options.env,
    },
  });
  options.onSpawn?.(child);
  if (typeof options.output === 'function') {
    (child.stdout as Readable).on('data', options.output);
    (child.stderr as Readable).on('data', options.output);
  }
  const fd = openSync(reports, 'r');
  let offset = 0;
  let partial = '';
  const buffer = Buffer.alloc(1 << 16);
  const readNew = (): void => {
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, offset);
      if (n === 0) break;
      offset += n;
      partial += buffer.toString('utf8', 0, n);
    }
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      let report: Report;
      try {
        report = JSON.parse(line) as Report;
      } catch {
        continue;
      }
      options.onReport(report);
    }
  };
  const poll = setInterval(readNew, POLL_MS);
  return new Promise<number>((resolve, reject) => {
    const done = (): void => {
      clearInterval(poll);
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    };
    child.on('error', (error) => {
      done();
      reject(error);
    });
    child.on('close', (code, signal) => {
      readNew();
      done();
      resolve(code ?? (signal !== null ? 128 + signalNumber(signal) : 1));
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return numbers[signal] ?? 0;
}
