/**
 * The benchmark runner: `npm run bench [-- <scenario>[:ctx]...] [--json=<file>]`.
 *
 * Each scenario runs in a child process of its own (same Node flags), with cmwq and its peers alternating inside
 * it, so that no scenario inherits another's heap or process-wide state (cmwq's async handlers, for one, turn on
 * AsyncLocalStorage's promise hooks for the rest of the process on Node 20). The parent collects each scenario's
 * figures and prints the summary of the targets of docs/guarantees.md §7; --json writes them to a file. Without a
 * scenario named, every scenario runs except those in NAMED_ONLY.
 */
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { hasGc, printTable, type ScenarioReport } from './harness.js';

const SCENARIOS: Record<string, () => Promise<{ run: () => Promise<ScenarioReport> }>> = {
  throughput: () => import('./throughput.js'),
  sleeping: () => import('./sleeping.js'),
  delayed: () => import('./delayed.js'),
  memory: () => import('./memory.js'),
  threads: () => import('./threads.js'),
  signalling: () => import('./signalling.js'),
  hot: () => import('./hot.js'),
  shared: () => import('./shared.js'),
  bullmq: () => import('./bullmq.js'),
  web: () => import('./web.js'),
};
// One row of the hot-path scenario: `hot-async`, `hot-starve`, ...
for (const row of (await import('./hot.js')).HOT_ROWS) {
  SCENARIOS[`hot-${row}`] = async () => ({ run: async () => (await import('./hot.js')).runRows([row]) });
}

/**
 * Scenarios only run when named (`npm run bench -- shared`): shared starts a PostgreSQL server and takes minutes;
 * bullmq needs a redis-server (apt-get install redis-server) as well.
 */
const NAMED_ONLY = new Set(['shared', 'bullmq']);

/**
 * `<scenario>:ctx` runs a scenario with workqueueInit({ asyncContext: true }): cmwq's async handlers then run
 * inside AsyncLocalStorage, which on Node 20 turns on promise hooks for the whole process (the cost the opt-in
 * documents).
 */
const NOCTX = ':ctx';

async function child(spec: string): Promise<void> {
  const noctx = spec.endsWith(NOCTX);
  const name = noctx ? spec.slice(0, -NOCTX.length) : spec;
  if (noctx) {
    const { workqueueInit } = await import('../src/index.js');
    workqueueInit({ asyncContext: true });
    console.log(`\n(${name} with workqueueInit({ asyncContext: true }))`);
  }
  const mod = await SCENARIOS[name]();
  const report = await mod.run();
  if (noctx) for (const c of report.checks) c.label = `${c.label} [asyncContext on]`;
  await new Promise<void>((resolve, reject) =>
    process.send!(report, (err: Error | null) => (err ? reject(err) : resolve())),
  );
  process.disconnect();
  // Nothing should keep a finished scenario alive; if something does, say what (this timer itself is unref'd).
  setTimeout(() => {
    console.error(
      `scenario ${name}: still alive 5 s after finishing; active resources:`,
      process.getActiveResourcesInfo(),
    );
  }, 5000).unref();
}

function runChild(name: string): Promise<ScenarioReport> {
  return new Promise((resolve, reject) => {
    const cp = fork(fileURLToPath(import.meta.url), ['--child', name], {
      execArgv: process.execArgv,
      stdio: 'inherit',
    });
    let report: ScenarioReport | null = null;
    cp.on('message', (m) => (report = m as ScenarioReport));
    cp.on('error', reject);
    cp.on('exit', (code, signal) => {
      if (report !== null && code === 0) resolve(report);
      else reject(new Error(`scenario ${name} failed (exit ${signal ?? code})`));
    });
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const childAt = args.indexOf('--child');
  if (childAt >= 0) return child(args[childAt + 1]);

  const json = args.find((a) => a.startsWith('--json='))?.slice('--json='.length);
  const names = args.filter((a) => !a.startsWith('--'));
  for (const n of names) {
    if (!(n.replace(NOCTX, '') in SCENARIOS)) {
      console.error(`unknown scenario "${n}"; known: ${Object.keys(SCENARIOS).join(', ')}`);
      process.exitCode = 2;
      return;
    }
  }
  const selected =
    names.length > 0
      ? names
      : [
          ...Object.keys(SCENARIOS).filter((n) => !n.startsWith('hot-') && !NAMED_ONLY.has(n)),
          `throughput${NOCTX}`,
          `sleeping${NOCTX}`,
        ];
  if (!hasGc)
    console.warn('warning: run with --expose-gc (npm run bench does): heap figures and between-run GCs need it');

  console.log(
    `cmwq benchmarks — Node ${process.version}, ${process.platform}/${process.arch}, ${availableParallelism()} CPUs`,
  );
  console.log(`scenarios: ${selected.join(', ')}`);
  const started = Date.now();
  const reports: ScenarioReport[] = [];
  for (const name of selected) reports.push(await runChild(name));

  console.log('\n== Summary: targets (docs/guarantees.md §7) ==');
  printTable(
    ['check', 'measured', 'target', 'verdict'],
    reports.flatMap((r) => r.checks.map((c) => [c.label, c.shown, c.target, c.holds ? 'holds' : 'MISSED'])),
  );
  console.log(`\n(total ${((Date.now() - started) / 1000).toFixed(0)} s)`);
  if (json !== undefined) {
    writeFileSync(json, JSON.stringify({ node: process.version, cpus: availableParallelism(), reports }, null, 2));
    console.log(`figures written to ${json}`);
  }
}

await main();
