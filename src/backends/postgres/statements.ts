/**
 * The SQL of the shared-workqueue operations, one short atomic statement each (the claim is cmwq.complete_claim(), in
 * schema.ts). Parameters are positional; every statement touches one queue's rows.
 *
 * Every scan names `pending` or `lease IS NOT NULL` alone in its WHERE so that it walks that partial index, not
 * the whole table (a queue holds one row per keyed item ever queued, most of them idle; a keyless item's row goes
 * once it has run).
 *
 * The pending bit is `pending`; an item is running while it holds a live lease (`lease` not null and
 * `lease_until > now()`); a lease that expired is as good as none. All times are the database's `now()`, so the
 * nodes' clocks never matter. Statements that wake other nodes send their NOTIFY in the same statement, so it is
 * delivered exactly when the change commits (inside a caller's transaction too).
 */

/** Live lease test, reused by the statements below. */
const LIVE = 'i.lease IS NOT NULL AND i.lease_until > now()';

/**
 * The advisory lock a drain holds (two-key form: 'cmwq' in ASCII and the queue name's hash). A drainer holds it
 * exclusively, on a connection of its own, for as long as it drains; it goes with that session, so a drainer that
 * dies releases it.
 */
const DRAIN_KEY = '1668118385, hashtext($1)';

/**
 * Whether a queue call may go ahead ($1 queue, $9 chained: the call comes from a handler of this queue): yes for
 * chained work, else only while no drainer holds the queue's drain lock. pg_try_advisory_xact_lock_shared() takes
 * the shared side until the caller's transaction ends, so a drain cannot begin between this test and the commit.
 * It is a lock-manager call, not a table read: a first version that read a table of drain marks cost the queue
 * statement +12% (distinct keys) and +34% (a key already pending); this one measured +4% to +14% (paired A/B
 * on one embedded server, 8 concurrent sessions, a loaded 2-core machine: see docs/design.md).
 */
const ALLOWED = `($9::boolean OR pg_try_advisory_xact_lock_shared(${DRAIN_KEY}))`;

/** Makes (or updates) the queue's row: $1 name, $2 max_active, $3 ordered. */
export const ENSURE_QUEUE = `
  INSERT INTO cmwq.queues (name, max_active, ordered) VALUES ($1, $2, $3)
  ON CONFLICT (name) DO UPDATE SET max_active = EXCLUDED.max_active, ordered = EXCLUDED.ordered`;

/**
 * Queues: $1 queue, $2 key, $3 func, $4 export, $5 data, $6 delay ms, $7 notify payload, $8 keyless (the key was
 * made up for a `new Work()` without one: the row goes once the item has run), $9 chained (see ALLOWED). Sets the
 * pending bit of an idle, enabled item that is not being cancelled; returns `queued: true` iff it did (exactly one
 * of concurrent callers: the row lock of ON CONFLICT serializes them and the others see pending), `queued: false`
 * when the queue is draining (nothing changed), no row otherwise. An expired lease is cleared.
 * Fast path (the kernel's test_and_set_bit): an item already seen pending in the statement's snapshot is left
 * alone without taking its row lock, so a storm of queueings on one pending key does not queue up on the lock.
 */
export const QUEUE = `
  WITH q AS (
    INSERT INTO cmwq.items AS i (queue, key, func, export, data, pending, seq, run_at, keyless)
    SELECT $1, $2, $3, $4, $5::jsonb, true, nextval('cmwq.queue_seq'), now() + $6 * interval '1 millisecond', $8
    WHERE NOT EXISTS (SELECT 1 FROM cmwq.items p WHERE p.queue = $1 AND p.key = $2 AND p.pending) AND ${ALLOWED}
    ON CONFLICT (queue, key) DO UPDATE SET pending = true, func = EXCLUDED.func, export = EXCLUDED.export,
      data = EXCLUDED.data, seq = EXCLUDED.seq, run_at = EXCLUDED.run_at, attempt = 0,
      lease = CASE WHEN ${LIVE} THEN i.lease END,
      cancel = CASE WHEN ${LIVE} THEN i.cancel ELSE false END
    WHERE NOT i.pending AND i.disabled = 0 AND NOT (i.cancel AND ${LIVE})
    RETURNING 1)
  SELECT true AS queued FROM q, LATERAL (SELECT pg_notify('cmwq', $7)) n
  UNION ALL SELECT false WHERE NOT ${ALLOWED}`;

