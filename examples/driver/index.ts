/**
 * driver: the device-driver pattern. A device object owns its deferred work; remove() tears it down with the
 * cancel_*_sync calls before the device is freed, so no handler can run on a freed device.
 *
 * The device owns two work items, the way a driver's private struct embeds a work_struct and a delayed_work:
 *
 *   irqWork    a one-shot Work: the interrupt handler queues it to process what the device reported;
 *   pollWork   a DelayedWork that polls the device's status register every POLL_MS and re-arms itself.
 *
 * Each handler finds its device through `work.data` (the kernel's container_of). probe() starts the polling;
 * remove() cancels both works with cancelWorkSync / cancelDelayedWorkSync and only then frees the device.
 *
 * The removal is made to land at the worst moment: while a poll is in the middle of a status read (its handler is
 * asleep), and right after an interrupt queued irqWork. cancelDelayedWorkSync waits for the poll to finish, and
 * the poll's attempt to re-arm itself fails because a cancel is in progress; cancelWorkSync takes irqWork back
 * before it ever runs. The device then stays freed for several poll periods and the program checks that no
 * handler touched it.
 *
 * Run: npm run build && node dist/examples/driver/index.js [--short]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  cancelDelayedWorkSync,
  cancelWorkSync,
  DelayedWork,
  queueDelayedWork,
  scheduleDelayedWork,
  scheduleWork,
  systemWq,
  Work,
  workBusy,
} from 'cmwq';
import { createLog, ms } from '../shared.js';

const log = createLog(10); // who-column width

/** How often the device is polled, and how long one status read takes (the handler sleeps meanwhile). */
const POLL_MS = ms(100);
const STATUS_READ_MS = ms(40);

/** Handler runs that found their device already freed: the bug cancel_*_sync prevents. Must stay 0. */
let useAfterFree = 0;

class Device {
  /** One-shot work, queued by the interrupt handler. Its data is the device (container_of). */
  readonly irqWork: Work<Device>;
  /** Periodic polling: a delayed work that re-arms itself at the end of each run. */
  readonly pollWork: DelayedWork<Device>;

  /** Events the interrupt handler recorded and irqWork has not processed yet. */
  private events: string[] = [];
  polls = 0;
  irqRuns = 0;
  /** Handler runs that started after remove() returned. */
  runsAfterRemove = 0;
  freed = false;
  removed = false;
  /** Resolvers waiting for a poll to start (used to time the removal, see main). */
  private pollWaiters: { n: number; resolve: () => void }[] = [];

  constructor(readonly name: string) {
    // INIT_WORK / INIT_DELAYED_WORK: bind each work to its handler and to this device, once.
    this.irqWork = new Work(irqWorkFn, this);
    this.pollWork = new DelayedWork(pollWorkFn, this);
  }

  /** probe: the device appeared. Start polling it. Most drivers can use the system workqueue (schedule_*_work). */
  probe(): void {
    log(this.name, 'probe: starting to poll the status register');
    scheduleDelayedWork(this.pollWork, POLL_MS);
  }

  /** The interrupt handler (top half): record the event and defer the processing. Never sleeps, never waits. */
  interrupt(event: string): void {
    this.events.push(event);
    const queued = scheduleWork(this.irqWork);
    log(this.name, `IRQ "${event}": scheduleWork(irqWork) = ${queued}`);
  }

  takeEvents(): string[] {
    const events = this.events;
    this.events = [];
    return events;
  }

  /** Resolves when poll number n starts. */
  pollStarted(n: number): Promise<void> {
    return new Promise((resolve) => this.pollWaiters.push({ n, resolve }));
  }

  notePollStart(): void {
    for (const w of this.pollWaiters.filter((w) => w.n === this.polls)) w.resolve();
  }

  /** remove: the device is going away. Stop every deferred work before freeing the device. */
  async remove(): Promise<void> {
    log(
      this.name,
      `remove: irqWork busy = ${workBusy(this.irqWork)}, pollWork busy = ${workBusy(this.pollWork)} (1 pending, 2 running)`,
    );
    // cancel_work_sync: a queued instance is taken back; a running one is waited for.
    const irqWasPending = await cancelWorkSync(this.irqWork);
    log(
      this.name,
      `remove: cancelWorkSync(irqWork) = ${irqWasPending}${irqWasPending ? ' (it was queued and never ran)' : ''}`,
    );
    // cancel_delayed_work_sync: same, for an armed timer too. It handles a work that re-arms itself: during the
    // wait, every queue call on the work fails, so the running poll cannot re-arm.
    const pollWasPending = await cancelDelayedWorkSync(this.pollWork);
    log(this.name, `remove: cancelDelayedWorkSync(pollWork) = ${pollWasPending} (waited for the poll in progress)`);
    // kfree(dev): only now is it safe.
    this.freed = true;
    this.removed = true;
    log(this.name, 'remove: device freed');
  }
}

/** Every handler starts by checking that its device is alive; after a correct remove() this never fires. */
function checkAlive(dev: Device, who: string): boolean {
  if (dev.removed) dev.runsAfterRemove++;
  if (!dev.freed) return true;
  useAfterFree++;
  log(dev.name, `${who}: BUG, the device was already freed`);
  return false;
}

/** The deferred half of the interrupt: process the recorded events. It may sleep, being in "process context". */
async function irqWorkFn(work: Work<Device>): Promise<void> {
  const dev = work.data; // container_of(work, struct my_device, work)
  if (!checkAlive(dev, 'irqWork')) return;
  dev.irqRuns++;
  const events = dev.takeEvents();
  log(dev.name, `irqWork: processing ${events.length} event(s): ${events.join(', ')}`);
  await sleep(ms(10));
}

/** One poll: read the status register (the handler sleeps meanwhile), then re-arm for the next period. */
async function pollWorkFn(work: DelayedWork<Device>): Promise<void> {
  const dev = work.data; // container_of(to_delayed_work(work), struct my_device, dwork)
  if (!checkAlive(dev, 'pollWork')) return;
  const n = ++dev.polls;
  log(dev.name, `pollWork #${n}: reading status...`);
  dev.notePollStart();
  await sleep(STATUS_READ_MS);
  log(dev.name, `pollWork #${n}: status OK`);
  // Re-arm. While cancelDelayedWorkSync waits for this run, the call fails and returns false.
  const rearmed = queueDelayedWork(systemWq, work, POLL_MS);
  log(dev.name, `pollWork #${n}: re-arm = ${rearmed}${rearmed ? '' : ' (refused: the device is being removed)'}`);
}

// ─── main: plug the device in, let it run, unplug it at the worst moment ─────────────────────────────────────────

const dev = new Device('mydev0');
dev.probe();

// A few polls go by; an interrupt arrives between polls.
await dev.pollStarted(2);
dev.interrupt('rx-ready');
dev.interrupt('rx-ready'); // a second interrupt before the work ran: the work is pending, it runs once for both

// Unplug while poll #3 is reading the status register, right after one more interrupt queued irqWork.
await dev.pollStarted(3);
dev.interrupt('link-down');
await dev.remove();

// Leave the freed device alone for several poll periods: nothing may run.
await sleep(POLL_MS * 4);
log('check', `polls: ${dev.polls}, irqWork runs: ${dev.irqRuns}`);
log('check', `handler runs after remove: ${dev.runsAfterRemove}, use-after-free: ${useAfterFree}`);
log(
  'check',
  dev.runsAfterRemove === 0 && useAfterFree === 0 ? 'nothing ran after remove' : 'BUG: work ran after remove',
);
