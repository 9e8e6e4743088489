/**
 * Connections: the error every failed database call becomes (ERR_WQ_BACKEND), and the listener, one dedicated
 * connection per backend that LISTENs for wake-ups and reconnects by itself.
 *
 * Why a dedicated connection: LISTEN belongs to a session, and a pooled client goes back to the pool. Why the
 * poll beside it (in the shared workqueue): NOTIFY is not queued for a session that is not connected, so every
 * wake-up sent while the listener reconnects is lost; after each reconnection the listener says so
 * (onReconnect) and every node looks again at once.
 */
import pg from 'pg';
import { WorkqueueError } from '../../base/errors.js';

/** The channel every shared-workqueue notification goes on; payloads are `<kind>:<queue>[:<key>]`. */
export const CHANNEL = 'cmwq';

/** Wraps a database failure: ERR_WQ_BACKEND, with what was being done and the driver's error as the cause. */
export function backendError(what: string, error: unknown): WorkqueueError {
  if (error instanceof WorkqueueError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new WorkqueueError('ERR_WQ_BACKEND', `${what}: database call failed: ${message}`, { cause: error });
}

/** Runs query and maps a failure to ERR_WQ_BACKEND. */
export async function run<R extends pg.QueryResultRow>(
  db: pg.Pool | pg.ClientBase,
  what: string,
  text: string,
  values: unknown[],
): Promise<pg.QueryResult<R>> {
  try {
    return await db.query<R>(text, values);
  } catch (error) {
    throw backendError(what, error);
  }
}

/**
 * One pool client kept checked out for a caller that runs one statement at a time (a node's round trips): a
 * wake-up goes straight into a claim on a connection that is open and has the claim function planned, never
 * waiting for a free pool client or for a new connection to be made (the pool closes clients idle for 10 s, and
 * a fresh one costs a connection set-up and a plan of the function: the slow tail of the queue-to-start latency).
 * A failed statement gives the client back destroyed; the next call takes a fresh one.
 */
export class PinnedClient {
  private client: pg.PoolClient | null = null;

  constructor(private readonly pool: pg.Pool) {}

  /**
   * Runs one statement on the pinned client (taking one from the pool first when it has none).
   * @param what what is being done, for the error message.
   * @param text the SQL.
   * @param values its parameters.
   * @returns the result.
   * @throws WorkqueueError ERR_WQ_BACKEND when the client cannot be had or the statement fails.
   */
  async query<R extends pg.QueryResultRow>(what: string, text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    let client = this.client;
    if (client === null) {
      try {
        client = await this.pool.connect();
      } catch (error) {
        throw backendError(what, error);
      }
      // A checked-out client that loses its connection while idle emits 'error': drop it, the next call reconnects.
      client.on('error', () => this.drop(client!, true));
      this.client = client;
    }
    try {
      return await client.query<R>(text, values);
    } catch (error) {
      this.drop(client, true);
      throw backendError(what, error);
    }
  }

  private drop(client: pg.PoolClient, broken: boolean): void {
    if (this.client !== client) return;
    this.client = null;
    client.release(broken);
  }

  /** Gives the client back to the pool (call once nothing more will run on it). */
  release(): void {
    if (this.client !== null) this.drop(this.client, false);
  }
}

/** The LISTEN connection of a backend: delivers notifications and reconnects with back-off. */
export class Listener {
  private client: pg.Client | null = null;
  private closed = false;
  private retryMs = 50;
  private timer: NodeJS.Timeout | null = null;
  /** Connected now. */
  connected = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly onNotify: (payload: string) => void,
    private readonly onReconnect: () => void,
  ) {}

  /** Connects and LISTENs; rejects with ERR_WQ_BACKEND when the first connection fails. */
  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (msg) => {
      if (msg.channel === CHANNEL && msg.payload !== undefined) this.onNotify(msg.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw backendError('LISTEN', error);
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.connected = true;
    this.retryMs = 50;
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = null;
    this.connected = false;
    client.end().catch(() => undefined);
    this.schedule();
  }

  private schedule(): void {
    if (this.closed || this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect().then(
        () => this.onReconnect(),
        () => {
          this.retryMs = Math.min(this.retryMs * 2, 2000);
          this.schedule();
        },
      );
    }, this.retryMs);
    this.timer.unref();
  }

  /** Stops listening and ends the connection. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    const client = this.client;
    this.client = null;
    this.connected = false;
    if (client !== null) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
    }
  }
}