/**
 * Queues many items in one statement: $1 queue, $2 keys, $3 funcs, $4 exports, $5 data (JSON texts), $6 delay
 * ms, $7 notify payload, $8 keyless flags, $9 chained, $10 fresh flags (the key was made up by this call: no row
 * can hold it); the keys are distinct. Same rules as QUEUE, per item; returns the keys it queued, or one null
 * key when the queue is draining (nothing queued). One notification for the statement (n, a CTE with a volatile
 * call: evaluated once), not one per row. Sequence numbers follow the given order (s).
 *
 * Fresh rows (f) are plain inserts: no probe, no conflict check, no lock anyone else could wait for. The others
 * (q) are upserts, written, and so locked, in key order, the order every statement that locks several items of
 * a queue uses (completions, renewals), so two of them never deadlock. Their pending probe is a scalar subquery,
 * one primary-key lookup per row: written as NOT EXISTS, the planner turned it into an anti join that read and
 * sorted every pending row of the queue on each batch (13 of 31 ms for a batch of 1,000 with 19,000 pending).
 */
export const QUEUE_BATCH = `
  WITH b AS (SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $8::boolean[], $10::boolean[])
    WITH ORDINALITY AS b (key, func, export, data, keyless, fresh, ord)),
  s AS (SELECT b.*, nextval('cmwq.queue_seq') AS seq FROM b ORDER BY b.ord),
  ok AS (SELECT ${ALLOWED} AS allowed),
  f AS (
    INSERT INTO cmwq.items (queue, key, func, export, data, pending, seq, run_at, keyless)
    SELECT $1, s.key, s.func, s.export, s.data::jsonb, true, s.seq, now() + $6 * interval '1 millisecond', s.keyless
    FROM s WHERE s.fresh AND (SELECT allowed FROM ok)
    RETURNING key),
  q AS (
    INSERT INTO cmwq.items AS i (queue, key, func, export, data, pending, seq, run_at, keyless)
    SELECT $1, s.key, s.func, s.export, s.data::jsonb, true, s.seq, now() + $6 * interval '1 millisecond', s.keyless
    FROM s WHERE NOT s.fresh
      AND NOT coalesce((SELECT p.pending FROM cmwq.items p WHERE p.queue = $1 AND p.key = s.key), false)
      AND (SELECT allowed FROM ok)
    ORDER BY s.key
    ON CONFLICT (queue, key) DO UPDATE SET pending = true, func = EXCLUDED.func, export = EXCLUDED.export,
      data = EXCLUDED.data, seq = EXCLUDED.seq, run_at = EXCLUDED.run_at, attempt = 0,
      lease = CASE WHEN ${LIVE} THEN i.lease END,
      cancel = CASE WHEN ${LIVE} THEN i.cancel ELSE false END
    WHERE NOT i.pending AND i.disabled = 0 AND NOT (i.cancel AND ${LIVE})
    RETURNING i.key),
  n AS (SELECT pg_notify('cmwq', $7) WHERE EXISTS (SELECT 1 FROM f) OR EXISTS (SELECT 1 FROM q))
  SELECT f.key FROM f LEFT JOIN n ON true
  UNION ALL SELECT q.key FROM q LEFT JOIN n ON true
  UNION ALL SELECT NULL WHERE NOT (SELECT allowed FROM ok)`;

/**
 * modDelayedWork: $1..$9 as QUEUE. (`old` is read, and locked, before the upsert: the upsert's WHERE refers to
 * it; a row locked after the same statement updated it would not be returned.) Re-arms a pending item to the new
 * expiry (keeping its place in queueing order) or queues an idle one; returns was_pending (null when the item did not exist) and refused (the queue is
 * draining: nothing changed).
 */
