/**
 * The examples (examples/<name>/index.ts) run as a user would run them: each is spawned with `--short` on the
 * compiled output, must exit 0 by itself, print nothing on stderr, and print its key lines in the right order
 * with the right content.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { runNode, type NodeRun } from './helpers.js';

/** This file runs from dist/test/; the examples are compiled to dist/examples/<name>/index.js. */
function examplePath(name: string): string {
  return fileURLToPath(new URL(`../examples/${name}/index.js`, import.meta.url));
}

const TIMEOUT_MS = 20_000;

interface RunResult extends NodeRun {
  lines: string[];
}

async function runExample(name: string): Promise<RunResult> {
  const env = { ...process.env };
  delete env.CMWQ_EXAMPLE_SHORT; // --short alone must be enough
  delete env.NODE_OPTIONS;
  const r = await runNode([examplePath(name), '--short'], { timeoutMs: TIMEOUT_MS, env });
  if (r.killed)
    throw new Error(`${name} did not exit within ${TIMEOUT_MS} ms; output so far:\n${r.stdout}\n${r.stderr}`);
  return { ...r, lines: r.stdout.split('\n').filter((l) => l.length > 0) };
}

/** Runs the example and checks what every example must do: exit 0 by itself, quietly on stderr. */
async function run(name: string): Promise<RunResult> {
  const r = await runExample(name);
  assert.equal(r.signal, null, `${name} was killed by ${r.signal}\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.code, 0, `${name} exited with ${r.code}\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.stderr, '', `${name} wrote to stderr:\n${r.stderr}`);
  return r;
}

/** Asserts that each pattern matches a line, each after the line the previous one matched. Returns the matches. */
function assertInOrder(r: RunResult, patterns: RegExp[]): RegExpExecArray[] {
  const matches: RegExpExecArray[] = [];
  let from = 0;
  for (const pattern of patterns) {
    let found: RegExpExecArray | null = null;
    for (let i = from; i < r.lines.length; i++) {
      found = pattern.exec(r.lines[i]);
      if (found !== null) {
        from = i + 1;
        break;
      }
    }
    assert.ok(found, `expected a line matching ${pattern} after line ${from}, in:\n${r.stdout}`);
    matches.push(found);
  }
  return matches;
}

/** Index of the first line matching pattern, or -1. */
function lineIndex(r: RunResult, pattern: RegExp): number {
  return r.lines.findIndex((l) => pattern.test(l));
}

function noLine(r: RunResult, pattern: RegExp): void {
  assert.equal(lineIndex(r, pattern), -1, `no line should match ${pattern}, in:\n${r.stdout}`);
}

/** Parses "1, 2, 3" (or "-") into numbers. */
function ids(list: string): number[] {
  return list.trim() === '-' || list.trim() === 'none' ? [] : list.split(',').map((s) => Number(s.trim()));
}

