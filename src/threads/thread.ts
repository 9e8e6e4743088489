/**
 * Threads: one worker_thread cmwq started, as the thread that owns it sees it (thread-main.ts is the other side).
 *
 * A thread is an event loop with cmwq's own pools in it, so module works run there with concurrency management:
 * a handler that awaits lets the thread start its next item. The owner keeps every item's state (pending bit,
 * flush colors, max_active, the worker it runs on); the thread only runs what it is given and reports back.
 *
 * Messages are batched both ways: items assigned during one pass of the owner's run loop go in one message, and
 * the thread's completions of one pass come back in one. Each item in flight holds a slot (a small integer) on
 * the thread; the shared state below tells the owner, without a message, whether the thread is running a
 * handler's synchronous segment and since when (the dispatcher reads it to find a thread that can take work),
 * and which slots have started (after a crash, started items failed and the others run elsewhere).
 *
 * The shared state's layout and the messages are in protocol.ts.
 */
import { performance } from 'node:perf_hooks';
import type { Worker as NodeThread, Transferable, WorkerOptions } from 'node:worker_threads';
import { errorMessage, WorkqueueError } from '../base/errors.js';
import { config, THREAD_ROLE, type ThreadRole } from '../base/init.js';
import { moduleRef } from '../core/module-func.js';
import { type Payload, takePayload } from '../core/payload.js';
import { CallWork } from '../core/call-work.js';
import { S_FAILED } from '../core/executor.js';
import type { Work } from '../core/work.js';
import { bindRemote, unbindRemote, type Worker } from '../core/worker.js';
import {
  decodeError,
  F_BH,
  F_CALL_ARG,
  F_HIGHPRI,
  F_WANT_RESULT,
  ITEM_FIELDS,
  OP_ABORT,
  OP_DONE,
  OP_READY,
  OP_RUN,
  RECORD_FIELDS,
  SLOT_ENDED,
  SLOT_FAILED,
  SLOT_STARTED,
  SLOTS,
  ST_FUNC,
  ST_RUNNING,
  ST_STARTED,
  type ThreadBoot,
  threadState,
} from './protocol.js';

/** The side of a thread's owner that hears from it (a thread pool). */
export interface ThreadOwner {
  online(thread: Thread): void;
  done(thread: Thread, worker: Worker, status: number, cpuMs: number, value: unknown): void;
  /** The thread is gone (its items that had started are reported done, failed): the others, to run elsewhere. */
  exited(thread: Thread, unstarted: { worker: Worker; payload: Payload }[], error: unknown): void;
}

const threadMain = new URL('./thread-main.js', import.meta.url);

export class Thread {
  node: NodeThread | null = null;
  /** The thread's id once started (worker.threadId), for dumps. */
  threadId = -1;
  /** Its name once started: kworker/<cpu>, kworker/u<pool>:<i> or kworker/R-<wq>. */
  name = '';
  online = false;
  /** Whether it ever came online (an exit before that is a failed start). */
  wasOnline = false;
  gone = false;
  /** Items assigned and not yet reported done. */
  inflight = 0;
  /**
   * The estimated costs (ms) of the items assigned, in assignment order, and how many of them the thread has
   * started: the thread starts items about in that order, so the sum of the costs not yet started is what its
   * queue holds. A started item costs nothing more: it is running, or asleep.
   */
  private readonly costs = new Float64Array(SLOTS);
  private assigned = 0;
  private consumed = 0;
  /** Items assigned that could not be sent (the thread will never count them as started). */
  private unsent = 0;
  private unstartedMs = 0;
  /** When inflight last dropped to 0 (epoch ms), for idle retirement. */
  idleSince = Date.now();
  readonly running: Int32Array;
  readonly since: Float64Array;
  readonly started: Uint8Array;
  private readonly workers: (Worker | null)[] = new Array(SLOTS).fill(null);
  private readonly payloads: (Payload | null)[] = new Array(SLOTS).fill(null);
  private readonly free: number[] = [];
  private readonly known = new Set<number>();
  private outbox: unknown[] = [];
  private defs: unknown[] = [];
  private flushScheduled = false;
  private referenced = true;

  constructor(
    private readonly owner: ThreadOwner,
    readonly role: ThreadRole,
    /** Its number among its pool's threads, for names. */
    readonly index: number,
    private readonly resourceLimits?: object,
  ) {
    ({ running: this.running, since: this.since, started: this.started } = threadState());
    for (let slot = SLOTS - 1; slot >= 0; slot--) this.free.push(slot);
  }