export const MOD_DELAYED = `
  WITH old AS (SELECT i.pending FROM cmwq.items i WHERE i.queue = $1 AND i.key = $2 FOR UPDATE),
  q AS (
    INSERT INTO cmwq.items AS i (queue, key, func, export, data, pending, seq, run_at, keyless)
    SELECT $1, $2, $3, $4, $5::jsonb, true, nextval('cmwq.queue_seq'), now() + $6 * interval '1 millisecond', $8
    WHERE (SELECT count(*) FROM old) >= 0 AND ${ALLOWED}
    ON CONFLICT (queue, key) DO UPDATE SET pending = true, func = EXCLUDED.func, export = EXCLUDED.export,
      data = EXCLUDED.data, seq = CASE WHEN i.pending THEN i.seq ELSE EXCLUDED.seq END, run_at = EXCLUDED.run_at,
      attempt = CASE WHEN i.pending THEN i.attempt ELSE 0 END,
      lease = CASE WHEN ${LIVE} THEN i.lease END,
      cancel = CASE WHEN ${LIVE} THEN i.cancel ELSE false END
    WHERE i.disabled = 0 AND NOT (i.cancel AND ${LIVE})
    RETURNING 1)
  SELECT (SELECT pending FROM old) AS was_pending, (SELECT count(*) FROM q)::int AS queued, NOT ${ALLOWED} AS refused
  FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT pg_notify('cmwq', $7) FROM q) n ON true`;

/** cancelWork: $1 queue, $2 key, $3 notify payload. Clears the pending bit; a row iff it was set. */
export const CANCEL = `
  WITH c AS (UPDATE cmwq.items i SET pending = false WHERE i.queue = $1 AND i.key = $2 AND i.pending RETURNING 1)
  SELECT 1 AS cancelled FROM c, LATERAL (SELECT pg_notify('cmwq', $3)) n`;

/**
 * cancelWorkSync's first step: $1 queue, $2 key, $3 cancel-notify payload. Clears pending and, when an instance
 * holds a live lease (running, or waiting in a node's backlog), flags it (queueing then fails until it ends, and
 * its node skips it or aborts work.signal). Returns was_pending, that instance's lease (null when none), and
 * what CANCEL_ENDED compares with once the lease ended: the row's `runs` and whether it was keyless. A keyless row
 * with a live lease is kept (keyless cleared) until then, so the completion cannot delete what the canceller
 * reads; CANCEL_KEYLESS_END puts it back.
 */
export const CANCEL_SYNC = `
  WITH old AS (SELECT i.pending, CASE WHEN ${LIVE} THEN i.lease END AS lease, i.runs, i.keyless
               FROM cmwq.items i WHERE i.queue = $1 AND i.key = $2 FOR UPDATE),
  c AS (UPDATE cmwq.items i SET pending = false, cancel = (${LIVE}), keyless = i.keyless AND NOT (${LIVE})
        WHERE i.queue = $1 AND i.key = $2 AND (SELECT count(*) FROM old) >= 0 RETURNING i.lease)
  SELECT old.pending AS was_pending, old.lease, old.runs::text AS runs, old.keyless FROM old
  LEFT JOIN LATERAL (SELECT pg_notify('cmwq', $3) WHERE old.lease IS NOT NULL) n ON true`;

/**
 * cancelWorkSync's wait: $1 queue, $2 key, $3 the lease CANCEL_SYNC saw. live: that instance still holds it;
 * held: the row still names that lease (live or expired: no completion was written for it); runs: the row's run
 * count. Once not live, an instance whose completion was written (not held) with no run counted was skipped
 * before it started (the `s` completion of a node's backlog); no row: the queue was removed.
 */
export const CANCEL_ENDED = `
  SELECT (${LIVE} AND i.lease = $3) AS live, coalesce(i.lease = $3, false) AS held, i.runs::text AS runs
  FROM cmwq.items i WHERE i.queue = $1 AND i.key = $2`;

/**
 * cancelWorkSync's last step for a keyless row CANCEL_SYNC kept: $1 queue, $2 key. Deleted when nothing holds it
 * (idle, enabled, never failed: as a completion would have), else marked keyless again. l locks the row first.
 */
export const CANCEL_KEYLESS_END = `
  WITH l AS (SELECT i.key, (NOT i.pending AND i.lease IS NULL AND i.disabled = 0 AND i.failures = 0) AS idle
             FROM cmwq.items i WHERE i.queue = $1 AND i.key = $2 FOR UPDATE),
  g AS (DELETE FROM cmwq.items i USING l WHERE i.queue = $1 AND i.key = l.key AND l.idle RETURNING 1),
  k AS (UPDATE cmwq.items i SET keyless = true FROM l WHERE i.queue = $1 AND i.key = l.key AND NOT l.idle
        RETURNING 1)
  SELECT (SELECT count(*) FROM g)::int AS deleted, (SELECT count(*) FROM k)::int AS kept`;