test('kernel-module: init queues once, exit cancels the queued instance and waits for the running one', async () => {
  const r = await run('kernel-module');
  assertInOrder(r, [
    /insmod +my_module_init: loading/,
    /insmod +created workqueue "my_wq" \(maxActive 1\)/,
    /insmod +queueWork\(my_wq, my_work\) = true; workBusy = 1 \(PENDING\)/,
    /insmod +queueWork again before it starts = false/,
    /my_work_func run #1: executing task ".+" \(pending: false, currentWork\(\) is my_work: true\)/,
    /event +queueWork while run #1 sleeps = true; workBusy = 3 \(PENDING\|RUNNING\)/,
    /rmmod +my_module_exit: workBusy = 3 \(PENDING\|RUNNING\)/,
    /my_work_func run #1: step 1\/3 done/,
    /my_work_func run #1: step 2\/3 done/,
    /my_work_func run #1: step 3\/3 done/,
    /my_work_func run #1: finished/,
    /rmmod +cancelWorkSync\(my_work\) = true \(a queued instance was taken back, it never ran\); workBusy = 0 \(idle\)/,
    /rmmod +destroyWorkqueue\(my_wq\) done/,
    /rmmod +my_module_exit: unloaded/,
    /check +my_work_func ran 1 time\(s\) in all, 0 after exit; nothing ran after exit: true/,
  ]);
  noLine(r, /run #2/);
});

test('driver: probe, polls, coalesced interrupts, and nothing runs after remove', async () => {
  const r = await run('driver');
  assertInOrder(r, [
    /mydev0 +probe: starting to poll/,
    /mydev0 +pollWork #1: reading status/,
    /mydev0 +pollWork #1: re-arm = true/,
    /mydev0 +pollWork #2: reading status/,
    /IRQ "rx-ready": scheduleWork\(irqWork\) = true/,
    /IRQ "rx-ready": scheduleWork\(irqWork\) = false/,
    /irqWork: processing 2 event\(s\): rx-ready, rx-ready/,
    /mydev0 +pollWork #3: reading status/,
    /IRQ "link-down": scheduleWork\(irqWork\) = true/,
    /remove: irqWork busy = 1, pollWork busy = 2/,
    /remove: cancelWorkSync\(irqWork\) = true \(it was queued and never ran\)/,
    /pollWork #3: status OK/,
    /pollWork #3: re-arm = false \(refused: the device is being removed\)/,
    /remove: cancelDelayedWorkSync\(pollWork\) = false \(waited for the poll in progress\)/,
    /remove: device freed/,
    /check +polls: 3, irqWork runs: 1/,
    /check +handler runs after remove: 0, use-after-free: 0/,
    /check +nothing ran after remove/,
  ]);
  noLine(r, /pollWork #4|BUG/);
  noLine(r, /processing .*link-down/);
});

test('top-half-bottom-half: a burst of interrupts is handled by fewer bottom-half runs, nothing lost', async () => {
  const r = await run('top-half-bottom-half');
  assertInOrder(r, [
    /server +listening on 127\.0\.0\.1:\d+/,
    /server +client connected/,
    /client +sending 200 messages in 20 writes/,
    /bottom-half run #1: \d+ chunk\(s\)/,
    /server +client finished sending/,
    /summary +interrupts \(data events\): \d+, 1490 bytes/,
  ]);
  const [i, q, m] = assertInOrder(r, [
    /summary +interrupts \(data events\): (\d+)/,
    /summary +queueWork from the top half: (\d+) queued, (\d+) coalesced \(already pending\)/,
    /summary +bottom-half runs: (\d+), messages processed: 200 of 200/,
    /nothing lost: true/,
  ]);
  const interrupts = Number(i[1]);
  const queued = Number(q[1]);
  const coalesced = Number(q[2]);
  const runs = Number(m[1]);
  assert.equal(queued + coalesced, interrupts, 'every interrupt called queueWork once');
  assert.equal(runs, queued, 'one bottom-half run per successful queueWork');
  assert.ok(runs >= 1 && runs <= interrupts, `runs ${runs}, interrupts ${interrupts}`);
  // Each run reports its chunks; together they are every interrupt's chunk, and every message.
  const chunks = r.lines.map((l) => /bottom-half run #\d+: (\d+) chunk/.exec(l)).filter((x) => x !== null);
  assert.equal(chunks.length, runs);
  assert.equal(
    chunks.reduce((n, x) => n + Number(x![1]), 0),
    interrupts,
  );
});

test('completion-pipeline: every file goes read -> decode -> store, stores in order, flushWork completes', async () => {
  const r = await run('completion-pipeline');
  for (const f of ['a.txt', 'b.txt', 'c.txt']) {
    const name = f.replace('.', '\\.');
    assertInOrder(r, [
      new RegExp(`main +${name}: queued on "io"`),
      new RegExp(`read +${name}: reading`),
      new RegExp(`read +${name}: done, queueing decode on "decode"`),
      new RegExp(`decode +${name}: 3000 words, queueing store on "store"`),
      new RegExp(`store +${name}: writing the index`),
      new RegExp(`store +${name}: stored`),
      new RegExp(`main +completion: ${name} went through read -> decode -> store \\(3000 words\\)`),
    ]);
  }
  // The ordered "store" workqueue: c.txt's store waits for b.txt's, a.txt's for c.txt's.
  assertInOrder(r, [
    /store +b\.txt: stored/,
    /store +c\.txt: writing/,
    /store +c\.txt: stored/,
    /store +a\.txt: writing/,
  ]);
  const [, , stages] = assertInOrder(r, [
    /main +queued in order: +a\.txt, b\.txt, c\.txt/,
    /main +finished in order: b\.txt, c\.txt, a\.txt/,
    /main +stage order: (.+)$/,
  ]);
  // The stage order interleaves files (when a.txt's read ends depends on timing), but the reads start in queueing
  // order, each file's stages run in order, and the stores run in decode order: b, c, a.
  const order = stages[1].split(' ');
  assert.equal(order.length, 9);
  assert.deepEqual(order.slice(0, 3), ['a.txt:read', 'b.txt:read', 'c.txt:read']);
  for (const f of ['a.txt', 'b.txt', 'c.txt']) {
    assert.deepEqual(
      order.filter((s) => s.startsWith(f)),
      [`${f}:read`, `${f}:decode`, `${f}:store`],
    );
  }
  assert.deepEqual(
    order.filter((s) => s.endsWith(':store')),
    ['b.txt:store', 'c.txt:store', 'a.txt:store'],
  );
  assert.deepEqual(
    order.filter((s) => s.endsWith(':decode')),
    ['b.txt:decode', 'c.txt:decode', 'a.txt:decode'],
  );
});

test('debounce: modDelayedWork saves once per burst, flushDelayedWork saves at close; the naive version does not', async () => {
  const r = await run('debounce');
  assertInOrder(r, [
    /user +types "hello" \(5 keystrokes/,
    /user +pauses \(save pending: true, re-armed 4 times so far\)/,
    /cmwq +save #1: "hello"$/,
    /user +types " world" \(6 keystrokes/,
    /user +closes the editor \(save pending: true\)/,
    /cmwq +save #2: "hello world"$/,
    /editor +closed: flushDelayedWork = true, last save "hello world"/,
    /result +keystrokes: 11/,
    /result +cmwq saves: 2 \(modDelayedWork re-armed a pending save 9 times\)/,
  ]);
  noLine(r, /cmwq +save #3/);
  const [naive] = assertInOrder(r, [/result +naive saves: (\d+), of which (\d+) after the editor closed/]);
  assert.equal(Number(naive[1]), 11, 'one naive save per keystroke');
  assert.ok(Number(naive[2]) >= 1, 'naive saves keep coming after the close');
  // Every naive save after the close is printed after the "closed" line.
  const closed = lineIndex(r, /editor +closed/);
  const late = r.lines.filter((l, i) => i > closed && /naive +save #\d+: .*after the editor closed!/.test(l));
  assert.equal(late.length, Number(naive[2]));
});

test('coalescing: 1000 calls -> 1 run; calls while running -> 1 more; re-queue from inside -> 1 more', async () => {
  const r = await run('coalescing');
  assertInOrder(r, [
    /main +idle: workPending = false, workBusy = 0 \(idle\)/,
    /main +1000 queueWork calls: 1 accepted, 999 refused \(already pending\)/,
    /main +after queueing: workPending = true, workBusy = 1 \(PENDING\)/,
    /writeback run #1: writing 50 dirty entries/,
    /inside run #1: workPending = false, workBusy = 2 \(RUNNING\)/,
    /main +phase 1 done: runs so far 1 /,
    /writeback run #2: writing 1 dirty entry/,
    /main +while it runs: workPending = false, workBusy = 2 \(RUNNING\)/,
    /main +1000 queueWork calls: 1 accepted, 999 refused \(already pending\)/,
    /main +after queueing: workPending = true, workBusy = 3 \(PENDING\|RUNNING\)/,
    /writeback run #3: writing 50 dirty entries/,
    /main +phase 2 done: runs so far 3 /,
    /writeback run #4: writing 1 dirty entry/,
    /queueWork from inside the handler = true/,
    /after re-queueing itself: workPending = true, workBusy = 3 \(PENDING\|RUNNING\)/,
    /writeback run #5: writing 0 dirty entries/,
    /main +at the end: workPending = false, workBusy = 0 \(idle\)/,
    /result +runs: 5 for 2003 queueWork calls; at most 1 instance\(s\) ran at once/,
  ]);
  noLine(r, /run #6/);
});

test('cpu-heavy: module works on an unbound workqueue run off the main thread, 2 at a time in FIFO order', async () => {
  const r = await run('cpu-heavy');
  assertInOrder(r, [
    /main +queueing 4 jobs of 10 x 30 ms on "crunch" \(WQ_UNBOUND, maxActive 2\)/,
    /job 1 +starts on a worker thread \(1 in flight\)/,
    /job 2 +starts on a worker thread \([12] in flight\)/,
    /monitor +mid-run: infl [12] \(max_active 2\), pending 2$/,
    /main +all 4 jobs done, started in order 1, 2, 3, 4; at most 2 in flight/,
    /main +heartbeat every 10 ms: fired \d+ times, at most \d+ ms late/,
    /monitor +wqMonitor\(\) row for "crunch":/,
    /monitor +total 4 +infl 0 +pending 0 +failed 0 +cpuIntensive 4$/,
    /monitor +cpuTime \d+ ms/,
    /monitor +cpuIntensive 4: runs over 10 ms/,
    /main +workOnCpu\(1, checksum, 1 MiB\) = 0x20207789$/, // Adler-32 of the bytes, as zlib computes it
    /main +workOnWorkqueue\(crunch, checksum, 1 MiB\) = 0x20207789$/, // the same, on the unbound pool's threads
    /main +workqueue "crunch" destroyed/,
  ]);
  // Replay the tracepoint lines: each job starts once, then ends once; starts in FIFO order; never more than two
  // in flight, and two at some point; the count each start line prints is right. The mid-run line comes right
  // after job 2's start: infl 2 unless job 1 was already done (the second thread can come up late on a busy
  // machine), and pending 2 either way (jobs 3 and 4).
  let inFlight = 0;
  let maxInFlight = 0;
  const started: number[] = [];
  const ended: number[] = [];
  const midRun = lineIndex(r, /mid-run:/);
  assert.match(r.lines[midRun - 1], /job 2 +starts/);
  r.lines.forEach((line, i) => {
    const start = /job (\d+) +starts on a worker thread \((\d+) in flight\)/.exec(line);
    const end = /job (\d+) +done$/.exec(line);
    if (start !== null) {
      const id = Number(start[1]);
      assert.ok(!started.includes(id), `job ${id} started twice`);
      started.push(id);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      assert.equal(Number(start[2]), inFlight, line);
    } else if (end !== null) {
      const id = Number(end[1]);
      assert.ok(started.includes(id) && !ended.includes(id), `job ${id} ended without starting, or twice`);
      ended.push(id);
      inFlight--;
    }
    if (i === midRun) assert.match(line, new RegExp(`infl ${inFlight} `), 'mid-run infl matches the tracepoints');
  });
  assert.deepEqual(started, [1, 2, 3, 4]);
  assert.deepEqual(
    [...ended].sort((a, b) => a - b),
    [1, 2, 3, 4],
  );
  assert.equal(maxInFlight, 2, 'two jobs ran at once, never more');
  noLine(r, /failed:/);
  // The main thread stayed responsive: each job computed for 300 ms without yielding, on a worker thread. Wide
  // margin for a busy machine; on the main thread the heartbeat would be about 300 ms late.
  const [beat] = assertInOrder(r, [/heartbeat every 10 ms: fired (\d+) times, at most (\d+) ms late/]);
  assert.ok(Number(beat[1]) >= 1, 'the heartbeat fired');
  assert.ok(Number(beat[2]) < 200, `heartbeat at most ${beat[2]} ms late`);
  // cpuTime is the jobs' synchronous time, timed on their threads: each job runs 10 slices of at least 30 ms.
  const [cpu] = assertInOrder(r, [/monitor +cpuTime (\d+) ms/]);
  assert.ok(Number(cpu[1]) >= 1190, `cpuTime ${cpu[1]}`);
});

test('graceful-shutdown: SIGTERM freezes, in-flight uploads finish, the rest never start, exit 0 by itself', async () => {
  const r = await run('graceful-shutdown');
  const [, , freezing, late, frozen, , finished, never] = assertInOrder(r, [
    /main +sending SIGTERM to itself/,
    /shutdown +SIGTERM received/,
    /shutdown +freezing: waiting for upload\(s\) ([\d, -]+) in flight$/,
    /late req +queued upload (\d+)/,
    /shutdown +frozen: everything that was in flight has finished; ([\d, ]+|none) did not start$/,
    /shutdown +workqueue "uploads" destroyed/,
    /summary +finished: ([\d, -]+)$/,
    /summary +never started \(saved for the next run\): ([\d, -]+)$/,
    /summary +every upload accounted for: true/,
    /process +exits by itself with code 0/,
  ]);
  const running = ids(freezing[1]);
  const lateId = Number(late[1]);
  const waiting = ids(frozen[1]);
  const done = ids(finished[1]);
  const notStarted = ids(never[1]);
  assert.ok(running.length <= 2, `running at the signal: ${running} (max_active 2)`);
  for (const id of running) assert.ok(done.includes(id), `upload ${id}, running at the signal, finished`);
  assert.deepEqual(notStarted, waiting, 'what was still pending once frozen is what never started');
  assert.ok(notStarted.includes(lateId), 'the request accepted during the freeze never started');
  // Finished and never-started are disjoint and together are every upload, 1..lateId.
  assert.deepEqual(
    [...done, ...notStarted].sort((a, b) => a - b),
    Array.from({ length: lateId }, (_, i) => i + 1),
  );
  // Each finished upload started and finished; a never-started one has no "starts" line. After the signal only an
  // upload already activated may still start: with max_active 2, at most 2 are in flight, running ones included.
  const signalLine = lineIndex(r, /SIGTERM received/);
  let startedAfter = 0;
  for (const id of done) {
    const start = lineIndex(r, new RegExp(`upload ${id} +starts$`));
    const end = lineIndex(r, new RegExp(`upload ${id} +finished$`));
    assert.ok(start >= 0 && end > start, `upload ${id} started and finished`);
    if (start > signalLine) startedAfter++;
  }
  assert.ok(running.length + startedAfter <= 2, `in flight at the signal: ${running.length} + ${startedAfter}`);
  for (const id of notStarted) noLine(r, new RegExp(`upload ${id} +starts$`));
});