  /** Starts the thread. A start that fails at once throws; one that fails later reports through exited(). */
  start(): void {
    const prefix = this.role.namePrefix;
    // Names: CPU k's workers are kworker/k:N; an unbound pool's thread i names its own kworker/uP:i.N; a rescuer's
    // kworker/R-name.N.
    const name =
      this.role.kind === 'unbound'
        ? `${prefix}${this.index}`
        : this.role.kind === 'cpu'
          ? `kworker/${this.role.cpu}`
          : prefix;
    this.name = name;
    const boot: ThreadBoot = {
      ...this.role,
      namePrefix: this.role.kind === 'cpu' ? prefix : `${name}.`,
      state: this.running.buffer as SharedArrayBuffer,
      nrCpus: config.nrCpus,
      cpuIntensiveThreshMs: config.cpuIntensiveThreshMs,
      asyncContext: config.asyncContext,
    };
    const node = config.startThread(threadMain, {
      workerData: { [THREAD_ROLE]: boot },
      resourceLimits: this.resourceLimits,
      name,
    } as WorkerOptions);
    this.node = node;
    this.threadId = node.threadId;
    node.on('message', this.onMessage);
    let failure: unknown = null;
    node.on('error', (error) => (failure = error));
    node.on('exit', (code) => this.onExit(failure ?? new Error(`thread exited with code ${code}`)));
    this.setRef(this.inflight > 0);
  }

  /** The estimated milliseconds of work assigned to the thread and not yet started. */
  get queuedMs(): number {
    const started = Atomics.load(this.running, ST_STARTED) + this.unsent;
    while (this.consumed < started && this.consumed < this.assigned)
      this.unstartedMs -= this.costs[this.consumed++ % SLOTS];
    if (this.consumed === this.assigned) this.unstartedMs = 0; // no drift from float sums
    return this.unstartedMs;
  }

  /** How long the thread's current synchronous segment has lasted (ms), or -1 if it is not running one. */
  runningForMs(): number {
    return Atomics.load(this.running, ST_RUNNING) === 1
      ? performance.timeOrigin + performance.now() - this.since[0]
      : -1;
  }

  /** The functions of the items that have started on the thread and not ended (for lockup reports). */
  startedFuncs(): string[] {
    const names: string[] = [];
    for (let slot = 0; slot < SLOTS; slot++) {
      const worker = this.workers[slot];
      if (worker !== null && this.started[slot] === SLOT_STARTED)
        names.push(`${worker.name}:${worker.current!.funcName}`);
    }
    return names;
  }

  /** The module function id of the synchronous segment running (valid while runningForMs() >= 0). */
  runningFunc(): number {
    return Atomics.load(this.running, ST_FUNC);
  }

  /** Whether the thread is in a synchronous segment that has lasted longer than ms (it is busy running). */
  runningLongerThan(ms: number): boolean {
    return this.runningForMs() > ms;
  }

