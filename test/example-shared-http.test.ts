/**
 * The shared-http example (examples/shared-http) runs as a user would run it, on a throw-away server: signups
 * queue their welcome mail inside the request's transaction (the failed one leaves neither user nor mail), five
 * edits make one debounced reindex, and every process shuts down gracefully.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runNode } from './helpers.js';
import { startPostgres } from './pg-server.js';

test('shared-http: outbox signups, a debounced reindex, graceful shutdown of the app and two workers', async () => {
  const server = await startPostgres();
  try {
    const path = fileURLToPath(new URL('../examples/shared-http/index.js', import.meta.url));
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: server.url };
    delete env.NODE_OPTIONS;
    const r = await runNode([path, '--short'], { timeoutMs: 60_000, env });
    assert.equal(r.code, 0, `exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    assert.equal(r.stderr, '');
    const lines = r.stdout.split('\n');
    assert.equal(lines.filter((l) => /welcome mail to (ada|grace)$/.test(l)).length, 2);
    assert.ok(!r.stdout.includes('welcome mail to linus'), 'the rolled-back signup queued nothing');
    assert.equal(lines.filter((l) => l.includes('reindex ada (after edit 5)')).length, 1);
    assert.equal(lines.filter((l) => /worker \d+: reindex /.test(l)).length, 1, 'five edits, one reindex');
    assert.match(r.stdout, /users: ada, grace; welcome mails: 2; reindex runs: 1/);
    assert.equal(lines.filter((l) => l.endsWith('shut down')).length, 3);
    assert.match(r.stdout, /every process shut down gracefully/);
  } finally {
    await server.stop();
  }
});
