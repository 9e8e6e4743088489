/**
 * SPEC §6: the watchdog runs off the watched loop, so a main loop stuck in a synchronous handler is reported
 * while it is stuck, naming the work that is running.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

const fixture = new URL('../../test/fixtures/stuck-loop.mjs', import.meta.url);
const cmwq = new URL('../src/index.js', import.meta.url).href;

test('§6 a blocked main loop is reported as a workqueue lockup before the handler returns', async () => {
  const child = spawn(process.execPath, [fixture.pathname, cmwq], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, stderr);
  const lockup = stderr.indexOf('BUG: workqueue lockup - pool cpus=0 stuck for');
  const returned = stderr.indexOf('handler returned');
  assert.ok(lockup >= 0, stderr);
  assert.ok(returned > lockup, `the report came while the loop was stuck:\n${stderr}`);
  assert.match(stderr, /in-flight: kworker\/0:\d+:spinForever \(workqueue stuckwq\)/);
  assert.match(stderr, /Showing busy workqueues and worker pools:/, 'the full state follows once the loop recovers');
});