  /** Assigns a started item to this thread; it goes out with this pass's batch. */
  assign(worker: Worker, work: Work<any>, costMs: number, payload: Payload = takePayload(work)): void {
    const pool = worker.pool;
    const flags =
      (pool.highpri ? F_HIGHPRI : 0) |
      (pool.bh ? F_BH : 0) |
      (work instanceof CallWork ? F_CALL_ARG | F_WANT_RESULT : 0);
    const slot = this.free.pop()!;
    const ref = moduleRef(work.func)!;
    if (!this.known.has(ref.id)) {
      this.known.add(ref.id);
      this.defs.push(ref.id, ref.specifier, ref.exportName);
    }
    this.workers[slot] = worker;
    this.payloads[slot] = payload;
    this.costs[this.assigned++ % SLOTS] = costMs;
    this.unstartedMs += costMs;
    bindRemote(worker, this, slot);
    if (this.inflight++ === 0) this.setRef(true);
    this.outbox.push(slot, ref.id, flags, payload.data);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flush);
    }
  }

  /** Slots free for more items. */
  get room(): number {
    return this.free.length;
  }

  /** Asks the running handler in slot to stop (its work.signal aborts); it still reports done. */
  abort(slot: number): void {
    this.node?.postMessage([OP_ABORT, slot]);
  }

  /** Ends the thread (idle retirement, pool freed); items in flight, if any, are handed back through exited(). */
  terminate(): Promise<void> {
    if (this.node === null || this.gone) return Promise.resolve();
    return this.node.terminate().then(() => undefined);
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.node === null || this.gone) return; // handed back by onExit()
    if (!this.online) {
      // Sent once the thread says it is up, so that a thread that fails to start loses nothing.
      return;
    }
    const items = this.outbox;
    const defs = this.defs;
    this.outbox = [];
    this.defs = [];
    const transfer: Transferable[] = [];
    for (let i = 0; i < items.length; i += ITEM_FIELDS) {
      const t = this.payloads[items[i] as number]?.transfer;
      if (t !== undefined) transfer.push(...t);
    }
    try {
      this.node.postMessage([OP_RUN, defs, items], transfer);
    } catch {
      // One item's data could not be sent (queued before it was cloned, or a transfer went wrong): send them one
      // by one, failing those that cannot go.
      let pendingDefs = defs;
      for (let i = 0; i < items.length; i += ITEM_FIELDS) {
        const slot = items[i] as number;
        try {
          this.node.postMessage(
            [OP_RUN, pendingDefs, items.slice(i, i + ITEM_FIELDS)],
            this.payloads[slot]?.transfer ?? [],
          );
          pendingDefs = []; // the module functions went with the first message that made it
        } catch (error) {
          const clone = new WorkqueueError(
            'ERR_WQ_DATA_CLONE',
            `work data cannot be sent to another thread: ${(error as Error).message}`,
          );
          this.unsent++; // never started there: its cost must not weigh on the thread's queue
          this.complete(slot, S_FAILED, 0, clone);
        }
      }
    }
  };

  private readonly onMessage = (message: unknown[]): void => {
    switch (message[0]) {
      case OP_DONE: {
        const records = message[1] as unknown[];
        for (let i = 0; i < records.length; i += RECORD_FIELDS) {
          this.complete(records[i] as number, records[i + 1] as number, records[i + 2] as number, records[i + 3]);
        }
        break;
      }
      case OP_READY:
        this.online = true;
        this.wasOnline = true;
        if (this.outbox.length > 0) this.flush();
        this.owner.online(this);
        break;
    }
  };

  private complete(slot: number, status: number, cpuMs: number, value: unknown): void {
    const worker = this.workers[slot];
    if (worker === null) return;
    this.workers[slot] = null;
    this.payloads[slot] = null;
    this.started[slot] = 0;
    this.free.push(slot);
    if (--this.inflight === 0) {
      this.idleSince = Date.now();
      this.setRef(false);
    }
    this.owner.done(this, worker, status, cpuMs, (status & S_FAILED) !== 0 ? decodeError(value) : value);
  }

  private onExit(error: unknown): void {
    if (this.gone) return;
    this.gone = true;
    this.online = false;
    const ended: [Worker, number][] = [];
    const unstarted: { worker: Worker; payload: Payload }[] = [];
    for (let slot = 0; slot < SLOTS; slot++) {
      const worker = this.workers[slot];
      if (worker === null) continue;
      const payload = this.payloads[slot]!;
      const state = this.started[slot];
      this.workers[slot] = null;
      this.payloads[slot] = null;
      this.started[slot] = 0;
      unbindRemote(worker);
      // Transferred buffers went with the thread: such an item cannot run elsewhere.
      if (state !== 0 || payload.transfer !== undefined) ended.push([worker, state]);
      else unstarted.push({ worker, payload });
    }
    this.inflight = 0;
    this.consumed = this.assigned;
    this.unstartedMs = 0;
    this.outbox = [];
    // Items that had started fail with the thread. Those that had ended, whose report died with it, keep their
    // outcome; its details (a failure's error, a workOnCpu result) are gone.
    const reason = errorMessage(error);
    for (const [worker, state] of ended) {
      const work = worker.current!;
      if (state === SLOT_ENDED && !(work instanceof CallWork)) {
        this.owner.done(this, worker, 0, 0, undefined);
        continue;
      }
      const message =
        state === SLOT_STARTED || state === 0
          ? `${work.funcName}: thread ${this.threadId} (${this.name}) exited while running it: ${reason}`
          : `${work.funcName} ${state === SLOT_FAILED ? 'failed' : 'ended'}, but its thread exited before reporting how`;
      this.owner.done(this, worker, S_FAILED, 0, new WorkqueueError('ERR_WQ_WORKER_EXITED', message, { cause: error }));
    }
    this.owner.exited(this, unstarted, error);
  }

  private setRef(ref: boolean): void {
    if (this.node === null || ref === this.referenced) return;
    this.referenced = ref;
    if (ref) this.node.ref();
    else this.node.unref();
  }
}
