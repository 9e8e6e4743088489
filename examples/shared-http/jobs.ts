/**
 * The jobs of the shared-http example: module works, so that whichever worker process claims an item can import
 * them. Each prints which process ran it.
 */
import type { Work } from 'cmwq';

/** Sends the welcome mail of a new user (here: prints it). */
export function welcome(work: Work<{ user: string }>): void {
  process.stdout.write(`worker ${process.pid}: welcome mail to ${work.data.user}\n`);
}

/** Rebuilds a user's search index entry after edits (debounced by modDelayedWork with a per-user key). */
export function reindex(work: Work<{ user: string; edits: number }>): void {
  process.stdout.write(`worker ${process.pid}: reindex ${work.data.user} (after edit ${work.data.edits})\n`);
}
