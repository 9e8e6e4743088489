/**
 * Memory: a work item made per request with its own closure (`queueWork(wq, new Work(() => handle(req)))`, the
 * common idiom) must not leave anything behind once it has run. Measured in child processes (with --expose-gc)
 * as RSS growth over rounds of 100,000 such items, against the same rounds with one shared function.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runNode, type NodeRun } from './helpers.js';

const indexUrl = new URL('../src/index.js', import.meta.url).href;
const ROUNDS = 6;

function program(distinct: boolean): string {
  // A CommonJS -e script importing cmwq: the watchdog thread starts as it would in an application.
  return `
    (async () => {
      const { allocWorkqueue, queueWork, Work, flushWorkqueue } = await import(${JSON.stringify(indexUrl)});
      const wq = allocWorkqueue('closures');
      let n = 0;
      const shared = () => { n++; };
      async function round() {
        for (let i = 0; i < 100_000; i++) queueWork(wq, new Work(${distinct ? '() => { n++; }' : 'shared'}));
        await flushWorkqueue(wq);
        await new Promise((r) => setTimeout(r, 50));
        globalThis.gc();
        await new Promise((r) => setTimeout(r, 50));
        globalThis.gc();
        return process.memoryUsage().rss;
      }
      await round();
      await round();
      const start = await round();
      let end = start;
      for (let i = 0; i < ROUNDS; i++) end = await round();
      console.log(JSON.stringify({ n, growthMb: (end - start) / 1e6 }));
    })();
  `;
}

function run(source: string): Promise<NodeRun> {
  return runNode(['--expose-gc', '-e', source.replace('ROUNDS', String(ROUNDS))], { timeoutMs: 30_000 });
}

test('memory does not grow with the number of distinct work functions that have run', async (t) => {
  const [distinct, shared] = await Promise.all([run(program(true)), run(program(false))]);
  assert.equal(distinct.code, 0, distinct.stderr.slice(0, 500));
  assert.equal(shared.code, 0, shared.stderr.slice(0, 500));
  const d = JSON.parse(distinct.stdout) as { n: number; growthMb: number };
  const s = JSON.parse(shared.stdout) as { n: number; growthMb: number };
  assert.equal(d.n, (ROUNDS + 3) * 100_000);
  assert.equal(s.n, (ROUNDS + 3) * 100_000);
  t.diagnostic(
    `RSS growth over ${ROUNDS * 100_000} items: distinct closures ${d.growthMb.toFixed(1)} MB, one shared function ${s.growthMb.toFixed(1)} MB`,
  );
  assert.ok(
    d.growthMb < s.growthMb + 50,
    `${ROUNDS * 100_000} distinct closures grew RSS by ${d.growthMb.toFixed(1)} MB (shared function: ${s.growthMb.toFixed(1)} MB): something keeps a record per function`,
  );
});
