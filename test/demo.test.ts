/**
 * The demo (src/cli/demo.ts) and the `cmwq demo` command: the order of the module's events, and that the CLI runs it
 * to completion and exits by itself.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { threadId } from 'node:worker_threads';
import { DEDICATED_ITEMS, DELAYED_RUNS, DEDICATED_WQ_NAME, runDemo } from '../src/cli/demo.js';
import { runNode } from './helpers.js';

/** The text of a demo line, without its "[   0.001234] who  tid N  " prefix. */
function text(line: string): string {
  const m = /^\[\s*\d+\.\d{6}\] (\S+)\s+tid \d+ {2}(.*)$/.exec(line);
  return m === null ? line : m[2];
}

/** Who printed a demo line (a worker name, insmod or rmmod), or null for lines without the prefix. */
function who(line: string): string | null {
  const m = /^\[\s*\d+\.\d{6}\] (\S+)\s+tid \d+ /.exec(line);
  return m === null ? null : m[1];
}

/** The thread id a demo line was printed for, or null for lines without the prefix. */
function tid(line: string): number | null {
  const m = /^\[\s*\d+\.\d{6}\] \S+\s+tid (\d+) /.exec(line);
  return m === null ? null : Number(m[1]);
}

/** The index of the first line whose text includes needle; fails when there is none. */
function indexOf(lines: string[], needle: string, from = 0): number {
  const i = lines.findIndex((line, k) => k >= from && line.includes(needle));
  assert.ok(i >= 0, `no line includes ${JSON.stringify(needle)}:\n${lines.join('\n')}`);
  return i;
}

