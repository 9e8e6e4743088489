/**
 * top-half-bottom-half: interrupts in, deferred processing out, with bursts coalesced by the pending bit.
 *
 * In the kernel, an interrupt handler (the "top half") runs with interrupts off and must return quickly: it only
 * acknowledges the device, saves what it must, and queues a work item (the "bottom half") that does the real
 * processing later, where it may sleep. If ten interrupts arrive before the bottom half runs, queue_work() fails
 * nine times because the work is already pending, and the bottom half runs once and handles everything saved
 * so far. That is not data loss: the data is in the buffer, and the pending bit guarantees someone will look.
 *
 * Here the device is a TCP server on 127.0.0.1 (an ephemeral port), and each 'data' event on a connection is an
 * "interrupt". The top half appends the bytes to a receive buffer and calls queueWork(). The bottom half takes
 * the whole buffer, splits it into messages and "processes" them (it sleeps a little, as a slow device driver
 * would). A client sends a burst of messages; at the end the program prints how many interrupts there were and
 * how few bottom-half runs it took to process every message.
 *
 * Run: npm run build && node dist/examples/top-half-bottom-half/index.js [--short]
 */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { allocWorkqueue, destroyWorkqueue, flushWork, queueWork, Work } from 'cmwq';
import { createLog, ms } from '../shared.js';

const log = createLog(11); // who-column width

/** The burst: MESSAGES lines, written in BATCHES writes, PAUSE_MS apart. */
const MESSAGES = 200;
const BATCHES = 20;
const PAUSE_MS = ms(10);
/** How long the bottom half spends per run (it sleeps: a slow bus, a disk, ...). */
const BH_WORK_MS = ms(80);

// ─── The "driver": receive buffer, top half, bottom half ─────────────────────────────────────────────────────────

/** What the top half saved and the bottom half has not taken yet. */
const rxChunks: Buffer[] = [];
/** A message split across two chunks waits here for its end. */
let partial = '';

const stats = { interrupts: 0, queued: 0, coalesced: 0, bhRuns: 0, messages: 0, bytes: 0 };

// The bottom half's own workqueue. maxActive 1 is plenty: one work item never runs concurrently with itself anyway.
const rxWq = allocWorkqueue('netrx', 0, 1);

/** The bottom half: take everything the top half saved, and process it. May sleep. */
async function rxBottomHalf(): Promise<void> {
  const run = ++stats.bhRuns;
  // Take the buffer first: interrupts arriving from now on fill a fresh one and queue us again (the pending bit
  // was cleared just before this handler started, so their queueWork() succeeds once).
  const chunks = rxChunks.splice(0);
  const text = partial + Buffer.concat(chunks).toString('utf8');
  const lines = text.split('\n');
  partial = lines.pop()!; // the tail after the last newline is an incomplete message
  stats.messages += lines.length;
  log(
    'bottom-half',
    `run #${run}: ${chunks.length} chunk(s) saved by the top half, ${lines.length} message(s) (total ${stats.messages})`,
  );
  await sleep(BH_WORK_MS); // the slow part; more interrupts arrive meanwhile
}

const rxWork = new Work(rxBottomHalf);

/** The top half: runs for every 'data' event. Saves the data, queues the bottom half, returns. Nothing else. */
function rxInterrupt(chunk: Buffer): void {
  stats.interrupts++;
  stats.bytes += chunk.length;
  rxChunks.push(chunk);
  if (queueWork(rxWq, rxWork)) stats.queued++;
  else stats.coalesced++; // already pending: the bottom half that will run sees this chunk too
}

// ─── The device: a TCP server; each 'data' event is an interrupt ────────────────────────────────────────────────

const server = net.createServer((socket) => {
  log('server', 'client connected');
  socket.on('data', rxInterrupt);
  socket.on('end', () => {
    log('server', 'client finished sending');
    void finish();
  });
});

async function finish(): Promise<void> {
  // The last interrupt may have queued the bottom half: wait for that run (and only that one) to end.
  await flushWork(rxWork);
  server.close();
  await destroyWorkqueue(rxWq);
  log('summary', `interrupts (data events): ${stats.interrupts}, ${stats.bytes} bytes`);
  log('summary', `queueWork from the top half: ${stats.queued} queued, ${stats.coalesced} coalesced (already pending)`);
  log('summary', `bottom-half runs: ${stats.bhRuns}, messages processed: ${stats.messages} of ${MESSAGES}`);
  log(
    'summary',
    `${stats.interrupts} interrupts handled by ${stats.bhRuns} bottom-half runs; nothing lost: ${stats.messages === MESSAGES && partial === ''}`,
  );
}

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as net.AddressInfo;
  log('server', `listening on 127.0.0.1:${port}`);
  void sendBurst(port);
});

/** The client: a burst of MESSAGES lines in BATCHES writes, with short pauses so that they arrive as many events. */
async function sendBurst(port: number): Promise<void> {
  const client = net.connect(port, '127.0.0.1');
  client.setNoDelay(true);
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  log('client', `sending ${MESSAGES} messages in ${BATCHES} writes`);
  const perBatch = MESSAGES / BATCHES;
  for (let b = 0; b < BATCHES; b++) {
    let batch = '';
    for (let i = 0; i < perBatch; i++) batch += `msg ${b * perBatch + i}\n`;
    client.write(batch);
    await sleep(PAUSE_MS);
  }
  client.end();
}
