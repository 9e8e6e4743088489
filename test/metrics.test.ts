/**
 * wqMetrics(): the wqMonitor() columns as Prometheus text, read back with a parser of the exposition format
 * (parse-prometheus-text-format): every metric has HELP and TYPE, one sample per workqueue, label values escaped,
 * workqueues sharing a name merged into one series; and the bounded state text the watchdog keeps for lockups.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { settle } from './helpers.js';
import {
  Work,
  allocWorkqueue,
  destroyWorkqueue,
  flushWorkqueue,
  queueWork,
  wqMetrics,
  wqMonitor,
} from '../src/index.js';

test('wqMetrics() is valid Prometheus text with the wqMonitor columns as counters and gauges', async () => {
  const errors: unknown[] = [];
  const wq = allocWorkqueue('metrics"wq\\x', 0, 0, { onError: (e) => errors.push(e) });
  for (let i = 0; i < 10; i++) queueWork(wq, new Work(function ok() {}));
  queueWork(
    wq,
    new Work(function bad() {
      throw new Error('counted');
    }),
  );
  await flushWorkqueue(wq);
  const text = wqMetrics();
  await destroyWorkqueue(wq);
  assert.equal(errors.length, 1);
  const families = parsePrometheusTextFormat(text);
  const byName = new Map(families.map((f) => [f.name, f]));
  const value = (name: string) =>
    Number(byName.get(name)?.metrics.find((m) => m.labels?.workqueue === 'metrics"wq\\x')?.value);
  assert.equal(value('cmwq_workqueue_started_total'), 11);
  assert.equal(value('cmwq_workqueue_failed_total'), 1);
  assert.equal(value('cmwq_workqueue_in_flight'), 0);
  assert.equal(value('cmwq_workqueue_pending'), 0);
  assert.ok(value('cmwq_workqueue_run_p99_seconds') > 0 && value('cmwq_workqueue_run_p99_seconds') < 1);
  const types = Object.fromEntries(families.map((f) => [f.name, f.type]));
  assert.deepEqual(types, {
    cmwq_workqueue_started_total: 'COUNTER',
    cmwq_workqueue_in_flight: 'GAUGE',
    cmwq_workqueue_cpu_seconds_total: 'COUNTER',
    cmwq_workqueue_cpu_intensive_total: 'COUNTER',
    cmwq_workqueue_cm_wakeups_total: 'COUNTER',
    cmwq_workqueue_mayday_total: 'COUNTER',
    cmwq_workqueue_rescued_total: 'COUNTER',
    cmwq_workqueue_failed_total: 'COUNTER',
    cmwq_workqueue_pending: 'GAUGE',
    cmwq_workqueue_queue_wait_p50_seconds: 'GAUGE',
    cmwq_workqueue_queue_wait_p99_seconds: 'GAUGE',
    cmwq_workqueue_run_p50_seconds: 'GAUGE',
    cmwq_workqueue_run_p99_seconds: 'GAUGE',
  });
  for (const f of families) assert.ok(f.help.length > 0, `${f.name} has HELP`);
});

test('wqMetrics(rows) formats given rows; rows sharing a workqueue name become one series', () => {
  const [row] = wqMonitor();
  const a = { ...row, name: 'same', total: 3, pending: 1, runP99: 2 };
  const b = { ...row, name: 'same', total: 4, pending: 2, runP99: 5 };
  const families = parsePrometheusTextFormat(wqMetrics([a, b]));
  const one = (name: string) => {
    const metrics = families.find((f) => f.name === name)!.metrics;
    assert.equal(metrics.length, 1, `${name}: one series`);
    return Number(metrics[0].value);
  };
  assert.equal(one('cmwq_workqueue_started_total'), 7);
  assert.equal(one('cmwq_workqueue_pending'), 3);
  assert.equal(one('cmwq_workqueue_run_p99_seconds'), 0.005, 'percentiles: the larger, in seconds');
  assert.equal(
    wqMetrics([])
      .split('\n')
      .filter((l) => l.startsWith('# TYPE')).length,
    13,
    'metadata even without rows',
  );
});

test('the watchdog copy of showAllWorkqueues() reads at most N items per list and counts the rest', async () => {
  const { showAllWorkqueuesBounded } = await import('../src/observe/monitor.js');
  const wq = allocWorkqueue('boundedwq', 0, 1);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  queueWork(
    wq,
    new Work(async function holder() {
      await gate;
    }),
  );
  for (let i = 0; i < 10; i++) queueWork(wq, new Work(function waiting() {}));
  await settle();
  const text = showAllWorkqueuesBounded(4);
  release();
  await flushWorkqueue(wq);
  await destroyWorkqueue(wq);
  assert.match(text, /^ {4}inactive: 4\*waiting \(\+6 not listed\)$/m);
  assert.match(text, /in-flight: kworker\/0:\d+\(tid \d+\) sleeping:holder/);
});
