/**
 * `cmwq trace [-o FILE] -- <command>`: runs a Node program with the agent in trace mode (agent.ts): each cmwq
 * instance traces from the moment it loads (wqTraceStart()), and the agent writes the Chrome Trace Event JSON
 * file when the program exits. The CLI says where it went and how many events it holds.
 */
import { resolve } from 'node:path';
import { watchProgram } from './watched.js';

/** What runTrace() takes. */
export interface TraceOptions {
  /** The trace file (default cmwq-trace.json in the current directory). */
  file?: string;
  /** Where the closing note goes (default: stderr). */
  err?: NodeJS.WritableStream;
}

/** Runs command traced; resolves its exit code once the trace is written. */
export async function runTrace(command: string[], options: TraceOptions = {}): Promise<number> {
  const err = options.err ?? process.stderr;
  const file = resolve(options.file ?? 'cmwq-trace.json');
  let written: { events: number; dropped: number } | null = null;
  const code = await watchProgram(command, {
    intervalMs: 2 ** 31 - 1,
    output: 'inherit',
    env: { CMWQ_TRACE_FILE: file },
    onReport: (report) => {
      if (report.type === 'trace') written = { events: report.events as number, dropped: report.dropped as number };
    },
  });
  const result = written as { events: number; dropped: number } | null;
  if (result === null) err.write(`cmwq trace: the program wrote no trace (did it load cmwq?)\n`);
  else
    err.write(
      `cmwq trace: ${result.events} events written to ${file}${result.dropped > 0 ? ` (${result.dropped} dropped past the limit)` : ''}; open it in ui.perfetto.dev or chrome://tracing\n`,
    );
  return code;
}
