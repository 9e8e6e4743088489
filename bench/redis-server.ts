/**
 * A throw-away redis-server for the BullMQ benchmark (bench/bullmq.ts): Debian's `redis-server` binary, started on
 * 127.0.0.1 at a free port with a fresh temporary directory, nothing persisted (`--save ''`, `--appendonly no`:
 * the benchmark measures the queues, not the disk) and `--maxmemory-policy noeviction` (what BullMQ requires:
 * an evicted key would lose a job). stop() ends the server and removes the directory; flushAll() empties it
 * between runs with one FLUSHALL over a plain socket, so the parent process never loads a Redis client.
 *
 * The server runs in the foreground as this process's child; it is ready once it prints "Ready to accept
 * connections". A missing binary fails at once, saying how to install it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running throw-away redis-server. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** The server's version, as `redis-server --version` prints it ("7.0.15"). */
  readonly version: string;
  /** Deletes every key (FLUSHALL); resolves once the server said OK. */
  flushAll(): Promise<void>;
  /** Ends the server (SIGTERM, then SIGKILL after 5 s) and removes its directory. */
  stop(): Promise<void>;
}

const READY = 'Ready to accept connections';
const START_TIMEOUT_MS = 15_000;

/** A TCP port that was free a moment ago on 127.0.0.1 (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Runs `redis-server --version`; rejects saying how to install it when the binary is missing. */
function redisVersion(bin: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const cp = spawn(bin, ['--version'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    cp.stdout.on('data', (b: Buffer) => (out += b.toString()));
    cp.on('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'ENOENT'
          ? new Error(`the BullMQ benchmark needs redis-server (not found: ${bin}): apt-get install redis-server`)
          : error,
      ),
    );
    cp.on('exit', () => resolve(/v=(\S+)/.exec(out)?.[1] ?? 'unknown'));
  });
}

/** Sends one inline command and resolves with the server's first reply line. */
function command(port: number, cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.write(`${cmd}\r\n`));
    let got = '';
    sock.on('data', (b: Buffer) => {
      got += b.toString();
      const end = got.indexOf('\r\n');
      if (end >= 0) {
        sock.end();
        resolve(got.slice(0, end));
      }
    });
    sock.on('error', reject);
  });
}

/**
 * Starts a throw-away redis-server (`REDIS_SERVER` names another binary than `redis-server` on the PATH).
 * @returns the running server.
 * @throws Error when the binary is missing (saying `apt-get install redis-server`) or the server does not start.
 */
export async function startRedis(): Promise<RedisServer> {
  const bin = process.env.REDIS_SERVER ?? 'redis-server';
  const version = await redisVersion(bin);
  const dir = mkdtempSync(join(tmpdir(), 'cmwq-bench-redis-'));
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'];
  args.push('--maxmemory-policy', 'noeviction', '--daemonize', 'no');
  const cp: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => cp.once('exit', () => resolve()));
  let log = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server did not start in 15 s:\n${log}`)),
        START_TIMEOUT_MS,
      );
      const onData = (b: Buffer): void => {
        log += b.toString();
        if (log.includes(READY)) {
          clearTimeout(timer);
          resolve();
        }
      };
      cp.stdout!.on('data', onData);
      cp.stderr!.on('data', onData);
      cp.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}) before it was ready:\n${log}`));
      });
    });
  } catch (error) {
    cp.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    version,
    async flushAll() {
      const reply = await command(port, 'FLUSHALL');
      if (reply !== '+OK') throw new Error(`redis FLUSHALL answered ${reply}`);
    },
    async stop() {
      if (cp.exitCode === null && cp.signalCode === null) {
        const timer = setTimeout(() => cp.kill('SIGKILL'), 5000);
        cp.kill('SIGTERM');
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
