/**
 * SPEC §8: `cmwq top -- <command>` shows a program's workqueues live (read here in --json mode), and
 * `cmwq dump -- <command>` prints wqDump and showAllWorkqueues when it exits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { runNode, type NodeRun } from './helpers.js';

const cli = fileURLToPath(new URL('../src/cli/cli.js', import.meta.url));
const app = fileURLToPath(new URL('../../test/fixtures/busy-app.mjs', import.meta.url));
const cmwq = new URL('../src/index.js', import.meta.url).href;

/** Runs the cmwq CLI with args; SIGTERM after 30 s. */
function run(args: string[]): Promise<NodeRun> {
  return runNode([cli, ...args], { timeoutMs: 30_000, killSignal: 'SIGTERM' });
}

test("§8 cmwq top --json reports the program's workqueues while it runs and at exit; its output goes to stderr", async () => {
  const { code, stdout, stderr } = await run([
    'top',
    '--json',
    '--interval',
    '200',
    'testwq',
    '--',
    process.execPath,
    app,
    cmwq,
  ]);
  assert.equal(code, 0, stderr);
  const reports = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { final: boolean; rows: { name: string; total: number; infl: number }[] });
  assert.ok(reports.length >= 3, `several refreshes (${reports.length})`);
  for (const report of reports)
    assert.deepEqual(
      report.rows.map((r) => r.name),
      ['testwq'],
      'the filter keeps only testwq',
    );
  const last = reports[reports.length - 1];
  assert.equal(last.final, true, 'the last report is made at exit');
  assert.equal(last.rows[0].total, 20);
  assert.equal(last.rows[0].infl, 0);
  const totals = reports.map((r) => r.rows[0].total);
  assert.deepEqual(
    [...totals].sort((a, b) => a - b),
    totals,
    'totals only grow',
  );
  assert.ok(totals[0] < 20, 'an early report saw the program mid-way');
  assert.match(stderr, /app done after 20 runs/);
});

test('§8 cmwq dump prints wqDump and showAllWorkqueues at exit and on SIGUSR2, and passes the exit code through', async () => {
  const { code, stdout, stderr } = await run(['dump', '--', app, cmwq]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^cmwq dump \(exit\):$/m);
  assert.match(stdout, /"name": "testwq"/);
  assert.match(stdout, /"workerNames": \[/);
  assert.match(stdout, /Showing busy workqueues and worker pools:/);
  assert.match(stdout, /app done after 20 runs/, "the program's own output is passed through");
  const signalled = await run(['dump', '--', app, cmwq, '--usr2']);
  assert.equal(signalled.code, 0, signalled.stderr);
  const atSignal = signalled.stdout.indexOf('cmwq dump (SIGUSR2):');
  const atExit = signalled.stdout.indexOf('cmwq dump (exit):');
  assert.ok(
    atSignal >= 0 && atExit > atSignal,
    `a dump on SIGUSR2 while it runs, then one at exit:\n${signalled.stdout}`,
  );
  const failing = await run(['dump', '--', process.execPath, '-e', 'process.exitCode = 3']);
  assert.equal(failing.code, 3);
});
