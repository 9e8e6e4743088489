/**
 * destroyWorkqueue with a periodic DelayedWork that re-arms itself from its handler and was never cancelled: the
 * destroy ends, the event loop keeps its turns, the work is cancelled (idle, reusable) and the user is told.
 * Run in a child process so that a destroy that never ends (the bug: it fired the re-armed timer every round,
 * back to back, starving the loop) fails the test by timeout instead of hanging the suite.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { DESTROY_MAX_FIRES } from '../src/base/constants.js';
import { runNode } from './helpers.js';

const fixture = fileURLToPath(new URL('../../test/fixtures/first-contact/destroy-rearm.mjs', import.meta.url));
const cmwq = new URL('../src/index.js', import.meta.url).href;

test('§4 destroyWorkqueue fires a self-re-arming delayed work a bounded number of times, cancels it and warns', async () => {
  const run = await runNode([fixture, cmwq], { timeoutMs: 10_000 });
  assert.equal(run.killed, false, `destroyWorkqueue never resolved (the child was killed)\n${run.stderr}`);
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout.trim()) as {
    destroyMs: number;
    runs: number;
    loopTurns: number;
    pending: boolean;
    reused: boolean;
    warnings: string[];
  };
  assert.equal(result.runs, DESTROY_MAX_FIRES, 'fired DESTROY_MAX_FIRES times, then cancelled when it re-armed itself');
  assert.ok(result.loopTurns >= 1, 'the event loop got its turns');
  assert.equal(result.pending, false);
  assert.equal(result.reused, true, 'the cancelled work is idle and can be queued again');
  assert.equal(result.warnings.length, 1, result.warnings.join('\n'));
  assert.match(
    result.warnings[0],
    new RegExp(
      '^CmwqWarning: workqueue periodic-wq: destroyWorkqueue\\(\\) cancelled delayed work periodicTick, ' +
        `which re-armed itself ${DESTROY_MAX_FIRES} times`,
    ),
  );
});