/** disableWork: $1 queue, $2 key, $3 func, $4 export. Depth + 1 and pending cleared; returns was_pending. */
export const DISABLE = `
  WITH old AS (SELECT i.pending FROM cmwq.items i WHERE i.queue = $1 AND i.key = $2 FOR UPDATE)
  INSERT INTO cmwq.items AS i (queue, key, func, export, disabled)
  SELECT $1, $2, $3, $4, 1 WHERE (SELECT count(*) FROM old) >= 0
  ON CONFLICT (queue, key) DO UPDATE SET disabled = least(i.disabled + 1, 65535), pending = false
  RETURNING coalesce((SELECT pending FROM old), false) AS was_pending`;

/** enableWork: $1 queue, $2 key. Depth - 1; returns enabled (depth reached 0); no row if it was not disabled. */
export const ENABLE = `
  UPDATE cmwq.items i SET disabled = i.disabled - 1 WHERE i.queue = $1 AND i.key = $2 AND i.disabled > 0
  RETURNING i.disabled = 0 AS enabled`;

/** workBusy: $1 queue, $2 key. pending, running, and the newest sequence number among them. */
export const BUSY = `
  SELECT i.pending, (${LIVE}) AS running, i.seq, i.run_seq FROM cmwq.items i WHERE i.queue = $1 AND i.key = $2`;

/** flushDelayedWork's first step: $1 queue, $2 key, $3 notify payload. Makes an armed instance due now. */
export const FIRE_NOW = `
  WITH f AS (UPDATE cmwq.items i SET run_at = now() WHERE i.queue = $1 AND i.key = $2 AND i.pending
             AND i.run_at > now() RETURNING 1)
  SELECT 1 FROM f, LATERAL (SELECT pg_notify('cmwq', $3)) n`;

/** flushWork: $1 queue, $2 key, $3 sequence number. Whether an instance numbered <= $3 is pending or running. */
export const ITEM_BUSY_UPTO = `
  SELECT 1 AS busy FROM cmwq.items i WHERE i.queue = $1 AND i.key = $2
    AND ((i.pending AND i.seq <= $3) OR (${LIVE} AND i.run_seq <= $3))`;

/**
 * flushWorkqueue's mark: a sequence number above every committed queueing, and the database's time as text, so it
 * goes back to QUEUE_BUSY_UPTO to the microsecond (a JS Date keeps milliseconds, and an item queued earlier in the
 * same millisecond, as most are on a quiet machine, would be after the truncated mark).
 */
export const FLUSH_MARK = `SELECT nextval('cmwq.queue_seq') AS seq, now()::text AS at`;

/**
 * flushWorkqueue's test: $1 queue, $2 mark sequence, $3 mark time. Whether an instance queued before the mark
 * (and due by then: armed delayed works are not waited for, as locally) is pending or running.
 */
export const QUEUE_BUSY_UPTO = `
  SELECT 1 AS busy WHERE
    EXISTS (SELECT 1 FROM cmwq.items i WHERE i.queue = $1 AND i.pending AND i.seq < $2 AND i.run_at <= $3)
    OR EXISTS (SELECT 1 FROM cmwq.items i WHERE i.queue = $1 AND ${LIVE} AND i.run_seq < $2)`;

/** drainWorkqueue's test: $1 queue. Whether anything is due or running. */
export const QUEUE_BUSY = `
  SELECT 1 AS busy WHERE
    EXISTS (SELECT 1 FROM cmwq.items i WHERE i.queue = $1 AND i.pending AND i.disabled = 0 AND i.run_at <= now())
    OR EXISTS (SELECT 1 FROM cmwq.items i WHERE i.queue = $1 AND ${LIVE})`;

/**
 * Renews leases: $1 queue, $2 node, $3 leases, $4 lease ms. Returns the live ones and their cancel flags. Rows
 * are locked in key order first (l), as every statement that locks several items does.
 */
export const RENEW = `
  WITH l AS (SELECT i.key FROM cmwq.items i
    WHERE i.queue = $1 AND i.lease_node = $2 AND i.lease = ANY($3::bigint[]) AND i.lease_until > now()
    ORDER BY i.key FOR UPDATE)
  UPDATE cmwq.items i SET lease_until = now() + $4 * interval '1 millisecond'
  FROM l WHERE i.queue = $1 AND i.key = l.key AND i.lease_node = $2 AND i.lease = ANY($3::bigint[])
    AND i.lease_until > now()
  RETURNING i.lease, i.cancel`;

