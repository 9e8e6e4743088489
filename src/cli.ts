#!/usr/bin/env node
/**
 * The `cmwq` command line.
 *
 *   cmwq demo [--fast] [--timeline]   the workqueue demo module, run for real (src/demo.ts)
 *   cmwq top -- <command>             wqMonitor live for a Node program (not implemented yet)
 *   cmwq dump -- <command>            wqDump and showAllWorkqueues at a program's exit (not implemented yet)
 *
 * Exit codes: 0 success, 1 the command failed, 2 usage error or a subcommand not implemented yet.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runDemo } from './demo.js';

const USAGE = `Usage: cmwq <command> [options]

Commands:
  demo [--fast] [--timeline]   Run the workqueue demo module: an immediate work, a self-rescheduling
                               delayed work, a periodic work and a dedicated workqueue with numbered
                               items, then cancellation and destruction at unload, printed dmesg style
                               with worker names and thread ids.
      --fast                   Divide every delay by 20 (the demo takes about half a second).
      --timeline               At the end, print which worker ran which function, when.
  top -- <command...>          Run a Node program and show wqMonitor live (not implemented yet).
  dump -- <command...>         Run a Node program and print wqDump at its exit (not implemented yet).
  help                         Show this help.

Options:
  -h, --help                   Show this help.
  -v, --version                Print cmwq's version.
`;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function usageError(message: string): number {
  process.stderr.write(`cmwq: ${message}\n\n${USAGE}`);
  return 2;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
      return usageError('missing command');
    case 'help':
    case '-h':
    case '--help':
      process.stdout.write(USAGE);
      return 0;
    case '-v':
    case '--version':
      process.stdout.write(`${version()}\n`);
      return 0;
    case 'demo': {
      let values: { fast?: boolean; timeline?: boolean; help?: boolean };
      try {
        ({ values } = parseArgs({
          args: rest,
          options: {
            fast: { type: 'boolean' },
            timeline: { type: 'boolean' },
            help: { type: 'boolean', short: 'h' },
          },
          allowPositionals: false,
          strict: true,
        }));
      } catch (error) {
        return usageError(error instanceof Error ? error.message : String(error));
      }
      if (values.help === true) {
        process.stdout.write(USAGE);
        return 0;
      }
      await runDemo({ fast: values.fast === true, timeline: values.timeline === true });
      return 0;
    }
    case 'top':
    case 'dump':
      process.stderr.write(`cmwq ${command}: not implemented yet (coming in a later release). Try: cmwq demo\n`);
      return 2;
    default:
      return usageError(`unknown command ${JSON.stringify(command)}`);
  }
}

// `cmwq demo | head`: a reader that goes away is not an error worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`cmwq: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
