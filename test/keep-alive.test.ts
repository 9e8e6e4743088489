/**
 * SPEC §3.21: nothing keeps the process alive but pending work. Each case runs in a child process, which must exit
 * by itself (it is killed after 10 s).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runNode, type NodeRun } from './helpers.js';

const indexUrl = new URL('../src/index.js', import.meta.url).href;
const KILL_AFTER_MS = 10_000;

function runChild(body: string): Promise<NodeRun> {
  // A CommonJS -e script importing cmwq, so that its threads (the watchdog) start as in an application.
  const source = `import(${JSON.stringify(indexUrl)}).then(async (cmwq) => {\n${body}\n}).catch((e) => { console.error(e); process.exitCode = 1; });`;
  return runNode(['-e', source], { timeoutMs: KILL_AFTER_MS });
}

function assertExitedByItself(r: NodeRun, marker: string): void {
  assert.equal(r.killed, false, `the child did not exit by itself within ${KILL_AFTER_MS} ms; stdout: ${r.stdout}`);
  assert.equal(r.code, 0, `exit code ${r.code}; stderr: ${r.stderr.slice(0, 500)}`);
  assert.ok(r.stdout.includes(marker), `the child got to the end (${marker}); stdout: ${r.stdout}`);
}

const cases: [string, string, string][] = [
  ['importing cmwq', `console.log('loaded');`, 'loaded'],
  [
    'queueing and running work, sync and async, on several kinds of workqueue',
    `
    const wqs = [cmwq.systemWq, cmwq.systemHighpriWq, cmwq.systemUnboundWq, cmwq.allocWorkqueue('ka', cmwq.WQ_UNBOUND, 2),
      cmwq.allocOrderedWorkqueue('ka-ord'), cmwq.systemBhWq];
    let n = 0;
    for (const wq of wqs) for (let i = 0; i < 5; i++) cmwq.queueWork(wq, new cmwq.Work(() => { n++; }));
    for (const wq of wqs.slice(0, 5)) for (let i = 0; i < 5; i++) cmwq.queueWork(wq, new cmwq.Work(async () => { await new Promise((r) => setTimeout(r, 2)); n++; }));
    await Promise.all(wqs.map((wq) => cmwq.flushWorkqueue(wq)));
    console.log('ran ' + n);
    `,
    'ran 55',
  ],
  [
    'arming a 10 s delayed work and cancelling it',
    `
    const dw = new cmwq.DelayedWork(() => console.log('MUST NOT RUN'));
    cmwq.queueDelayedWork(cmwq.systemWq, dw, 10_000);
    console.log('cancelled ' + cmwq.cancelDelayedWork(dw));
    `,
    'cancelled true',
  ],
  [
    'debouncing with modDelayedWork, then cancelDelayedWorkSync',
    `
    const dw = new cmwq.DelayedWork(() => console.log('MUST NOT RUN'));
    for (let i = 0; i < 100; i++) cmwq.modDelayedWork(cmwq.systemWq, dw, 5_000 + i);
    console.log('cancelled ' + (await cmwq.cancelDelayedWorkSync(dw)));
    `,
    'cancelled true',
  ],
  [
    'a delayed work armed and then disabled',
    `
    const dw = new cmwq.DelayedWork(() => console.log('MUST NOT RUN'));
    cmwq.queueDelayedWork(cmwq.systemUnboundWq, dw, 60_000);
    console.log('disabled ' + cmwq.disableDelayedWork(dw));
    `,
    'disabled true',
  ],
  [
    'many sleeping handlers leaving idle workers behind',
    `
    const wq = cmwq.allocWorkqueue('ka-sleepers');
    const works = Array.from({ length: 50 }, () => new cmwq.Work(async () => { await new Promise((r) => setTimeout(r, 5)); }));
    for (const w of works) cmwq.queueWork(wq, w);
    await cmwq.flushWorkqueue(wq);
    console.log('idle workers ' + cmwq.wqDump().pools.reduce((n, p) => n + p.idle, 0));
    `,
    'idle workers',
  ],
  [
    'freezing, thawing, draining and destroying workqueues',
    `
    const wq = cmwq.allocWorkqueue('ka-frz', cmwq.WQ_FREEZABLE);
    cmwq.freezeWorkqueuesBegin();
    cmwq.queueWork(wq, new cmwq.Work(() => {}));
    cmwq.thawWorkqueues();
    await cmwq.drainWorkqueue(wq);
    const dw = new cmwq.DelayedWork(() => {});
    cmwq.queueDelayedWork(wq, dw, 30_000);
    await cmwq.destroyWorkqueue(wq);
    console.log('destroyed');
    `,
    'destroyed',
  ],
  [
    'a CPU hog while the watchdog thread watches',
    `
    const wq = cmwq.allocWorkqueue('ka-hog');
    cmwq.queueWork(wq, new cmwq.Work(() => {}));
    await cmwq.flushWorkqueue(wq);
    await new Promise((r) => setTimeout(r, 100));
    cmwq.queueWork(wq, new cmwq.Work(function hog() { const end = performance.now() + 40; while (performance.now() < end); }));
    await cmwq.flushWorkqueue(wq);
    await new Promise((r) => setTimeout(r, 100));
    console.log('hogs ' + cmwq.wqMonitor().find((r) => r.name === 'ka-hog').cpuIntensive);
    `,
    'hogs ',
  ],
  [
    'an armed delayed work cancelled from a timer before it expires',
    `
    const dw = new cmwq.DelayedWork(() => console.log('MUST NOT RUN'));
    cmwq.queueDelayedWork(cmwq.systemWq, dw, 8_000);
    setTimeout(() => console.log('cancelled ' + cmwq.cancelDelayedWork(dw)), 20);
    `,
    'cancelled true',
  ],
];

test('§3.21 a process whose work is done or cancelled exits by itself, promptly', async () => {
  const results = await Promise.all(cases.map(([, body]) => runChild(body)));
  results.forEach((r, i) => {
    const [what, , marker] = cases[i];
    assertExitedByItself(r, marker);
    assert.ok(!r.stdout.includes('MUST NOT RUN'), `${what}: a cancelled work ran`);
    assert.ok(r.elapsedMs < 7_000, `${what}: took ${r.elapsedMs} ms to exit (a timer of 8 s or more was kept)`);
  });
});

test('§3.21 an armed 200 ms delayed work keeps the process alive until it has fired', async () => {
  const r = await runChild(`
    const t0 = performance.now();
    const dw = new cmwq.DelayedWork(() => console.log('fired after ' + Math.round(performance.now() - t0)));
    cmwq.queueDelayedWork(cmwq.systemWq, dw, 200);
    console.log('armed');
  `);
  assertExitedByItself(r, 'fired after');
  const after = Number(/fired after (\d+)/.exec(r.stdout)![1]);
  assert.ok(after >= 200, `fired after ${after} ms`);
});

test('§3.21 an async handler still running keeps its pending timer (its own) and the process exits after it', async () => {
  const r = await runChild(`
    const w = new cmwq.Work(async () => { await new Promise((r) => setTimeout(r, 150)); console.log('handler done'); });
    cmwq.queueWork(cmwq.systemUnboundWq, w);
  `);
  assertExitedByItself(r, 'handler done');
});
