#!/usr/bin/env node
/**
 * The `cmwq` command line.
 *
 *   cmwq demo [--fast] [--timeline]   the workqueue demo module, run for real (src/cli/demo.ts)
 *   cmwq top -- <command>             wqMonitor live for a Node program (src/cli/top.ts)
 *   cmwq dump -- <command>            wqDump and showAllWorkqueues at a program's exit, and on SIGUSR2
 *   cmwq web -- <command>             the live dashboard for a Node program (src/cli/web.ts)
 *   cmwq web --backend <url>          the live dashboard for a cluster's shared workqueues (src/cli/web-backend.ts)
 *   cmwq trace -- <command>           a Chrome Trace Event file of a program's work items (src/cli/trace.ts)
 *
 * Exit codes: 0 success, 1 the command failed, 2 usage error; top and dump exit with the program's own exit code.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runDemo } from './demo.js';
import { runDump, runTop } from './top.js';
import { runTrace } from './trace.js';
import { runWeb, runWebBackend } from './web.js';

const USAGE = `Usage: cmwq <command> [options]

Commands:
  demo [--fast] [--timeline] [--web]
                               Run the workqueue demo module: an immediate work, a self-rescheduling
                               delayed work, a periodic work and a dedicated workqueue with numbered
                               items (run on a worker thread), then cancellation and destruction at
                               unload, printed dmesg style with worker names and thread ids.
      --fast                   Divide every delay by 20 (the demo takes about a second).
      --shared [--url <pg>]    The dedicated workqueue shared by three processes through PostgreSQL (a
                               throw-away embedded server unless --url or DATABASE_URL), one killed mid-item.
      --timeline               At the end, print which worker ran which function, when.
      --web                    Run it in the live dashboard (cmwq web): open the printed address; the
                               demo starts when the page is open.
  top [--json] [--all] [--interval ms] [regex...] -- <command...>
                               Run a program (node app.js, app.js, npx tsx app.ts, npm start, ...)
                               with cmwq's monitor attached and show wqMonitor() live, one row per
                               workqueue (those matching a regex), refreshed every interval (1000 ms),
                               like the kernel's wq_monitor.py. Idle system workqueues are hidden
                               unless --all; destroyed ones keep their final row. On a terminal the
                               table stays in place with the program's output under it (written out
                               in full at exit); otherwise the program's output goes to stderr.
                               --json prints one JSON object per refresh.
  top --backend <url> [--json] [--interval ms] [--count n]
                               Watch a cluster's shared workqueues from PostgreSQL alone (pending, in
                               flight, items, runs, failures per queue), attached to no process.
  dump [--json] -- <command...>
                               Run a program and print wqDump() and showAllWorkqueues() when it
                               exits, and each time its Node process receives SIGUSR2. With --json
                               the program's stdout goes to stderr.
  web [--port N] [--exit] -- <command...>
                               Run a program (as top does) with cmwq's monitor attached and serve a live
                               dashboard on 127.0.0.1 (the address is printed on stderr): workqueues,
                               pools and workers, a timeline of executions per worker, queue-wait and
                               run-time histograms, CPU hogs and lockups; Prometheus metrics at
                               /metrics. --port: the port (default: any free one). The dashboard stays
                               up after the program exits until Ctrl-C; --exit: exit with the program.
  web --backend <url> [--port N] [--interval ms]
                               The dashboard for a cluster's shared workqueues, read from PostgreSQL
                               alone every interval (1000 ms), attached to no process: the queues'
                               cluster-wide figures, each node's running items, /metrics. Until Ctrl-C.
  trace [-o FILE] -- <command...>
                               Run a program (as top does) and write its work items' queueing, activation and
                               execution as a Chrome Trace Event file (default cmwq-trace.json) when
                               it exits: open it in ui.perfetto.dev or chrome://tracing.
  help                         Show this help.

Options:
  -h, --help                   Show this help.
  -v, --version                Print cmwq's version.
`;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
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
      const parsed = parseOptions(
        rest,
        {
          fast: { type: 'boolean' },
          timeline: { type: 'boolean' },
          shared: { type: 'boolean' },
          web: { type: 'boolean' },
          url: { type: 'string' },
        },
        false,
      );
      if (typeof parsed === 'number') return parsed;
      if (parsed.values.web === true) {
        const demo = [process.execPath, fileURLToPath(import.meta.url), 'demo'];
        if (parsed.values.fast === true) demo.push('--fast');
        if (parsed.values.timeline === true) demo.push('--timeline');
        return runWeb(demo, { waitForPage: true });
      }
      if (parsed.values.shared === true) {
        const { runSharedDemo } = await import('./demo-shared.js');
        await runSharedDemo((parsed.values.url as string | undefined) ?? process.env.DATABASE_URL);
        return 0;
      }
      await runDemo({ fast: parsed.values.fast === true, timeline: parsed.values.timeline === true });
      return 0;
    }
    case 'top':
      if (rest.includes('--backend')) return topBackend(rest);
      return watch(command, rest);
    case 'dump':
      return watch(command, rest);
    case 'web':
      if (rest.includes('--backend') && !rest.includes('--')) return webBackend(rest);
      return watchWith(command, rest);
    case 'trace':
      return watchWith(command, rest);
    default:
      return usageError(`unknown command ${JSON.stringify(command)}`);
  }
}

type OptionSpec = Record<string, { type: 'boolean' | 'string'; short?: string }>;

/**
 * Parses a subcommand's options (plus -h/--help). Returns the exit code instead when there is nothing more to
 * do: 0 after printing the help, 2 after a usage error.
 */