describe('demo', () => {
  it('runs the module: init, immediate, dedicated items in order, delayed runs, exit cancels and destroys', async () => {
    const lines: string[] = [];
    await runDemo({ fast: true, timeline: true, out: (line) => lines.push(line) });
    const countAtReturn = lines.length;

    // Init banner first, printed by init.
    assert.match(lines[0], /=== Work Queue Demo \(cmwq\) ===/);
    assert.equal(who(lines[0]), 'insmod');
    const scheduled = indexOf(lines, '=== Work items scheduled');

    // The pending bit: the second scheduleWork of a pending work is refused.
    assert.ok(lines.some((l) => text(l) === 'scheduleWork(immediate) = true'));
    assert.ok(lines.some((l) => text(l).startsWith('scheduleWork(immediate) again = false')));

    // The immediate work runs once, on a worker, after init has returned (queueing never runs a handler).
    const immediate = lines.filter((l) => l.includes('Immediate work executed!'));
    assert.equal(immediate.length, 1);
    assert.ok(indexOf(lines, 'Immediate work executed!') > scheduled);
    assert.match(who(immediate[0]) ?? '', /^kworker\/\d+:\d+$/);
    assert.match(text(immediate[0]), /workPending inside the handler: false/);
    assert.ok(indexOf(lines, 'Immediate work done') > indexOf(lines, 'Immediate work executed!'));

    // Dedicated items: queued 0..N-1 in init; processed strictly in order, one at a time (ordered workqueue).
    for (let i = 0; i < DEDICATED_ITEMS; i++) assert.ok(indexOf(lines, `Queued work item ${i}`) < scheduled);
    const dedicated = lines.filter((l) => l.includes('Dedicated work ['));
    const expected: string[] = [];
    for (let i = 0; i < DEDICATED_ITEMS; i++)
      expected.push(`Dedicated work [${i}]: processing task_${i}`, `Dedicated work [${i}]: done`);
    assert.deepEqual(
      dedicated.map((l) => text(l).replace(/^dedicatedWorkFn: /, '')),
      expected,
    );
    // All on the ordered workqueue's (unbound) worker, on a worker thread: each item's lines carry its thread's id,
    // not this thread's (where the system workqueue's function works ran).
    for (const l of dedicated) assert.match(who(l) ?? '', /^kworker\/u\d+:\d+$/);
    const dedicatedTids = new Set(dedicated.map(tid));
    assert.ok(!dedicatedTids.has(threadId) && !dedicatedTids.has(null), dedicated.join('\n'));
    for (let i = 0; i < dedicated.length; i += 2) assert.equal(tid(dedicated[i]), tid(dedicated[i + 1]));
    assert.equal(tid(immediate[0]), threadId);

    // The delayed work runs DELAYED_RUNS times, re-arming itself in between, then stops.
    const delayedRuns = lines.filter((l) => l.includes('Delayed work executed!'));
    assert.deepEqual(
      delayedRuns.map((l) => /run (\d+)\//.exec(l)?.[1]),
      Array.from({ length: DELAYED_RUNS }, (_, i) => String(i + 1)),
    );
    assert.equal(lines.filter((l) => l.includes('Rescheduling delayed work')).length, DELAYED_RUNS - 1);
    assert.ok(
      indexOf(lines, `Delayed work finished after ${DELAYED_RUNS} runs`) > indexOf(lines, `run ${DELAYED_RUNS}/`),
    );

    // The periodic work ticks at least once before unload (timing decides how many times exactly).
    const ticks = lines.filter((l) => l.includes('Periodic tick')).length;
    assert.ok(ticks >= 1 && ticks <= 3, `periodic ticks: ${ticks}`);

    // Exit: cancels (the periodic work was armed, so it was pending), flushes the dedicated workqueue, destroys it;
    // every line by rmmod, but for dedicated items still running (their thread may have been slow to start).
    const unload = indexOf(lines, '=== Unloading: cancelling work ===');
    const unloaded = indexOf(lines, '=== Work Queue Demo unloaded ===');
    assert.ok(unload > indexOf(lines, `Delayed work finished`));
    const exitLines = lines.slice(unload, unloaded + 1).filter((l) => !l.includes('Dedicated work ['));
    assert.deepEqual(
      exitLines.map((l) => text(l).replace(/ \(.*\)$/, '')),
      [
        '=== Unloading: cancelling work ===',
        'cancelDelayedWorkSync(delayed) = false',
        'cancelDelayedWorkSync(periodic) = true',
        'cancelWorkSync(immediate) = false',
        `flushWorkqueue("${DEDICATED_WQ_NAME}") done`,
        `destroyWorkqueue("${DEDICATED_WQ_NAME}") done`,
        '=== Work Queue Demo unloaded ===',
      ],
    );
    for (const l of exitLines) assert.equal(who(l), 'rmmod');

    // Nothing runs after exit: no system workqueue line after the unload banner, no line at all once the dedicated
    // workqueue is flushed, and nothing printed once it returned.
    for (const l of lines.slice(unload)) assert.doesNotMatch(who(l) ?? '', /^kworker\/\d/);
    const flushed = indexOf(lines, `flushWorkqueue("${DEDICATED_WQ_NAME}") done`);
    assert.ok(indexOf(lines, `Dedicated work [${DEDICATED_ITEMS - 1}]: done`) < flushed);
    for (const l of lines.slice(flushed)) assert.doesNotMatch(who(l) ?? '', /^kworker/);
    await sleep(400);
    assert.equal(
      lines.length,
      countAtReturn,
      `lines printed after runDemo returned:\n${lines.slice(countAtReturn).join('\n')}`,
    );

    // The summary: one row per workqueue, with what ran there.
    const summary = indexOf(lines, 'Summary');
    const eventsRow = lines.slice(summary).find((l) => /^\s+events\s/.test(l));
    const demoRow = lines.slice(summary).find((l) => new RegExp(`^\\s+${DEDICATED_WQ_NAME}\\s`).test(l));
    assert.ok(eventsRow !== undefined && demoRow !== undefined, lines.slice(summary).join('\n'));
    // workqueue, queued, ran, failed, max in flight, workers, thread ids
    const demoCells = demoRow.trim().split(/\s+/);
    assert.deepEqual(demoCells.slice(0, 5), [
      DEDICATED_WQ_NAME,
      String(DEDICATED_ITEMS),
      String(DEDICATED_ITEMS),
      '0',
      '1',
    ]);
    assert.match(demoCells[5], /^kworker\/u\d+:\d+$/);
    assert.deepEqual(
      demoCells.slice(6).map(Number),
      [...dedicatedTids].sort((a, b) => a! - b!),
    );
    const eventsCells = eventsRow.trim().split(/\s+/);
    const eventsRuns = 1 + DELAYED_RUNS + ticks;
    assert.deepEqual(eventsCells.slice(0, 4), ['events', String(eventsRuns), String(eventsRuns), '0']);
    assert.equal(eventsCells.at(-1), String(threadId));

    // The timeline lists every run, per worker, with the thread it ran on.
    const timeline = indexOf(lines, 'Timeline');
    assert.ok(timeline > summary);
    const lane = lines.slice(timeline).find((l) => /^\s+kworker\/u\d+:\d+\s+tid /.test(l));
    assert.equal(/tid ([\d ]+?) {2}\|/.exec(lane ?? '')?.[1], demoCells.slice(6).join(' '), lane);
    assert.equal(
      lines.slice(timeline).filter((l) => /^\s+\d+\.\d{6} \.\. \d+\.\d{6}\s/.test(l)).length,
      DEDICATED_ITEMS + eventsRuns,
    );

    // It ends with the wqMonitor() table, as `cmwq top` prints it: the dedicated workqueue with its five items.
    const monitor = indexOf(lines, 'wqMonitor() before rmmod');
    assert.ok(monitor > timeline);
    assert.match(lines[monitor + 1], /^\s+name\s+total\s+infl\s+CPUtime/);
    const last = lines.at(-1)!.trim().split(/\s+/);
    assert.deepEqual(last.slice(0, 3), [DEDICATED_WQ_NAME, String(DEDICATED_ITEMS), '0']);
  });

  it('`cmwq demo --fast` runs to the end and exits by itself with code 0', () => {
    const cli = fileURLToPath(new URL('../src/cli/cli.js', import.meta.url));
    const result = spawnSync(process.execPath, [cli, 'demo', '--fast'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(result.error, undefined, String(result.error));
    assert.equal(result.status, 0, `exit ${result.status} ${result.signal ?? ''}\n${result.stderr}`);
    assert.equal(result.stderr, '');
    const out = result.stdout;
    for (const needle of [
      '=== Work Queue Demo (cmwq) ===',
      'Immediate work executed!',
      `Dedicated work [${DEDICATED_ITEMS - 1}]: done`,
      `Delayed work finished after ${DELAYED_RUNS} runs`,
      'cancelDelayedWorkSync(periodic) = true',
      `flushWorkqueue("${DEDICATED_WQ_NAME}") done`,
      `destroyWorkqueue("${DEDICATED_WQ_NAME}") done`,
      '=== Work Queue Demo unloaded ===',
      'Summary',
    ]) {
      assert.ok(out.includes(needle), `missing ${JSON.stringify(needle)} in:\n${out}`);
    }
    assert.ok(out.indexOf('=== Work Queue Demo (cmwq) ===') < out.indexOf('=== Work Queue Demo unloaded ==='));
    // The dedicated items ran on a worker thread of the installed CLI too (its module shipped beside the demo).
    const item = /^.*Dedicated work \[0\]: processing.*$/m.exec(out)?.[0] ?? '';
    assert.ok((tid(item) ?? 0) > 0, item);
  });

  it('`cmwq top`/`cmwq dump` without a command, unknown commands and bad options print usage (exit 2)', async () => {
    const cli = fileURLToPath(new URL('../src/cli/cli.js', import.meta.url));
    // Independent processes: run side by side (each is mostly node's start-up).
    const [top, dump, unknown, badOption, help] = await Promise.all(
      [['top'], ['dump'], ['frobnicate'], ['demo', '--bogus'], ['--help']].map((args) =>
        runNode([cli, ...args], { timeoutMs: 30_000 }),
      ),
    );
    for (const [command, result] of [
      ['top', top],
      ['dump', dump],
    ] as const) {
      assert.equal(result.code, 2);
      assert.match(result.stderr, new RegExp(`${command} needs a command after --`));
    }
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Usage: cmwq/);
    assert.equal(badOption.code, 2);
    assert.match(badOption.stderr, /Usage: cmwq/);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: cmwq/);
  });
});
