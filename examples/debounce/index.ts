/**
 * debounce: save-after-typing with modDelayedWork(), next to the naive setTimeout version.
 *
 * mod_delayed_work() queues a delayed work to run `delay` from now whatever state it is in: if it is idle it is
 * armed; if it is already pending, its timer is pushed back to the new expiry. Called on every event of a burst,
 * it runs the handler once, `delay` after the burst goes quiet: a debounce, with no handle to keep and no
 * clearTimeout to remember. The kernel uses exactly this for work that should happen "a little after things
 * settle" (writeback, link-state changes, statistics refresh).
 *
 * A user types two bursts in an editor. Every keystroke:
 *   - calls modDelayedWork(wq, saveWork, DEBOUNCE_MS)  (cmwq)
 *   - calls setTimeout(naiveSave, DEBOUNCE_MS)           (naive: one save per keystroke)
 * After the first burst the user pauses, so the debounced save fires once. After the second burst the editor is
 * closed at once: flushDelayedWork() fires the armed save immediately and waits for it (flush_delayed_work), so
 * the last text is saved before "closed" is printed. The naive timers keep firing after the close.
 *
 * Run: npm run build && node dist/examples/debounce/index.js [--short]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  allocWorkqueue,
  DelayedWork,
  delayedWorkPending,
  destroyWorkqueue,
  flushDelayedWork,
  modDelayedWork,
} from 'cmwq';
import { createLog, ms } from '../shared.js';

const log = createLog(8); // who-column width

// --short (or CMWQ_EXAMPLE_SHORT=1) divides every delay by 5, not 10 (keystrokes stay well apart from the debounce delay).
const SHORT_DIVISOR = 5;

/** Time between keystrokes in a burst, and the quiet time after which the text is saved. */
const KEY_MS = ms(40, SHORT_DIVISOR);
const DEBOUNCE_MS = ms(250, SHORT_DIVISOR);

/** The document, as the editor holds it. */
const doc = { text: '', closed: false };

// ─── cmwq: one DelayedWork, re-armed by every keystroke ──────────────────────────────────────────────────────────

const editorWq = allocWorkqueue('editor', 0, 1);
const saves: string[] = [];

/** The save handler: writes whatever the text is now (the latest, since it runs after the burst). */
function saveDraft(work: DelayedWork<typeof doc>): void {
  saves.push(work.data.text);
  log('cmwq', `save #${saves.length}: "${work.data.text}"`);
}
const saveWork = new DelayedWork(saveDraft, doc);

// ─── naive: a setTimeout per keystroke, never cleared ────────────────────────────────────────────────────────────

const naiveSaves: string[] = [];
let naiveAfterClose = 0;
function naiveSave(text: string): void {
  naiveSaves.push(text);
  if (doc.closed) naiveAfterClose++;
  log('naive', `save #${naiveSaves.length}: "${text}"${doc.closed ? ' (after the editor closed!)' : ''}`);
}

// ─── the user ────────────────────────────────────────────────────────────────────────────────────────────────────

let keystrokes = 0;
let rearmed = 0;

function onKeystroke(ch: string): void {
  keystrokes++;
  doc.text += ch;
  // true: it was pending and its timer moved to DEBOUNCE_MS from now; false: it was idle and is now armed.
  if (modDelayedWork(editorWq, saveWork, DEBOUNCE_MS)) rearmed++;
  const text = doc.text;
  setTimeout(() => naiveSave(text), DEBOUNCE_MS);
}

async function type(word: string): Promise<void> {
  log('user', `types "${word}" (${word.length} keystrokes, ${KEY_MS} ms apart)`);
  for (const ch of word) {
    onKeystroke(ch);
    await sleep(KEY_MS);
  }
}

// Burst 1, then a pause longer than the debounce delay: exactly one save, DEBOUNCE_MS after the last keystroke.
await type('hello');
log('user', `pauses (save pending: ${delayedWorkPending(saveWork)}, re-armed ${rearmed} times so far)`);
await sleep(DEBOUNCE_MS * 2);

// Burst 2, then the editor closes at once: flushDelayedWork() fires the pending save now and waits for it.
await type(' world');
log('user', `closes the editor (save pending: ${delayedWorkPending(saveWork)})`);
const flushed = await flushDelayedWork(saveWork);
doc.closed = true;
await destroyWorkqueue(editorWq);
log('editor', `closed: flushDelayedWork = ${flushed}, last save "${saves[saves.length - 1]}"`);

// Let the naive timers run out (they keep the process alive until they have all fired).
await sleep(DEBOUNCE_MS + ms(50, SHORT_DIVISOR));
log('result', `keystrokes: ${keystrokes}`);
log('result', `cmwq saves: ${saves.length} (modDelayedWork re-armed a pending save ${rearmed} times)`);
log('result', `naive saves: ${naiveSaves.length}, of which ${naiveAfterClose} after the editor closed`);
