/**
 * The monitor registry: every cmwq instance loaded in a process registers its readers on a process-wide list
 * (a global symbol), so that the monitor agent that `cmwq top`, `dump`, `web` and `trace` preload with --import
 * finds the application's cmwq whatever path it was imported from, without importing cmwq itself.
 *
 * An agent that must act as soon as cmwq loads (to trace from the first item) sets the global hook
 * Symbol.for('cmwq.onMonitorSource'): each instance calls it with its source as it registers, and sources
 * registered earlier are passed to it by the agent itself from the list.
 */
import {
  destroyedRows,
  showAllWorkqueues,
  systemNames,
  wqDump,
  type WqDump,
  type WqMonitorRow,
  wqMonitor,
} from './monitor.js';
import { type WebSnapshot, webSnapshot } from './recorder.js';
import { type WqTrace, type WqTraceOptions, wqTraceStart, wqTraceStop } from './trace.js';

/** What one cmwq instance offers the agent. */
export interface MonitorSource {
  wqMonitor(): WqMonitorRow[];
  wqDump(): WqDump;
  showAllWorkqueues(): string;
  /** The final rows of the workqueues destroyed so far (the last 64), oldest first. */
  destroyedRows?(): WqMonitorRow[];
  /** The names of the system workqueues. */
  systemNames?(): string[];
  /** The dashboard's recorder: what is new since the previous call (starts recording on the first). */
  webSnapshot?(): WebSnapshot;
  wqTraceStart?(options?: WqTraceOptions): void;
  wqTraceStop?(): WqTrace;
}

/** The global key of the process-wide list of MonitorSources. */
export const MONITOR_SOURCES = Symbol.for('cmwq.monitorSources');
/** The global key of the agent's hook, called with each MonitorSource as it registers. */
export const ON_MONITOR_SOURCE = Symbol.for('cmwq.onMonitorSource');

const global = globalThis as Record<symbol, unknown>;
const registry = (global[MONITOR_SOURCES] ??= []) as MonitorSource[];
const source: MonitorSource = {
  wqMonitor,
  wqDump,
  showAllWorkqueues,
  destroyedRows,
  systemNames,
  webSnapshot,
  wqTraceStart,
  wqTraceStop,
};
registry.push(source);
(global[ON_MONITOR_SOURCE] as ((source: MonitorSource) => void) | undefined)?.(source);
