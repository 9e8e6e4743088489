/**
 * SPEC §1: threads cmwq starts inherit the process's flags minus those that would make them fail to start
 * (-e/--eval, -p/--print, --input-type): "an app started with node -e works too". The watchdog thread (SPEC §6) is
 * such a thread; CPU-hog detection depends on it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runNode } from './helpers.js';

const indexUrl = new URL('../src/index.js', import.meta.url).href;

/** Runs 60 ms CPU hogs until one is counted (3 s at most) and prints the count and any CmwqWarning. */
const body = `
  process.on('warning', (w) => { if (w.name === 'CmwqWarning') console.log('WARNING ' + w.message); });
  const wq = cmwq.allocWorkqueue('eval-hog');
  cmwq.queueWork(wq, new cmwq.Work(() => {}));
  await cmwq.flushWorkqueue(wq);
  const count = () => cmwq.wqMonitor().find((r) => r.name === 'eval-hog').cpuIntensive;
  const deadline = Date.now() + 3000;
  while (count() === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    cmwq.queueWork(wq, new cmwq.Work(function hog() { const end = performance.now() + 60; while (performance.now() < end); }));
    await cmwq.flushWorkqueue(wq);
    await new Promise((r) => setTimeout(r, 50));
  }
  console.log('cpuIntensive=' + count());
`;

const variants: [string, string[]][] = [
  [
    'node --input-type=module -e',
    ['--input-type=module', '-e', `import * as cmwq from ${JSON.stringify(indexUrl)};\n${body}`],
  ],
  ['node -e (CommonJS)', ['-e', `import(${JSON.stringify(indexUrl)}).then(async (cmwq) => {\n${body}\n});`]],
  ['node -p', ['-p', `import(${JSON.stringify(indexUrl)}).then(async (cmwq) => {\n${body}\n}), 'started'`]],
];

for (const [what, args] of variants) {
  test(`§1 §6 an app started with ${what} gets its watchdog thread: a CPU hog is counted`, async () => {
    const r = await runNode(args, { timeoutMs: 15_000 });
    assert.equal(r.code, 0, r.stderr.slice(0, 500));
    assert.ok(
      !/WARNING .*watchdog thread failed/.test(r.stdout),
      `the watchdog thread failed to start:\n${r.stdout}${r.stderr.slice(0, 400)}`,
    );
    assert.match(r.stdout, /cpuIntensive=[1-9]/);
  });
}
