/**
 * Scenario "web": what watching a program with `cmwq web` costs the program. The same program
 * (tasks/web-load.ts) runs in its own process, alternately plain and under the dashboard: the monitor agent
 * preloaded in web mode (its recorder subscribed to every execution, a report every 250 ms) and this process
 * serving the real dashboard server, with one page's event stream connected and read. Two loads:
 *
 *   steady   500,000 items of ~8 µs each, about 100,000 items a second: the overhead must stay a few percent;
 *   tiny     1,000,000 empty handlers at full speed: the agent's cost per item, in nanoseconds.
 *
 * Medians of RUNS runs per contender; ratios printed.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProgramSource } from '../src/cli/web-source.js';
import { startDashboard } from '../src/cli/web.js';
import {
  check,
  fmtPct,
  fmtRate,
  heading,
  median,
  newReport,
  printTable,
  type ScenarioReport,
  scaled,
} from './harness.js';

const program = fileURLToPath(new URL('./tasks/web-load.js', import.meta.url));
const RUNS = 5;
const TARGET = 0.05;

interface Result {
  items: number;
  ms: number;
}

/** Runs the program plainly; resolves what it printed. */
function plain(mode: string, n: number): Promise<Result> {
  const resultFile = join(tmpdir(), `cmwq-bench-web-${process.pid}.json`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [program, mode, String(n), resultFile], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(readFileSync(resultFile, 'utf8')) as Result) : reject(new Error(`exit ${code}`)),
    );
  });
}

/** Runs the program under the dashboard (agent + server + one connected page); resolves what it printed. */
async function watched(mode: string, n: number): Promise<Result & { execs: number }> {
  const resultFile = join(tmpdir(), `cmwq-bench-web-${process.pid}.json`);
  const source = new ProgramSource([process.execPath, program, mode, String(n), resultFile], 250);
  const dashboard = await startDashboard(source, { intervalMs: 250 });
  const response = await fetch(`${dashboard.url}events`);
  const reader = response.body!.getReader();
  let streamed = 0;
  const reading = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      streamed += value.length;
    }
  })();
  try {
    const code = await source.run(dashboard.sink);
    if (code !== 0) throw new Error(`exit ${code}`);
  } finally {
    await reader.cancel().catch(() => {});
    await reading.catch(() => {});
    await dashboard.close();
  }
  if (streamed === 0) throw new Error('the page received nothing');
  return { ...(JSON.parse(readFileSync(resultFile, 'utf8')) as Result), execs: dashboard.state().execs.length };
}

export async function run(): Promise<ScenarioReport> {
  const report = newReport('web');
  heading(
    'Watching with cmwq web: program throughput plain and under the dashboard (each run its own process)',
    `medians of ${RUNS} runs each, alternating`,
  );
  const rows: string[][] = [];
  for (const [mode, n] of [
    ['steady', scaled(500_000)],
    ['tiny', scaled(1_000_000)],
  ] as const) {
    const bare: number[] = [];
    const under: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const a = await plain(mode, n);
      bare.push((a.items * 1000) / a.ms);
      const b = await watched(mode, n);
      under.push((b.items * 1000) / b.ms);
    }
    const p = median(bare);
    const w = median(under);
    const overhead = p / w - 1;
    const nsPerItem = (1e9 / w - 1e9 / p) | 0;
    report.figures[`${mode}.plain`] = p;
    report.figures[`${mode}.web`] = w;
    report.figures[`${mode}.overhead`] = overhead;
    report.figures[`${mode}.nsPerItem`] = nsPerItem;
    rows.push([mode, fmtRate(p), fmtRate(w), fmtPct(overhead), `${nsPerItem} ns`]);
  }
  printTable(['load', 'plain', 'under cmwq web', 'time added', 'per item'], rows);
  const steady = report.figures['steady.overhead'];
  check(report, {
    label: 'cmwq web at ~100,000 items/s: time added to the program',
    value: steady,
    shown: fmtPct(steady),
    target: `<= ${TARGET * 100}%`,
    holds: steady <= TARGET,
  });
  return report;
}
