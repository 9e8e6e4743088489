/**
 * `cmwq web [--port N] -- <command>`: the live dashboard. An HTTP server on 127.0.0.1 serves the page (static
 * files from ./web/, shipped in the package: no CDN, works offline), a server-sent event stream of updates, and
 * Prometheus metrics, all read from a DashboardSource (web-source.ts): the program run with the agent, or a
 * cluster's shared workqueues read from PostgreSQL (`cmwq web --backend <url>`, web-backend.ts).
 *
 *   GET /               the page (index.html, dashboard.js, dashboard.css)
 *   GET /events         text/event-stream: `hello` with the whole state on connect, then `update` per report
 *   GET /metrics        wqMetrics() of the latest rows (text/plain; version=0.0.4)
 *   GET /state.json     the whole state, as `hello` carries it
 *
 * The server keeps the latest rows, pools, workers and histograms, and a backlog of recent executions
 * (BACKLOG_MS, at most BACKLOG_MAX) and log entries, so that a page opened late still sees the recent past. It
 * does the merging, the program only samples (recorder.ts), so a busy program pays for neither the page nor the
 * number of pages open. After the program exits the dashboard stays up, frozen, until Ctrl-C (or exits with the
 * program with --exit).
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebExec, type WebLogEntry, type WebSnapshot, type WqMonitorRow, wqMetrics } from '../index.js';
import { BackendSource } from './web-backend.js';
import {
  type DashboardSink,
  type DashboardSource,
  type DashboardStatus,
  type DashboardUpdate,
  ProgramSource,
} from './web-source.js';

/** Executions the server keeps for a page that connects: the last BACKLOG_MS, at most BACKLOG_MAX. */
const BACKLOG_MS = 60_000;
const BACKLOG_MAX = 20_000;
const LOG_MAX = 500;
const PING_MS = 15_000;

const ASSETS: Record<string, [file: string, type: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/dashboard.js': ['dashboard.js', 'text/javascript; charset=utf-8'],
  '/dashboard.css': ['dashboard.css', 'text/css; charset=utf-8'],
};

/** The whole state, as a page receives it on connect. */
export interface DashboardState {
  title: string;
  status: DashboardStatus;
  time: number;
  rows: WqMonitorRow[];
  pools: WebSnapshot['pools'];
  workers: WebSnapshot['workers'];
  histograms: WebSnapshot['histograms'];
  execs: WebExec[];
  log: WebLogEntry[];
  dropped: number;
  /** The share of the last period the program recorded executions in (1: all of them). */
  coverage: number;
  intervalMs: number;
}

/** What startDashboard() takes. */
export interface DashboardOptions {
  /** 0 (default): any free port. */
  port?: number;
  /** How often the source reports, ms (the page uses it to tell a stalled program). */
  intervalMs: number;
}

/** A running dashboard server. */
export interface Dashboard {
  url: string;
  /** A DashboardSink that feeds the page. */
  sink: DashboardSink;
  /** Resolves when the first page connects to the event stream. */
  firstPage: Promise<void>;
  state(): DashboardState;
  close(): Promise<void>;
}

