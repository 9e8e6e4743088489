/**
 * The lock a node holds while it drains a shared workqueue, so that every node refuses outside queueing meanwhile
 * (the kernel's drain lets only chained work in).
 *
 * How: a PostgreSQL advisory lock per queue, held exclusively in a session of its own (a pool connection kept for
 * the drain). Every queue statement takes the shared side for its own transaction with a non-blocking try unless
 * its caller is a handler of that queue (statements.ts, ALLOWED), and refuses when it cannot. Why a session lock:
 * it needs no renewal and goes with the session, so a drainer that dies, or loses its connection, stops refusing
 * at once instead of after a lease. Taking it waits for the queueings in flight (their transactions hold the
 * shared side) and, while it waits, new ones already fail their try: no queueing slips in after the drain began.
 *
 * Invariants: at most one connection per draining queue and node; a lost connection is noticed (its 'error'
 * event) and hold() takes the lock again on a new one.
 */
import type pg from 'pg';
import { backendError, run } from './connection.js';
import { DRAIN_LOCK, DRAIN_UNLOCK } from './statements.js';

/** One queue's drain lock on this node. */
export class DrainLock {
  private client: pg.PoolClient | null = null;
  private lost = false;

  /**
   * @param pool - The backend's pool (the lock keeps one of its connections while held).
   * @param queue - The shared workqueue's name.
   */
  constructor(
    private readonly pool: pg.Pool,
    private readonly queue: string,
  ) {}

  /** Takes the lock, or takes it again on a new connection if the one holding it was lost. */
  async hold(): Promise<void> {
    if (this.client !== null && !this.lost) return;
    this.drop();
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw backendError('drainWorkqueue', error);
    }
    client.on('error', () => {
      this.lost = true;
    });
    this.client = client;
    this.lost = false;
    try {
      await run(client, 'drainWorkqueue', DRAIN_LOCK, [this.queue]);
    } catch (error) {
      this.lost = true;
      throw error;
    }
  }

  /** Releases the lock and gives the connection back (or closes it, if it failed). */
  async release(): Promise<void> {
    const client = this.client;
    if (client === null) return;
    if (!this.lost) {
      try {
        await client.query(DRAIN_UNLOCK, [this.queue]);
      } catch {
        this.lost = true;
      }
    }
    this.drop();
  }

  private drop(): void {
    const client = this.client;
    this.client = null;
    if (client !== null) client.release(this.lost ? true : undefined);
  }
}
