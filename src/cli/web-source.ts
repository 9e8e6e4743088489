/**
 * Where the dashboard's data comes from. The server (web.ts) reads a DashboardSource and never knows what is
 * behind it: a program run with the monitor agent (ProgramSource, here), or a cluster's shared workqueues read
 * from PostgreSQL (BackendSource, web-backend.ts, for `cmwq web --backend <url>`), which passes the same updates
 * (wqMonitor rows, and a snapshot whose pools are the cluster's nodes).
 */
import type { ChildProcess } from 'node:child_process';
import type { WebSnapshot, WqMonitorRow } from '../index.js';
import { watchProgram } from './watched.js';

/** One report for the dashboard: the workqueue rows, and what the recorder saw since the previous report. */
export interface DashboardUpdate {
  time: number;
  /** The program's last report (it is exiting). */
  final: boolean;
  rows: WqMonitorRow[];
  snapshot: WebSnapshot;
}

/** What the dashboard shows of the thing it watches. */
export interface DashboardStatus {
  state: 'starting' | 'running' | 'exited';
  /** The exit code, once exited. */
  code: number | null;
  /** Its process id, when it is one process. */
  pid: number | null;
}

/** Where a source sends what it reads. */
export interface DashboardSink {
  update(update: DashboardUpdate): void;
  status(status: DashboardStatus): void;
}

/** A source of dashboard updates (see the header). */
export interface DashboardSource {
  /** What is watched, for the page's title (a command line, a backend's address). */
  readonly title: string;
  /** Reads until the watched thing ends; resolves its exit code. */
  run(sink: DashboardSink): Promise<number>;
  /** Asks the watched thing to stop (a signal for a program). */
  stop(signal: NodeJS.Signals): void;
}

/** A Node program run with the monitor agent in web mode, reporting every intervalMs. */
export class ProgramSource implements DashboardSource {
  readonly title: string;
  private child: ChildProcess | null = null;

  /**
   * @param command the program (`node app.js ...` or `app.js ...`)
   * @param intervalMs how often the agent reports
   */
  constructor(
    private readonly command: string[],
    private readonly intervalMs: number,
  ) {
    this.title = command.join(' ');
  }

  /** Runs the program, feeding its reports to sink; resolves its exit code. */
  run(sink: DashboardSink): Promise<number> {
    sink.status({ state: 'starting', code: null, pid: null });
    const exited = watchProgram(this.command, {
      intervalMs: this.intervalMs,
      output: 'inherit',
      env: { CMWQ_MONITOR_MODE: 'web' },
      onSpawn: (child) => {
        this.child = child;
        sink.status({ state: 'running', code: null, pid: child.pid ?? null });
      },
      onReport: (report) => {
        if (report.type === 'web') sink.update(report as unknown as DashboardUpdate);
      },
    });
    return exited.then((code: number) => {
      sink.status({ state: 'exited', code, pid: this.child?.pid ?? null });
      this.child = null;
      return code;
    });
  }

  /** Sends signal to the program, if it runs. */
  stop(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }
}
