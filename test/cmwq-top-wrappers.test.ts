/**
 * `cmwq top` and `cmwq dump` as a new user types them: through wrappers (npx tsx app.ts), with a program that
 * destroys its workqueues at shutdown (the exit report keeps their final rows), idle system workqueues hidden
 * unless --all, `dump --json` kept clean of the program's stdout, the terminal view (alternate screen, the
 * program's output written out at exit), and the README's own command.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runTop } from '../src/cli/top.js';
import { runNode, type NodeRun } from './helpers.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const cli = fileURLToPath(new URL('../src/cli/cli.js', import.meta.url));
const topApp = 'test/fixtures/first-contact/top-app.ts';
const tsconfig = 'test/fixtures/first-contact/tsconfig.json';
const busyApp = 'test/fixtures/busy-app.mjs';

interface Row {
  name: string;
  total: number;
  destroyed?: boolean;
}

/** Runs the cmwq CLI from the repository's root, where the README's commands are typed. */
function cmwq(args: string[]): Promise<NodeRun> {
  return runNode([cli, ...args], { timeoutMs: 30_000, killSignal: 'SIGTERM', cwd: repo });
}

function reports(stdout: string): { final: boolean; rows: Row[] }[] {
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { final: boolean; rows: Row[] });
}

// The runs are independent child processes: they run side by side.
describe('first contact with cmwq top and dump', { concurrency: true }, () => {
  test('§8 cmwq top -- npx tsx app.ts: the exit report keeps destroyed workqueues; idle system ones are hidden', async () => {
    const run = await cmwq(['top', '--json', '--interval', '200', '--', 'npx', 'tsx', '--tsconfig', tsconfig, topApp]);
    assert.equal(run.code, 0, run.stderr);
    const all = reports(run.stdout);
    const final = all.at(-1)!;
    assert.equal(final.final, true);
    assert.deepEqual(
      final.rows.map((r) => [r.name, r.total, r.destroyed]),
      [['topwq', 12, true]],
      'the destroyed workqueue with its final counters, and no idle system workqueue',
    );
    assert.ok(
      all.every((r) => r.rows.every((row) => row.name === 'topwq')),
      'idle system rows never shown',
    );
    assert.match(run.stderr, /app log line 2\napp done\n/, "the program's output went to stderr");
  });

  test("§8 the README's cmwq top command runs as written", async () => {
    const readme = await cmwq(['top', 'testwq|events$', '--', busyApp]);
    assert.equal(readme.code, 0, readme.stderr);
    assert.match(readme.stdout, /\(exit\)\nname +total.*\nevents +0 .*\ntestwq +20 /);
  });

  test('§8 cmwq dump --json: stdout is JSON only, the program output goes to stderr', async () => {
    const run = await cmwq(['dump', '--json', '--', 'node', busyApp]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    const dumps = lines.map(
      (line) => JSON.parse(line) as { reason: string; dump: { workqueues: { name: string }[] }[] },
    );
    assert.deepEqual(
      dumps.map((d) => d.reason),
      ['exit'],
    );
    assert.ok(dumps[0].dump[0].workqueues.some((w) => w.name === 'testwq'));
    assert.match(run.stderr, /app done after 20 runs/);
  });

  test('§8 on a terminal, top draws on the alternate screen, writes the program output out at exit; --all', async () => {
    const out = Object.assign(new PassThrough(), { isTTY: true, rows: 30, columns: 120 });
    const err = new PassThrough();
    let shown = '';
    let errText = '';
    out.on('data', (d: Buffer) => (shown += d.toString()));
    err.on('data', (d: Buffer) => (errText += d.toString()));
    const app = `${repo}${busyApp}`;
    const code = await runTop(['node', app], { intervalMs: 200, all: true, out: out as never, err });
    assert.equal(code, 0);
    const enter = shown.indexOf('\x1b[?1049h');
    const leave = shown.indexOf('\x1b[?1049l');
    assert.ok(enter === 0 && leave > enter, 'entered, then left the alternate screen');
    assert.match(
      shown.slice(enter, leave),
      /-- program output --\napp done after 20 runs/,
      'output shown under the table',
    );
    assert.match(shown.slice(leave), /\(exit\)\nname +total[\s\S]*\ntestwq +20 /, 'the final table after leaving');
    assert.equal(errText, 'app done after 20 runs\n', "the program's output, written out at exit");
    const final = shown.slice(leave);
    for (const name of ['events', 'events_unbound', 'events_bh']) assert.match(final, new RegExp(`\\n${name} +0 `));
  });
});