function parseOptions(
  args: string[],
  options: OptionSpec,
  allowPositionals: boolean,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } | number {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals,
      strict: true,
    });
  } catch (error) {
    return usageError(error instanceof Error ? error.message : String(error));
  }
  if (parsed.values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  return parsed as { values: Record<string, string | boolean | undefined>; positionals: string[] };
}

/** `cmwq top --backend <url> [--json] [--interval ms] [--count n]`: a cluster's shared workqueues. */
async function topBackend(args: string[]): Promise<number> {
  const parsed = parseOptions(
    args,
    { backend: { type: 'string' }, json: { type: 'boolean' }, interval: { type: 'string' }, count: { type: 'string' } },
    false,
  );
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  if (typeof values.backend !== 'string') return usageError('top --backend needs a PostgreSQL URL');
  const intervalMs = values.interval === undefined ? 1000 : Number(values.interval);
  const count = values.count === undefined ? undefined : Number(values.count);
  if (!(intervalMs >= 10)) return usageError('--interval must be a number of ms >= 10');
  if (count !== undefined && !(Number.isInteger(count) && count >= 1)) return usageError('--count must be >= 1');
  const { runTopBackend } = await import('./top-backend.js');
  return runTopBackend(values.backend, { json: values.json === true, intervalMs, count });
}

/** `cmwq web --backend <url> [--port N] [--interval ms]`: the dashboard for a cluster's shared workqueues. */
async function webBackend(args: string[]): Promise<number> {
  const parsed = parseOptions(
    args,
    { backend: { type: 'string' }, port: { type: 'string' }, interval: { type: 'string' } },
    false,
  );
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  if (typeof values.backend !== 'string') return usageError('web --backend needs a PostgreSQL URL');
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!(Number.isInteger(port) && port >= 0 && port < 65536))
    return usageError(`--port must be a port number (0 for any free one), got ${String(values.port)}`);
  const intervalMs = values.interval === undefined ? 1000 : Number(values.interval);
  if (!(intervalMs >= 10)) return usageError('--interval must be a number of ms >= 10');
  return runWebBackend(values.backend, { port, intervalMs });
}

/** `cmwq top [--json] [--all] [--interval ms] [regex] -- <command...>` and `cmwq dump [--json] -- <command...>`. */
async function watch(command: 'top' | 'dump', args: string[]): Promise<number> {
  const dashes = args.indexOf('--');
  if (dashes < 0 || dashes === args.length - 1)
    return usageError(`${command} needs a command after --, e.g. cmwq ${command} -- node app.js`);
  const parsed = parseOptions(
    args.slice(0, dashes),
    command === 'top'
      ? { json: { type: 'boolean' }, all: { type: 'boolean' }, interval: { type: 'string' } }
      : { json: { type: 'boolean' } },
    command === 'top',
  );
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const program = args.slice(dashes + 1);
  if (command === 'dump') return runDump(program, { json: values.json === true });
  const intervalMs = values.interval === undefined ? 1000 : Number(values.interval);
  if (!(Number.isFinite(intervalMs) && intervalMs > 0))
    return usageError(`--interval must be a number of milliseconds, got ${String(values.interval)}`);
  let filter: RegExp | undefined;
  if (positionals.length > 0) {
    try {
      filter = new RegExp(positionals.join('|'));
    } catch (error) {
      return usageError(`bad filter: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return runTop(program, { json: values.json === true, all: values.all === true, intervalMs, filter });
}

/** The program after `--` in args, or a usage error's exit code. */
function programAfterDashes(command: string, args: string[]): { options: string[]; program: string[] } | number {
  const dashes = args.indexOf('--');
  if (dashes < 0 || dashes === args.length - 1)
    return usageError(`${command} needs a command after --, e.g. cmwq ${command} -- node app.js`);
  return { options: args.slice(0, dashes), program: args.slice(dashes + 1) };
}

/** `cmwq web [--port N] [--exit] -- <command...>` and `cmwq trace [-o FILE] -- <command...>`. */
async function watchWith(command: 'web' | 'trace', args: string[]): Promise<number> {
  const split = programAfterDashes(command, args);
  if (typeof split === 'number') return split;
  if (command === 'trace') {
    const parsed = parseOptions(split.options, { output: { type: 'string', short: 'o' } }, false);
    if (typeof parsed === 'number') return parsed;
    return runTrace(split.program, { file: parsed.values.output as string | undefined });
  }
  const parsed = parseOptions(split.options, { port: { type: 'string' }, exit: { type: 'boolean' } }, false);
  if (typeof parsed === 'number') return parsed;
  const port = parsed.values.port === undefined ? 0 : Number(parsed.values.port);
  if (!(Number.isInteger(port) && port >= 0 && port < 65536))
    return usageError(`--port must be a port number (0 for any free one), got ${String(parsed.values.port)}`);
  return runWeb(split.program, { port, exitWithProgram: parsed.values.exit === true });
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
