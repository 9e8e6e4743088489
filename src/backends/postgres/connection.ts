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

/** The name each statement text is prepared under (one name per distinct text). */
const statementNames = new Map<string, string>();

/**
 * The query config of a statement run on the backend's pool or a node's own connection: a named
 * prepared statement, parsed and planned once per connection. Unnamed, the single-item queue statement spent as
 * long being planned as being run (0.19 of 0.53 ms on a warm connection), on every call. A caller's own client
 * (`{ tx }`) gets unnamed statements: cmwq leaves nothing behind on a connection it does not own.
 */
export function prepared(text: string, values: unknown[]): pg.QueryConfig {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `cmwq_${statementNames.size + 1}`;
    statementNames.set(text, name);
  }
  return { name, text, values };
}

/**
 * Runs query and maps a failure to ERR_WQ_BACKEND; on a pool (the backend's, made or given) it runs as a prepared
 * statement (prepared()).
 */
export async function run<R extends pg.QueryResultRow>(
  db: pg.Pool | pg.ClientBase,
  what: string,
  text: string,
  values: unknown[],
): Promise<pg.QueryResult<R>> {
  try {
    return await db.query<R>(db instanceof pg.Pool ? prepared(text, values) : { text, values });
  } catch (error) {
    throw backendError(what, error);
  }
}

/**
 * One connection of its own for a caller that runs one statement at a time (a node's round trips): a wake-up goes
 * straight into a claim on a connection that is open and has the claim function planned, never waiting for a free
 * pool client or for a new connection to be made (the pool closes clients idle for 10 s, and a fresh one costs a
 * connection set-up and a plan of the function: the slow tail of the queue-to-start latency).
 * Why not a client checked out of the pool: every attached shared workqueue keeps one for good, so ten of them
 * would hold a default pool of ten and every pooled call (queueing, flush, stats) would wait forever. The
 * connection is made from the pool's settings, outside it. A failed statement closes it; the next call opens a
 * fresh one.
 */
export class PinnedClient {
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;
  private released = false;

  constructor(private readonly pool: pg.Pool) {}

  /**
   * Runs one statement on the pinned connection (opening it first when there is none).
   * @param what what is being done, for the error message.
   * @param text the SQL.
   * @param values its parameters.
   * @returns the result.
   * @throws WorkqueueError ERR_WQ_BACKEND when the connection cannot be made or the statement fails.
   */
  async query<R extends pg.QueryResultRow>(what: string, text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    let client: pg.Client;
    try {
      client = this.client ?? (await (this.connecting ??= this.open()));
    } catch (error) {
      throw backendError(what, error);
    }
    try {
      return await client.query<R>(prepared(text, values));
    } catch (error) {
      this.drop(client);
      throw backendError(what, error);
    }
  }

  private async open(): Promise<pg.Client> {
    const client = new pg.Client(this.pool.options as pg.ClientConfig);
    // A connection lost while idle emits 'error': drop it, the next call reconnects.
    client.on('error', () => this.drop(client));
    try {
      await client.connect();
    } catch (error) {
      client.end().catch(() => {});
      throw error;
    } finally {
      this.connecting = null;
    }
    if (this.released) {
      // Released while the connection was being made: close it, or it would keep the process alive.
      client.end().catch(() => {});
      throw new Error('the connection was released');
    }
    this.client = client;
    return client;
  }

  private drop(client: pg.Client): void {
    if (this.client === client) this.client = null;
    client.end().catch(() => {});
  }

  /** Closes the connection (call once nothing more will run on it). */
  release(): void {
    this.released = true;
    if (this.client !== null) this.drop(this.client);
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
