/**
 * `cmwq top --backend <url>`: watches a cluster's shared workqueues from the database alone, without attaching to
 * any process: every interval it reads each queue's cluster-wide figures (pending, in flight, items, runs,
 * failures) and prints them as a table (or JSON lines with --json). `--count n` stops after n samples.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SharedQueueRow } from 'cmwq/postgres';

/** Options of runTopBackend(). */
export interface TopBackendOptions {
  json?: boolean;
  intervalMs?: number;
  /** Samples to print before exiting (default: until SIGINT). */
  count?: number;
}

const COLUMNS: (keyof SharedQueueRow)[] = ['name', 'maxActive', 'pending', 'infl', 'items', 'runs', 'failures'];

/** The rows as an aligned text table. */
export function formatQueues(rows: SharedQueueRow[]): string {
  const table = [COLUMNS.map(String), ...rows.map((r) => COLUMNS.map((c) => String(r[c])))];
  const widths = COLUMNS.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table
    .map((row) => row.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  '))
    .join('\n');
}

/**
 * Watches the shared workqueues of the database at url.
 * @returns the exit code (0; 1 when the database cannot be reached).
 */
export async function runTopBackend(url: string, options: TopBackendOptions = {}): Promise<number> {
  const { postgresBackend } = await import('cmwq/postgres');
  let backend: Awaited<ReturnType<typeof postgresBackend>>;
  try {
    backend = await postgresBackend({ connectionString: url, max: 1 });
  } catch (error) {
    process.stderr.write(`cmwq top: ${(error as Error).message}\n`);
    return 1;
  }
  let stop = false;
  const onSigint = () => {
    stop = true;
  };
  process.once('SIGINT', onSigint);
  try {
    for (let n = 0; !stop && (options.count === undefined || n < options.count); n++) {
      if (n > 0) await sleep(options.intervalMs ?? 1000);
      const rows = await backend.queueStats();
      if (options.json) process.stdout.write(`${JSON.stringify({ t: Date.now(), queues: rows })}\n`);
      else process.stdout.write(`${new Date().toISOString()}\n${formatQueues(rows)}\n\n`);
    }
  } catch (error) {
    process.stderr.write(`cmwq top: ${(error as Error).message}\n`);
    return 1;
  } finally {
    process.removeListener('SIGINT', onSigint);
    await backend.close();
  }
  return 0;
}
