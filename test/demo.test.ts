/**
 * The demo (src/cli/demo.ts) and the `cmwq demo` command: the order of the module's events, and that the CLI runs it
 * to completion and exits by itself.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { DEDICATED_ITEMS, DELAYED_RUNS, DEDICATED_WQ_NAME, runDemo } from '../src/cli/demo.js';

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
    // All on the ordered workqueue's (unbound) worker.
    for (const l of dedicated) assert.match(who(l) ?? '', /^kworker\/u\d+:\d+$/);

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

    // Exit: cancels (the periodic work was armed, so it was pending), then destroys; every line by rmmod.
    const unload = indexOf(lines, '=== Unloading: cancelling work ===');
    const unloaded = indexOf(lines, '=== Work Queue Demo unloaded ===');
    assert.ok(unload > indexOf(lines, `Delayed work finished`));
    const exitLines = lines.slice(unload, unloaded + 1);
    assert.deepEqual(
      exitLines.map((l) => text(l).replace(/ \(.*\)$/, '')),
      [
        '=== Unloading: cancelling work ===',
        'cancelDelayedWorkSync(delayed) = false',
        'cancelDelayedWorkSync(periodic) = true',
        'cancelWorkSync(immediate) = false',
        `destroyWorkqueue("${DEDICATED_WQ_NAME}") done`,
        '=== Work Queue Demo unloaded ===',
      ],
    );
    for (const l of exitLines) assert.equal(who(l), 'rmmod');

    // Nothing runs after exit: no worker line after the unload banner, and nothing printed once it returned.
    for (const l of lines.slice(unload)) assert.doesNotMatch(who(l) ?? '', /^kworker/);
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
    // workqueue, queued, ran, failed, max in flight, workers
    const demoCells = demoRow.trim().split(/\s+/);
    assert.deepEqual(demoCells.slice(0, 5), [
      DEDICATED_WQ_NAME,
      String(DEDICATED_ITEMS),
      String(DEDICATED_ITEMS),
      '0',
      '1',
    ]);
    const eventsCells = eventsRow.trim().split(/\s+/);
    const eventsRuns = 1 + DELAYED_RUNS + ticks;
    assert.deepEqual(eventsCells.slice(0, 4), ['events', String(eventsRuns), String(eventsRuns), '0']);

    // The timeline lists every run, per worker.
    const timeline = indexOf(lines, 'Timeline');
    assert.ok(timeline > summary);
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
      `destroyWorkqueue("${DEDICATED_WQ_NAME}") done`,
      '=== Work Queue Demo unloaded ===',
      'Summary',
    ]) {
      assert.ok(out.includes(needle), `missing ${JSON.stringify(needle)} in:\n${out}`);
    }
    assert.ok(out.indexOf('=== Work Queue Demo (cmwq) ===') < out.indexOf('=== Work Queue Demo unloaded ==='));
  });

  it('`cmwq top`/`cmwq dump` without a command, unknown commands and bad options print usage (exit 2)', () => {
    const cli = fileURLToPath(new URL('../src/cli/cli.js', import.meta.url));
    for (const command of ['top', 'dump']) {
      const result = spawnSync(process.execPath, [cli, command], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(result.status, 2);
      assert.match(result.stderr, new RegExp(`${command} needs a command after --`));
    }
    const unknown = spawnSync(process.execPath, [cli, 'frobnicate'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /Usage: cmwq/);
    const badOption = spawnSync(process.execPath, [cli, 'demo', '--bogus'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(badOption.status, 2);
    assert.match(badOption.stderr, /Usage: cmwq/);
    const help = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Usage: cmwq/);
  });
});
