/**
 * The Node flags a thread cmwq starts inherits: the process's own (loaders such as --import tsx,
 * --experimental-strip-types, ...) minus those that only make sense for the main script and would make a worker
 * fail to start: -e/--eval, -p/--print (and the code they take) and --input-type (§1).
 */
import { Worker as Thread, type WorkerOptions } from 'node:worker_threads';

const DROP_WITH_VALUE = new Set(['-e', '--eval', '-p', '--print', '--input-type']);
const DROP_FLAG = new Set(['-pe', '-i', '--interactive']);

export function threadExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i];
    const name = arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg;
    if (DROP_WITH_VALUE.has(name)) {
      if (!arg.includes('=') && (name === '-e' || name === '--eval' || name === '--input-type'))
        i++; // its value
      else if (
        !arg.includes('=') &&
        (name === '-p' || name === '--print') &&
        i + 1 < execArgv.length &&
        !execArgv[i + 1].startsWith('-')
      )
        i++;
      continue;
    }
    if (DROP_FLAG.has(name)) {
      if (name === '-pe') i++;
      continue;
    }
    kept.push(arg);
  }
  return kept;
}

/**
 * Starts a worker thread with threadExecArgv(). Flags a worker refuses (per-process V8 options such as
 * --expose-gc, which apply to every thread anyway) are dropped and the start retried once.
 */
export function startThread(url: URL, options: WorkerOptions): Thread {
  const execArgv = threadExecArgv();
  try {
    return new Thread(url, { ...options, execArgv });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    const refused = new Set(
      String((error as Error).message)
        .replace(/^.*flags:\s*/, '')
        .split(/[\s,]+/)
        .filter(Boolean),
    );
    const name = (arg: string) => (arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg);
    return new Thread(url, {
      ...options,
      execArgv: execArgv.filter((arg) => !refused.has(arg) && !refused.has(name(arg))),
    });
  }
}
