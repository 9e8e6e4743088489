/**
 * The scaffolding every example shares: the --short switch, delay scaling, the timestamped printer and workBusy()
 * in words. Nothing about workqueues is taught here; each example's story stays in its own file.
 */
import { performance } from 'node:perf_hooks';
import { WORK_BUSY_PENDING, WORK_BUSY_RUNNING } from 'cmwq';

/** True with --short (or CMWQ_EXAMPLE_SHORT=1): delays are scaled down so that the example ends quickly. */
export const SHORT = process.argv.includes('--short') || process.env.CMWQ_EXAMPLE_SHORT === '1';

/** A delay of n ms at normal speed; in --short mode divided by `shortDivisor` (10 unless an example says so). */
export function ms(n: number, shortDivisor = 10): number {
  return Math.max(1, Math.round(SHORT ? n / shortDivisor : n));
}

const t0 = performance.now();

/** Makes log(who, line): a line stamped with the seconds since start, as dmesg does, `who` padded to whoWidth. */
export function createLog(whoWidth: number): (who: string, line: string) => void {
  return (who, line) => {
    const t = ((performance.now() - t0) / 1000).toFixed(3).padStart(8);
    console.log(`[${t}] ${who.padEnd(whoWidth)} ${line}`);
  };
}

/** workBusy() bits as words: 0 (idle), 1 (PENDING), 2 (RUNNING), 3 (PENDING|RUNNING). */
export function busyText(bits: number): string {
  const parts = [];
  if (bits & WORK_BUSY_PENDING) parts.push('PENDING');
  if (bits & WORK_BUSY_RUNNING) parts.push('RUNNING');
  return `${bits} (${parts.length > 0 ? parts.join('|') : 'idle'})`;
}
