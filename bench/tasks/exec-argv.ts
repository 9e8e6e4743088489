/**
 * Node flags for the benchmarks' own worker threads (raw postMessage workers, and the peers' pools, which take an
 * execArgv option). Threads inherit the parent's flags by default, and that is what this returns (undefined)
 * unless the parent was started with flags a worker refuses to start with: `-e`/`--eval`, `-p`/`--print`,
 * `--input-type` (a scenario run from `node -e "..." --input-type=module`). Then it returns the parent's flags
 * without those, and without the per-process V8 flags (such as --expose-gc) that an explicit execArgv may not
 * carry; those apply to every thread anyway. Computed once.
 */
import { Worker } from 'node:worker_threads';

const MAIN_ONLY = new Set(['-e', '--eval', '-p', '--print', '--input-type']);
let cached: string[] | undefined | null = null;

export function workerExecArgv(): string[] | undefined {
  if (cached !== null) return cached;
  const argv = process.execArgv;
  const name = (a: string): string => (a.includes('=') ? a.slice(0, a.indexOf('=')) : a);
  if (!argv.some((a) => MAIN_ONLY.has(name(a)))) return (cached = undefined);
  let kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (MAIN_ONLY.has(name(a))) {
      if (!a.includes('=')) i++; // the code or value that follows
      continue;
    }
    kept.push(a);
  }
  // Which of the rest would an explicit execArgv refuse? Ask Node once (the probe thread does nothing).
  try {
    void new Worker('', { eval: true, execArgv: kept }).terminate();
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    const refused = new Set(
      String((error as Error).message)
        .replace(/^.*flags:\s*/, '')
        .split(/[\s,]+/)
        .filter(Boolean),
    );
    kept = kept.filter((a) => !refused.has(a) && !refused.has(name(a)));
  }
  return (cached = kept);
}
