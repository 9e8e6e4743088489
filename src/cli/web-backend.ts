/**
 * `cmwq web --backend <url>`: the dashboard for a cluster of shared workqueues, read from PostgreSQL alone (no
 * process is attached, as for `cmwq top --backend`). A DashboardSource (web-source.ts): the server and the page
 * are those of `cmwq web -- <command>`.
 *
 * How: every interval it reads each queue's cluster-wide figures and the items running now (the live leases),
 * both from one snapshot (backend.clusterView()), so a row's in-flight count is the number of its lanes. The
 * figures become wqMonitor rows (started = runs completed + in flight, failed, pending, in flight; the columns only
 * a process measures, CPU time, CMW, rescues and the percentiles, are 0). Each node holding leases is a pool (an
 * unbound one: cpu -1) and each item it runs a worker lane `<pool id>/<node>#<slot>`; slots are reused as items
 * end, so lanes stay put. An item seen running at one read and gone (or running under another lease) at the next becomes an execution on the timeline, from
 * the read that first saw it to the read that saw it gone: the timeline has the interval's resolution, and items
 * shorter than an interval may not appear at all (the counts in the table are exact). A failed read is logged on
 * the page and retried at the next interval (the backend's pool reconnects by itself).
 *
 * Invariants: nothing is written to the database; at most MAX_RUNNING running items are read per interval.
 */
import type { PostgresBackend, SharedQueueRow, SharedRunningItem } from 'cmwq/postgres';
import type { WebExec, WebLogEntry, WebPool, WebWorker, WqMonitorRow } from '../index.js';
import type { DashboardSink, DashboardSource } from './web-source.js';

/** Running items read per interval at most. */
const MAX_RUNNING = 1000;

/** One running item as this source tracks it between reads. */
interface Seen {
  readonly lane: string;
  readonly slot: number;
  readonly node: string;
  readonly func: string;
  readonly queue: string;
  /** The read that first saw it, epoch ms. */
  readonly since: number;
}

/** The wqMonitor row a shared queue's cluster-wide figures make. */
export function monitorRow(q: SharedQueueRow): WqMonitorRow {
  return {
    name: q.name,
    total: q.runs + q.infl,
    infl: q.infl,
    cpuTime: 0,
    cpuIntensive: 0,
    cmWakeup: 0,
    mayday: 0,
    rescued: 0,
    failed: q.failures,
    pending: q.pending,
    waitP50: 0,
    waitP99: 0,
    runP50: 0,
    runP99: 0,
  };
}

/** The password of a connection string replaced by `***`, for the page's title. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'PostgreSQL';
  }
}

/** A cluster's shared workqueues, read from the database every intervalMs (see the header). */
export class BackendSource implements DashboardSource {
  readonly title: string;
  private stopped = false;
  private wake: () => void = () => {};
  /** Running items by lease. */
  private seen = new Map<string, Seen>();
  /** Pool ids by node, in the order nodes were first seen. */
  private readonly poolIds = new Map<string, number>();
  /** Slots in use per node. */
  private readonly slots = new Map<string, Set<number>>();

  /**
   * @param url - The PostgreSQL connection string.
   * @param intervalMs - How often to read, ms.
   * @param connect - Makes the backend (tests and the CLI pass postgresBackend from cmwq/postgres).
   */
  constructor(
    private readonly url: string,
    private readonly intervalMs: number,
    private readonly connect: (url: string) => Promise<PostgresBackend>,
  ) {
    this.title = `shared workqueues at ${redactUrl(url)}`;
  }

  /** Reads until stop(); resolves 0, or 1 when the database cannot be reached at the start. */
  async run(sink: DashboardSink): Promise<number> {
    sink.status({ state: 'starting', code: null, pid: null });
    let backend: PostgresBackend;
    try {
      backend = await this.connect(this.url);
    } catch (error) {
      process.stderr.write(`cmwq web: ${(error as Error).message}\n`);
      sink.status({ state: 'exited', code: 1, pid: null });
      return 1;
    }
    sink.status({ state: 'running', code: null, pid: null });
    try {
      while (!this.stopped) {
        await this.read(backend, sink);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.intervalMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      await backend.close();
    }
    sink.status({ state: 'exited', code: 0, pid: null });
    return 0;
  }

  /** Ends the reads (any signal). */
  stop(_signal: NodeJS.Signals): void {
    this.stopped = true;
    this.wake();
  }

  private async read(backend: PostgresBackend, sink: DashboardSink): Promise<void> {
    let queues: SharedQueueRow[];
    let running: SharedRunningItem[];
    try {
      ({ queues, running } = await backend.clusterView(MAX_RUNNING));
    } catch (error) {
      const log: WebLogEntry[] = [{ time: Date.now(), kind: 'warning', text: (error as Error).message }];
      sink.update({ time: Date.now(), final: false, rows: [], snapshot: this.snapshot(Date.now(), [], log) });
      return;
    }
    const time = Date.now();
    const execs = this.track(running, time);
    sink.update({ time, final: false, rows: queues.map(monitorRow), snapshot: this.snapshot(time, execs, []) });
  }

  /** Updates the running set from a read; returns the executions that ended since the previous one. */
  private track(running: SharedRunningItem[], time: number): WebExec[] {
    const next = new Map<string, Seen>();
    for (const item of running) {
      const old = this.seen.get(item.lease);
      if (old !== undefined) {
        next.set(item.lease, old);
        this.seen.delete(item.lease);
        continue;
      }
      let pool = this.poolIds.get(item.node);
      if (pool === undefined) this.poolIds.set(item.node, (pool = this.poolIds.size));
      let used = this.slots.get(item.node);
      if (used === undefined) this.slots.set(item.node, (used = new Set()));
      let slot = 0;
      while (used.has(slot)) slot++;
      used.add(slot);
      const lane = `${pool}/${item.node}#${slot}`;
      next.set(item.lease, { lane, slot, node: item.node, func: item.func, queue: item.queue, since: time });
    }
    const ended: WebExec[] = [];
    for (const gone of this.seen.values()) {
      this.slots.get(gone.node)?.delete(gone.slot);
      ended.push({ lane: gone.lane, start: gone.since, end: time, func: gone.func, workqueue: gone.queue, flags: 0 });
    }
    this.seen = next;
    return ended;
  }

  private snapshot(time: number, execs: WebExec[], log: WebLogEntry[]) {
    const pools = new Map<string, WebPool>();
    const workers: WebWorker[] = [];
    for (const s of this.seen.values()) {
      const id = this.poolIds.get(s.node)!;
      let pool = pools.get(s.node);
      if (pool === undefined) {
        pool = { id, cpu: -1, highpri: false, bh: false, worklist: 0, workers: 0, idle: 0 };
        pools.set(s.node, pool);
      }
      pool.workers++;
      workers.push({
        lane: s.lane,
        name: `${s.node}#${s.slot}`,
        pool: id,
        state: 'running',
        func: s.func,
        workqueue: s.queue,
        since: s.since,
        threadId: 0,
      });
    }
    return {
      time,
      pools: [...pools.values()].sort((a, b) => a.id - b.id),
      workers,
      execs,
      dropped: 0,
      coverage: 1,
      histograms: [],
      log,
    };
  }
}
