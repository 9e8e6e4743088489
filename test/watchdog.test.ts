/**
 * SPEC §6: the watchdog runs off the watched loop, so a main loop stuck in a synchronous handler is reported
 * while it is stuck, naming the work that is running.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runNode } from './helpers.js';

const fixture = new URL('../../test/fixtures/stuck-loop.mjs', import.meta.url);
const cmwq = new URL('../src/index.js', import.meta.url).href;

test('§6 a blocked main loop is reported as a workqueue lockup, with showAllWorkqueues(), before the handler returns', async () => {
  const { code, stderr } = await runNode([fixture.pathname, cmwq]);
  assert.equal(code, 0, stderr);
  const lockup = stderr.indexOf('BUG: workqueue lockup - pool cpus=0 stuck for');
  const returned = stderr.indexOf('handler returned');
  assert.ok(lockup >= 0, stderr);
  assert.ok(returned > lockup, `the report came while the loop was stuck:\n${stderr}`);
  assert.match(stderr, /in-flight: kworker\/0:\d+:spinForever \(workqueue stuckwq\)/);
  const recovered = stderr.indexOf('the loop runs again, state now:');
  assert.ok(recovered > lockup, stderr);
  const whileStuck = stderr.slice(lockup, recovered);
  assert.match(whileStuck, /Showing busy workqueues and worker pools:/, 'the state is printed while the loop is stuck');
  assert.match(whileStuck, /workqueue otherwq: flags=0x0/);
  assert.match(whileStuck, /in-flight: kworker\/0:\d+\(tid \d+\) sleeping:holder/);
  assert.match(whileStuck, /inactive: 2\*waiting/);
  assert.match(stderr.slice(recovered), /Showing busy workqueues and worker pools:/, 'and again once it recovers');
});
