/**
 * Prometheus metrics: the wqMonitor() columns in the Prometheus text exposition format (version 0.0.4), for an
 * application's own /metrics endpoint and for the dashboard server's.
 *
 * Every metric is labelled by workqueue. Counters (`_total`) are the cumulative columns (started, CPU time,
 * CPU-intensive segments, concurrency-management wake-ups, maydays, rescues, failures); gauges are the
 * instantaneous ones (in flight, pending) and the sampled queue-wait and run-time percentiles. Units follow
 * Prometheus's convention: seconds. Rows with the same workqueue name (the kernel allows two workqueues to share
 * one) are merged, counts summed and percentiles the larger, so that no series appears twice.
 */
import { type WqMonitorRow, wqMonitor } from './monitor.js';

type Column = keyof Omit<WqMonitorRow, 'name'>;

/** [metric name, type, help, column, scale to the metric's unit]. */
const METRICS: [string, 'counter' | 'gauge', string, Column, number][] = [
  ['cmwq_workqueue_started_total', 'counter', 'Work item handlers started.', 'total', 1],
  ['cmwq_workqueue_in_flight', 'gauge', 'Work item handlers executing now (running or sleeping).', 'infl', 1],
  [
    'cmwq_workqueue_cpu_seconds_total',
    'counter',
    "CPU time spent in the handlers' synchronous segments.",
    'cpuTime',
    1e-3,
  ],
  [
    'cmwq_workqueue_cpu_intensive_total',
    'counter',
    'Synchronous handler segments longer than the CPU-intensive threshold.',
    'cpuIntensive',
    1,
  ],
  [
    'cmwq_workqueue_cm_wakeups_total',
    'counter',
    'Concurrency-management wake-ups: a handler slept and another worker took the next item.',
    'cmWakeup',
    1,
  ],
  ['cmwq_workqueue_mayday_total', 'counter', 'Mayday requests to the rescuer.', 'mayday', 1],
  ['cmwq_workqueue_rescued_total', 'counter', 'Work items run by the rescuer.', 'rescued', 1],
  ['cmwq_workqueue_failed_total', 'counter', 'Work item handlers that threw or rejected.', 'failed', 1],
  ['cmwq_workqueue_pending', 'gauge', 'Work items queued (active or inactive) and not started.', 'pending', 1],
  ['cmwq_workqueue_queue_wait_p50_seconds', 'gauge', 'Median queue wait of sampled items.', 'waitP50', 1e-3],
  ['cmwq_workqueue_queue_wait_p99_seconds', 'gauge', '99th percentile queue wait of sampled items.', 'waitP99', 1e-3],
  ['cmwq_workqueue_run_p50_seconds', 'gauge', 'Median handler run time of sampled items.', 'runP50', 1e-3],
  ['cmwq_workqueue_run_p99_seconds', 'gauge', '99th percentile handler run time of sampled items.', 'runP99', 1e-3],
];

const PERCENTILES = new Set<Column>(['waitP50', 'waitP99', 'runP50', 'runP99']);

/** A label value with the exposition format's escapes (backslash, double quote, line feed). */
function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A sample value as the format writes it. */
function sampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function merge(rows: readonly WqMonitorRow[]): WqMonitorRow[] {
  const byName = new Map<string, WqMonitorRow>();
  for (const row of rows) {
    const seen = byName.get(row.name);
    if (seen === undefined) {
      byName.set(row.name, { ...row });
      continue;
    }
    for (const [, , , column] of METRICS) {
      seen[column] = PERCENTILES.has(column) ? Math.max(seen[column], row[column]) : seen[column] + row[column];
    }
  }
  return [...byName.values()];
}

/**
 * The wqMonitor() columns as Prometheus metrics, in the text exposition format (serve it with the content type
 * `text/plain; version=0.0.4`): one `# HELP` and `# TYPE` per metric, one sample per workqueue.
 * @param rows the rows to format; this thread's wqMonitor() by default (the dashboard passes the rows it got
 *   from the program it watches).
 * @returns the exposition text, ending with a line feed.
 */
export function wqMetrics(rows: readonly WqMonitorRow[] = wqMonitor()): string {
  const merged = merge(rows);
  const lines: string[] = [];
  for (const [name, type, help, column, scale] of METRICS) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const row of merged)
      lines.push(`${name}{workqueue="${labelValue(row.name)}"} ${sampleValue(row[column] * scale)}`);
  }
  return `${lines.join('\n')}\n`;
}
