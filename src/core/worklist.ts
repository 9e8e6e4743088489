/**
 * Worklists: intrusive doubly-linked lists of work items.
 *
 * A work item is on at most one list at a time (a pool's worklist, a pool workqueue's inactive list, a worker's
 * scheduled list, or a timer bucket), so the links live on the item itself: queueing allocates nothing and any
 * item can be unlinked in O(1) by cancel, wherever it is. `kind` tells cancel what being on the list means.
 *
 * This is one of the seams a shared (database) backend will replace: everything that orders pending work goes
 * through WorkList and PriorityWorklist.
 */

export const enum ListKind {
  /** A pool's worklist: the item is active (counted in its pwq's nrActive) and waits for a worker. */
  Worklist = 1,
  /** A worker's scheduled list: active, waiting for its own previous instance on that worker to end. */
  Scheduled = 2,
  /** A pool workqueue's inactive list: over max_active (or frozen), not yet active. */
  Inactive = 3,
  /** A timer bucket: a delayed work whose timer is armed. */
  Timer = 4,
}

export interface ListNode {
  /** @internal (Work's own links are internal: the published declarations leave both out.) */
  _next: ListNode | null;
  /** @internal */
  _prev: ListNode | null;
  /** @internal */
  _list: WorkList<ListNode> | null;
  priority: number;
}

export class WorkList<T extends ListNode> {
  head: T | null = null;
  tail: T | null = null;
  length = 0;

  constructor(readonly kind: ListKind) {}

  push(node: T): void {
    node._list = this;
    node._next = null;
    node._prev = this.tail;
    if (this.tail === null) this.head = node;
    else this.tail._next = node;
    this.tail = node;
    this.length++;
  }

  unshift(node: T): void {
    node._list = this;
    node._prev = null;
    node._next = this.head;
    if (this.head === null) this.tail = node;
    else this.head._prev = node;
    this.head = node;
    this.length++;
  }

  shift(): T | null {
    const node = this.head;
    if (node === null) return null;
    this.head = node._next as T | null;
    if (this.head === null) this.tail = null;
    else this.head._prev = null;
    node._next = node._prev = null;
    node._list = null;
    this.length--;
    return node;
  }

  remove(node: T): void {
    if (node._prev === null) this.head = node._next as T | null;
    else node._prev._next = node._next;
    if (node._next === null) this.tail = node._prev as T | null;
    else node._next._prev = node._prev;
    node._next = node._prev = null;
    node._list = null;
    this.length--;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let n = this.head; n !== null; n = n._next as T | null) yield n;
  }
}

/**
 * A pool's worklist, ordered by work priority (higher first), FIFO among equals. Priority is cmwq's own addition
 * (the kernel has only the highpri pools): with every item at priority 0, which is the default, there is one level
 * and push/shift cost what a plain WorkList costs. Cancel unlinks an item from its level directly
 * (node._list.remove), so the length is the levels' sum, not a separate count.
 */
export class PriorityWorklist<T extends ListNode> {
  /** Levels in descending priority; always holds the level for priority 0. */
  private levels: { priority: number; list: WorkList<T> }[];
  private readonly dfl: WorkList<T>;

  constructor(kind: ListKind) {
    this.dfl = new WorkList<T>(kind);
    this.levels = [{ priority: 0, list: this.dfl }];
  }

  private level(priority: number): WorkList<T> {
    if (priority === 0) return this.dfl;
    let i = 0;
    while (i < this.levels.length && this.levels[i].priority > priority) i++;
    if (i < this.levels.length && this.levels[i].priority === priority) return this.levels[i].list;
    const list = new WorkList<T>(this.dfl.kind);
    this.levels.splice(i, 0, { priority, list });
    return list;
  }

  // length, shift() and peek() keep the one-level case tiny and leave the levels to a helper, so that V8 inlines
  // them into the run loop (a for-of over the levels alone makes a getter too big to inline: ~35 instructions a call).
  get length(): number {
    return this.levels.length === 1 ? this.dfl.length : this.levelsLength();
  }

  private levelsLength(): number {
    let n = 0;
    for (const { list } of this.levels) n += list.length;
    return n;
  }

  push(node: T): void {
    (node.priority === 0 ? this.dfl : this.level(node.priority)).push(node);
  }

  /** Puts node at the head of its priority level (it goes before its equals). */
  unshift(node: T): void {
    (node.priority === 0 ? this.dfl : this.level(node.priority)).unshift(node);
  }

  shift(): T | null {
    return this.levels.length === 1 ? this.dfl.shift() : (this.firstLevel()?.shift() ?? null);
  }

  /** The item shift() would return, left in place. */
  peek(): T | null {
    return this.levels.length === 1 ? this.dfl.head : (this.firstLevel()?.head ?? null);
  }

  /** The highest level that holds an item, if any. */
  private firstLevel(): WorkList<T> | null {
    for (const { list } of this.levels) if (list.length > 0) return list;
    return null;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (const { list } of this.levels) yield* list;
  }
}