/**
 * One round trip of a node (cmwq.complete_claim(), in schema.ts): $1 queue, $2 node, completions as $3 keys,
 * $4 leases, $5 errors (null: success), $6 kinds ('r' ran, 's' skipped: cancelled before it started, 'h' handed
 * back), $7 retry attempts (0: none), $8 first back-off ms, $9 max back-off ms, $10 done-notify payload (null:
 * none); then the claim: $11 free slots, $12 items wanted ahead, $13 slots left for another node, $14 the node's
 * floor (minActive), $15 lease ms. Completions are accepted only from the current lease (the fencing token).
 * Rows: kind 'a' (an accepted completion's lease), 'c' (a claimed item), 't' (due_ms: when the next pending item
 * comes due, null: none; only when claiming).
 */
export const COMPLETE_CLAIM = `
  SELECT * FROM cmwq.complete_claim($1, $2, $3::text[], $4::bigint[], $5::text[], $6::text[], $7, $8, $9, $10,
    $11, $12, $13, $14, $15)`;

/** Cluster figures of a queue: $1 queue. */
export const STATS = `
  SELECT (SELECT count(*) FROM cmwq.items i WHERE i.queue = $1 AND i.pending)::int AS pending,
    (SELECT count(*) FROM cmwq.items i WHERE i.queue = $1 AND ${LIVE})::int AS infl`;

/** Every queue with its figures (cmwq top --backend). */
export const ALL_STATS = `
  SELECT q.name, q.max_active, q.ordered,
    count(i.key) FILTER (WHERE i.pending)::int AS pending,
    count(i.key) FILTER (WHERE ${LIVE})::int AS infl,
    coalesce(sum(i.runs), 0)::bigint AS runs, coalesce(sum(i.failures), 0)::bigint AS failures,
    count(i.key)::int AS items
  FROM cmwq.queues q LEFT JOIN cmwq.items i ON i.queue = q.name GROUP BY q.name ORDER BY q.name`;

/** workqueueSetMaxActive: $1 queue, $2 max_active, $3 notify payload (nodes claim again: a raise frees slots). */
export const SET_MAX_ACTIVE = `
  WITH u AS (UPDATE cmwq.queues SET max_active = $2 WHERE name = $1 RETURNING 1)
  SELECT 1 FROM u, LATERAL (SELECT pg_notify('cmwq', $3)) n`;

/** drainWorkqueue's lock, taken on a connection of its own (waits for queueings in flight to commit): $1 queue. */
export const DRAIN_LOCK = `SELECT pg_advisory_lock(${DRAIN_KEY})`;

/** drainWorkqueue's end: $1 queue. */
export const DRAIN_UNLOCK = `SELECT pg_advisory_unlock(${DRAIN_KEY})`;

/** Items running now in every queue (live leases), oldest lease first: $1 at most (cmwq web --backend). */
export const RUNNING = `
  SELECT i.queue, i.key, i.func, i.export, i.lease, i.lease_node FROM cmwq.items i
  WHERE i.lease IS NOT NULL AND i.lease_until > now() ORDER BY i.lease LIMIT $1`;

/**
 * `cmwq web --backend`'s read: ALL_STATS and RUNNING ($1 limit) as one statement, so both come from one snapshot
 * (two statements, even run side by side, may see a lease the figures do not count yet).
 */
export const CLUSTER_VIEW = `
  SELECT (SELECT coalesce(json_agg(s ORDER BY s.name), '[]') FROM (${ALL_STATS}) s) AS queues,
    (SELECT coalesce(json_agg(json_build_object('queue', r.queue, 'key', r.key, 'func', r.func, 'export', r.export,
      'lease', r.lease::text, 'lease_node', r.lease_node) ORDER BY r.lease), '[]') FROM (${RUNNING}) r) AS running`;

/** Removes a queue's rows for good: $1 queue. */
export const REMOVE_QUEUE = `DELETE FROM cmwq.queues WHERE name = $1`;

/** The failure record of an item: $1 queue, $2 key. */
export const ITEM_RECORD = `
  SELECT i.pending, (${LIVE}) AS running, i.runs::int AS runs, i.failures::int AS failures, i.attempt,
    i.last_error, i.last_error_at FROM cmwq.items i WHERE i.queue = $1 AND i.key = $2`;

/** A notification alone: $1 payload. */
export const NOTIFY = `SELECT pg_notify('cmwq', $1)`;
