/**
 * Timer lists: where an armed delayed work's timer will queue it, kept in the work's own `_list`.
 *
 * An armed DelayedWork is linked on a timer wheel slot (timer-base.ts) through its _next/_prev, and on no other
 * list, so its `_list` field is free to name the target instead: a TimerList is the identity "armed for workqueue
 * wq, CPU cpu". That saves a DelayedWork the two fields of its own it had (the workqueue and the CPU): a delayed
 * work is exactly as large as a Work. `_list.kind === ListKind.Timer` still tells cancel, flush and the barrier
 * that the work is armed.
 *
 * A TimerList links nothing (head, tail and length stay empty: the wheel holds the links); each workqueue has one
 * for WORK_CPU_UNBOUND, made with it, and one per CPU a delayed work was aimed at with queueDelayedWorkOn(),
 * made on first use.
 */
import type { Workqueue } from './workqueue.js';
import { ListKind, WorkList } from './worklist.js';

/** The list identity of a delayed work armed for wq at cpu: its `_list` while its timer is armed. */
export class TimerList extends WorkList<any> {
  /** The identities for the other CPUs of the same workqueue, by CPU. */
  private readonly onCpu: TimerList[] = [];

  /**
   * @param wq - The workqueue the timer queues on.
   * @param cpu - The CPU it queues for (WORK_CPU_UNBOUND: the CPU of the thread the timer fires on).
   */
  constructor(
    readonly wq: Workqueue,
    readonly cpu: number,
  ) {
    super(ListKind.Timer);
  }

  /**
   * The identity for the same workqueue at cpu (this one if cpu is its own).
   *
   * @param cpu - WORK_CPU_UNBOUND or a CPU number, already validated.
   * @returns The TimerList of (wq, cpu), made on first use.
   */
  forCpu(cpu: number): TimerList {
    if (cpu === this.cpu) return this;
    let list = this.onCpu[cpu];
    if (list === undefined) this.onCpu[cpu] = list = new TimerList(this.wq, cpu);
    return list;
  }
}