/** Starts the dashboard server on 127.0.0.1 for source's data; resolves once it listens. */
export async function startDashboard(source: DashboardSource, options: DashboardOptions): Promise<Dashboard> {
  const assetDir = new URL('./web/', import.meta.url);
  const assets = new Map<string, Buffer>();
  for (const [file] of Object.values(ASSETS))
    if (!assets.has(file)) assets.set(file, await readFile(new URL(file, assetDir)));

  const state: DashboardState = {
    title: source.title,
    status: { state: 'starting', code: null, pid: null },
    time: Date.now(),
    rows: [],
    pools: [],
    workers: [],
    histograms: [],
    execs: [],
    log: [],
    dropped: 0,
    coverage: 1,
    intervalMs: options.intervalMs,
  };
  const clients = new Set<ServerResponse>();
  let pageConnected!: () => void;
  const firstPage = new Promise<void>((resolve) => (pageConnected = resolve));

  const broadcast = (event: string, data: unknown): void => {
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const client of clients) client.write(text);
  };

  const sink: DashboardSink = {
    update(update: DashboardUpdate) {
      const { snapshot } = update;
      state.time = update.time;
      state.rows = update.rows;
      state.pools = snapshot.pools;
      state.workers = snapshot.workers;
      state.histograms = snapshot.histograms;
      state.dropped += snapshot.dropped;
      state.coverage = snapshot.coverage;
      for (const exec of snapshot.execs) state.execs.push(exec);
      const horizon = update.time - BACKLOG_MS;
      let cut = Math.max(0, state.execs.length - BACKLOG_MAX);
      while (cut < state.execs.length && state.execs[cut].end < horizon) cut++;
      if (cut > 0) state.execs.splice(0, cut);
      for (const entry of snapshot.log) state.log.push(entry);
      if (state.log.length > LOG_MAX) state.log.splice(0, state.log.length - LOG_MAX);
      broadcast('update', {
        time: update.time,
        final: update.final,
        rows: update.rows,
        pools: snapshot.pools,
        workers: snapshot.workers,
        histograms: snapshot.histograms,
        execs: snapshot.execs,
        log: snapshot.log,
        dropped: state.dropped,
        coverage: snapshot.coverage,
      });
    },
    status(status: DashboardStatus) {
      state.status = status;
      broadcast('status', status);
    },
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const asset = ASSETS[path];
    if (asset !== undefined) {
      res.writeHead(200, { 'content-type': asset[1], 'cache-control': 'no-cache' }).end(assets.get(asset[0]));
      return;
    }
    switch (path) {
      case '/events': {
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
        });
        res.write(`retry: 1000\nevent: hello\ndata: ${JSON.stringify(state)}\n\n`);
        clients.add(res);
        req.on('close', () => clients.delete(res));
        pageConnected();
        return;
      }
      case '/metrics':
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(wqMetrics(state.rows));
        return;
      case '/state.json':
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(state));
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const ping = setInterval(() => {
    for (const client of clients) client.write(': ping\n\n');
  }, PING_MS);
  ping.unref();
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    sink,
    firstPage,
    state: () => state,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(ping);
        for (const client of clients) client.end();
        clients.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** What runWeb() takes. */
export interface WebOptions {
  port?: number;
  /** Report interval, ms (default 250). */
  intervalMs?: number;
  /** Stop the server and exit with the program (default: stay up, frozen, until SIGINT or SIGTERM). */
  exitWithProgram?: boolean;
  /** Start the program only once a page has connected (the demo: so that the newcomer sees it from the start). */
  waitForPage?: boolean;
  /** Where the address and notes go (default: stderr). */
  err?: NodeJS.WritableStream;
}

/**
 * Runs command under the dashboard: prints the address on a line of its own, runs the program with the agent,
 * serves the page; resolves the program's exit code once the dashboard closes.
 */
export function runWeb(command: string[], options: WebOptions = {}): Promise<number> {
  const intervalMs = options.intervalMs ?? 250;
  return serve(new ProgramSource(command, intervalMs), intervalMs, options);
}

/**
 * `cmwq web --backend <url>`: serves the dashboard for the shared workqueues of the database at url, attached to
 * no process (web-backend.ts), until SIGINT or SIGTERM; resolves 0 then, or 1 if the database cannot be reached.
 */
export async function runWebBackend(url: string, options: WebOptions = {}): Promise<number> {
  const { postgresBackend } = await import('cmwq/postgres');
  const intervalMs = options.intervalMs ?? 1000;
  const source = new BackendSource(url, intervalMs, (connectionString) =>
    postgresBackend({ connectionString, max: 2 }),
  );
  return serve(source, intervalMs, { ...options, exitWithProgram: true });
}

/** Serves source's dashboard until the source ends and, unless exitWithProgram, a signal. */
async function serve(source: DashboardSource, intervalMs: number, options: WebOptions): Promise<number> {
  const err = options.err ?? process.stderr;
  const dashboard = await startDashboard(source, { port: options.port, intervalMs });
  err.write(`${dashboard.url}\n`);
  let stopping: NodeJS.Signals | null = null;
  let programDone = false;
  let wake: () => void = () => {};
  const onSignal = (signal: NodeJS.Signals) => {
    stopping = signal;
    if (!programDone) source.stop(signal);
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (options.waitForPage === true) {
      err.write('cmwq web: the program starts when the page is open\n');
      await Promise.race([dashboard.firstPage, new Promise<void>((resolve) => (wake = resolve))]);
      if (stopping !== null) return 130;
    }
    const code = await source.run(dashboard.sink);
    programDone = true;
    if (options.exitWithProgram !== true && stopping === null) {
      err.write(
        `cmwq web: the program exited with code ${code}; the dashboard stays up at ${dashboard.url} (Ctrl-C)\n`,
      );
      await new Promise<void>((resolve) => (wake = resolve));
    }
    return code;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await dashboard.close();
  }
}
