/**
 * The schema of shared workqueues and its versioned migrations.
 *
 * Tables: `cmwq.queues` (one row per shared workqueue: max_active, ordered; every claim makes its final count of
 * live leases under this row's lock, held to the commit, so the cluster-wide check cannot race) and `cmwq.items`
 * (ONE row per work item, keyed by (queue, key), reused by every queueing: the pending bit, the queueing sequence
 * number, the expiry on the database clock, the lease with its fencing token, the cancel flag, the disable depth
 * and the failure record). Tables never grow with traffic: a keyed item has one row for good; a keyless one (a key
 * made up for `new Work()`) has a row from its queueing until it has run and nothing holds it (not pending, not
 * disabled, never failed), then the row is deleted.
 *
 * Migrations run under a session advisory lock, each in its own transaction, recorded in `cmwq.migrations`: many
 * processes may start at once; the first applies what is missing, the others wait for the lock and find nothing
 * left to do. Migrations are append-only: a released one is never edited.
 */
import type pg from 'pg';

/** Key of the advisory lock that serializes migrations (any constant unlikely to collide: 'cmwq' in ASCII). */
const MIGRATION_LOCK = 0x636d7771;

/**
 * cmwq.complete_claim()'s parameters and result, the nodes' contract since migration 3 (a node of any version
 * calls the one in force). Shared, character for character, by migrations 3, 4 and 5: never edited.
 */
const COMPLETE_CLAIM_SIGNATURE = `cmwq.complete_claim(p_queue text, p_node text,
    p_keys text[], p_leases bigint[], p_errors text[], p_kinds text[],
    p_attempts integer, p_delay_ms integer, p_max_delay_ms integer, p_notify text,
    p_free integer, p_ahead integer, p_reserve integer, p_min integer, p_lease_ms integer)
  RETURNS TABLE (kind text, key text, func text, export text, data jsonb, lease bigint, attempt integer,
    keyless boolean, due_ms double precision)
  LANGUAGE plpgsql VOLATILE
`;

/**
 * The completion's reply: the done notification (p_notify) and one 'a' row per accepted lease (v_accepted).
 * Shared, character for character, by migrations 3, 4 and 5: never edited.
 */
const ACCEPTED = `        IF p_notify IS NOT NULL THEN PERFORM pg_notify('cmwq', p_notify); END IF;
        RETURN QUERY SELECT 'a'::text, NULL::text, NULL::text, NULL::text, NULL::jsonb, a.l, NULL::integer,
          NULL::boolean, NULL::double precision FROM unnest(v_accepted) AS a (l);
`;

/**
 * The completion's update of an item row i from its batch entry d (key, lease, error, kind): the lease cleared, the
 * run and the failure counted, and pending again (with its back-off, or in its place for a hand-back) when it is
 * owed another run. Shared, character for character, by the completion of migrations 3, 4 and 5: never edited.
 */
const COMPLETED_ROW = `        UPDATE cmwq.items i SET lease = NULL, lease_node = NULL, lease_until = NULL, cancel = false,
          runs = i.runs + (d.kind = 'r')::int,
          failures = i.failures + (d.error IS NOT NULL)::int,
          last_error = coalesce(d.error, i.last_error),
          last_error_at = CASE WHEN d.error IS NOT NULL THEN now() ELSE i.last_error_at END,
          pending = i.pending OR (d.kind = 'h' AND NOT i.cancel AND i.disabled = 0)
            OR (d.error IS NOT NULL AND i.attempt + 1 < p_attempts AND NOT i.cancel AND i.disabled = 0),
          run_at = CASE WHEN NOT i.pending AND d.error IS NOT NULL AND i.attempt + 1 < p_attempts AND NOT i.cancel
            THEN now() + least(p_delay_ms * power(2, i.attempt), p_max_delay_ms) * interval '1 millisecond'
            ELSE i.run_at END,
          seq = CASE WHEN i.pending THEN i.seq
            WHEN d.kind = 'h' THEN i.run_seq
            WHEN d.error IS NOT NULL AND i.attempt + 1 < p_attempts AND NOT i.cancel THEN nextval('cmwq.queue_seq')
            ELSE i.seq END,
          attempt = CASE WHEN i.pending OR d.kind = 'h' THEN i.attempt
            WHEN d.error IS NOT NULL AND i.attempt + 1 < p_attempts AND NOT i.cancel THEN i.attempt + 1 ELSE 0 END
`;

/**
 * The claim's last row when it took less than it could: 't' and in how many ms the next pending item of p_queue
 * comes due (null: none). Shared, character for character, by migrations 3, 4 and 5: never edited.
 */
const NEXT_DUE = `    RETURN QUERY SELECT 't'::text, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::bigint, NULL::integer,
      NULL::boolean,
      (extract(epoch FROM least(
        (SELECT i.run_at FROM cmwq.items i WHERE i.queue = p_queue AND i.pending AND i.disabled = 0
          AND i.lease IS NULL ORDER BY i.run_at LIMIT 1),
        (SELECT min(CASE WHEN i.pending AND i.disabled = 0 THEN i.run_at END) FROM cmwq.items i
          WHERE i.queue = p_queue AND i.lease IS NOT NULL)) - now()) * 1000)::double precision;
`;

/**
 * The end of migration 5's two claim statements: the claimed rows (update u) appended, in queueing order, to the
 * arrays the claim keeps until its final count decides how many it keeps. Part of migration 5's text: never edited.
 */
const CLAIMED_INTO = `RETURNING i.ctid, i.seq, i.key, i.func, i.export, i.data, i.lease, i.attempt, i.keyless)
      SELECT c_tid || array_agg(u.ctid ORDER BY u.seq), c_key || array_agg(u.key ORDER BY u.seq),
        c_func || array_agg(u.func ORDER BY u.seq), c_export || array_agg(u.export ORDER BY u.seq),
        c_data || array_agg(u.data ORDER BY u.seq), c_lease || array_agg(u.lease ORDER BY u.seq),
        c_attempt || array_agg(u.attempt ORDER BY u.seq), c_keyless || array_agg(u.keyless ORDER BY u.seq)
      INTO c_tid, c_key, c_func, c_export, c_data, c_lease, c_attempt, c_keyless FROM u;`;

/**
 * The live leases of p_queue (lease_node of each), for the claim's counts. The order is the items_leased index's,
 * so that (sorting being disabled in the claim) the count is a plain index scan: one that marks the entries of
 * completed leases dead as it passes them, where a bitmap scan would read them again on every claim. Part of
 * migration 5's text: never edited.
 */
const LIVE_LEASES = `SELECT i.lease_node FROM cmwq.items i
      WHERE i.queue = p_queue AND i.lease IS NOT NULL AND i.lease_until > now() ORDER BY i.queue, i.lease_until`;

/** The migrations, in order; index + 1 is the version. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE cmwq.queues (
    name text PRIMARY KEY,
    max_active integer NOT NULL,
    ordered boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE SEQUENCE cmwq.queue_seq;
  CREATE SEQUENCE cmwq.lease_seq;
  CREATE TABLE cmwq.items (
    queue text NOT NULL REFERENCES cmwq.queues (name) ON DELETE CASCADE,
    key text NOT NULL,
    func text NOT NULL,
    export text NOT NULL,
    data jsonb,
    pending boolean NOT NULL DEFAULT false,
    seq bigint NOT NULL DEFAULT 0,
    run_at timestamptz NOT NULL DEFAULT now(),
    lease bigint,
    lease_node text,
    lease_until timestamptz,
    run_seq bigint,
    cancel boolean NOT NULL DEFAULT false,
    disabled integer NOT NULL DEFAULT 0,
    attempt integer NOT NULL DEFAULT 0,
    runs bigint NOT NULL DEFAULT 0,
    failures bigint NOT NULL DEFAULT 0,
    last_error text,
    last_error_at timestamptz,
    PRIMARY KEY (queue, key)
  );
  CREATE INDEX items_pending ON cmwq.items (queue, seq) WHERE pending;
  CREATE INDEX items_leased ON cmwq.items (queue, lease_until) WHERE lease IS NOT NULL;
  `,
  // The claim: lock the queue's row (serializing claimers), count live leases with a fresh snapshot (each
  // statement of a volatile plpgsql function takes one), then lease up to the free slots: first items whose lease
  // expired (their node died or froze; not those being cancelled), then pending due items in queueing order. Each
  // step walks its own partial index. The last row has a null key and says in how many ms the next armed item
  // comes due (null: none).
  `
  CREATE FUNCTION cmwq.claim(p_queue text, p_node text, p_limit integer, p_min integer, p_lease_ms integer)
  RETURNS TABLE (key text, func text, export text, data jsonb, lease bigint, attempt integer, due_ms double precision)
  LANGUAGE plpgsql VOLATILE AS $$
  DECLARE
    v_max integer; v_ordered boolean; v_running integer; v_mine integer; v_n integer; v_got integer;
    v_until timestamptz := now() + p_lease_ms * interval '1 millisecond';
  BEGIN
    SELECT q.max_active, q.ordered INTO v_max, v_ordered FROM cmwq.queues q WHERE q.name = p_queue FOR UPDATE;
    IF NOT FOUND THEN RETURN; END IF;
    SELECT count(*), count(*) FILTER (WHERE i.lease_node = p_node) INTO v_running, v_mine FROM cmwq.items i
      WHERE i.queue = p_queue AND i.lease IS NOT NULL AND i.lease_until > now();
    v_n := greatest(least(p_limit, v_max - v_running), least(p_limit, p_min - v_mine));
    IF v_ordered THEN v_n := least(v_n, 1 - v_running); END IF;
    IF v_n > 0 THEN
      RETURN QUERY WITH c AS (
        SELECT i.key FROM cmwq.items i
        WHERE i.queue = p_queue AND i.lease IS NOT NULL AND i.lease_until <= now() AND NOT i.cancel
          AND i.disabled = 0
        ORDER BY i.seq LIMIT v_n FOR UPDATE SKIP LOCKED)
      UPDATE cmwq.items i SET pending = false, lease = nextval('cmwq.lease_seq'), lease_node = p_node,
        lease_until = v_until, run_seq = i.seq
      FROM c WHERE i.queue = p_queue AND i.key = c.key
      RETURNING i.key, i.func, i.export, i.data, i.lease, i.attempt, NULL::double precision;
      GET DIAGNOSTICS v_got = ROW_COUNT;
      v_n := v_n - v_got;
    END IF;
    IF v_n > 0 AND v_ordered THEN
      RETURN QUERY WITH c AS (
        SELECT i.key FROM cmwq.items i
        WHERE i.queue = p_queue AND i.pending AND i.disabled = 0 AND i.run_at <= now()
          AND (i.lease IS NULL OR i.lease_until <= now())
        ORDER BY i.seq LIMIT v_n FOR UPDATE)
      UPDATE cmwq.items i SET pending = false, lease = nextval('cmwq.lease_seq'), lease_node = p_node,
        lease_until = v_until, run_seq = i.seq, cancel = false
      FROM c WHERE i.queue = p_queue AND i.key = c.key
      RETURNING i.key, i.func, i.export, i.data, i.lease, i.attempt, NULL::double precision;
    ELSIF v_n > 0 THEN
      RETURN QUERY WITH c AS (
        SELECT i.key FROM cmwq.items i
        WHERE i.queue = p_queue AND i.pending AND i.disabled = 0 AND i.run_at <= now()
          AND (i.lease IS NULL OR i.lease_until <= now())
        ORDER BY i.seq LIMIT v_n FOR UPDATE SKIP LOCKED)
      UPDATE cmwq.items i SET pending = false, lease = nextval('cmwq.lease_seq'), lease_node = p_node,
        lease_until = v_until, run_seq = i.seq, cancel = false
      FROM c WHERE i.queue = p_queue AND i.key = c.key
      RETURNING i.key, i.func, i.export, i.data, i.lease, i.attempt, NULL::double precision;
    END IF;
    RETURN QUERY SELECT NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::bigint, NULL::integer,
      (SELECT extract(epoch FROM min(i.run_at) - now()) * 1000 FROM cmwq.items i
        WHERE i.queue = p_queue AND i.pending AND i.disabled = 0)::double precision;
  END $$;
  `,
  // Claim ahead, batched completions, keyless rows removed. `keyless` marks an item whose key cmwq made up (a
  // `new Work()` without a key): once it has run, succeeded and nothing holds it, its row is deleted, so a job per
  // `new Work()` leaves no row behind. items_due answers "when does the next armed item come due" from an index
  // (cmwq.claim() walked every pending row for it). cmwq.complete_claim() writes a batch of completions and
  // claims the next batch in one round trip; see its comments. cmwq.claim() stays for nodes of the previous
  // version.
  `
  ALTER TABLE cmwq.items ADD COLUMN keyless boolean NOT NULL DEFAULT false;
  CREATE INDEX items_due ON cmwq.items (queue, run_at) WHERE pending AND disabled = 0 AND lease IS NULL;
  CREATE FUNCTION ${COMPLETE_CLAIM_SIGNATURE}  -- The claims must walk items_pending in queueing order and stop after LIMIT rows. A table that filled faster
  -- than autovacuum analyzes it (a burst into a fresh queue) has statistics saying "a few pending rows", and the
  -- planner then reads every pending row and sorts them (tens of ms per claim at 20,000 rows). No sort is needed
  -- when the index gives the order, so sorting is made the last resort here.
  SET enable_sort = off
  AS $$
  DECLARE
    v_max integer; v_ordered boolean; v_running integer; v_mine integer; v_room integer; v_run integer;
    v_n integer := 0; v_got integer; v_accepted bigint[]; v_gone bigint[];
    v_until timestamptz := now() + p_lease_ms * interval '1 millisecond';
  BEGIN
    -- The queue's row lock serializes claimers; it is held until the commit, so it is taken as late as it may be:
    -- after the completions, except on an ordered queue, whose claimers wait on item rows (plain FOR UPDATE)
    -- while holding it: there the queue's row comes first, the lock order of every such claimer, so a
    -- completion batch never holds an item row such a claimer waits for while itself waiting for the queue.
    IF p_free + p_ahead > 0 THEN
      SELECT q.ordered INTO v_ordered FROM cmwq.queues q WHERE q.name = p_queue;
      IF NOT FOUND THEN p_free := 0; p_ahead := 0;
      ELSIF v_ordered THEN
        SELECT q.max_active, q.ordered INTO v_max, v_ordered FROM cmwq.queues q WHERE q.name = p_queue FOR UPDATE;
      END IF;
    END IF;
    -- Completions, fenced by the lease: kind r ran (error null: success), s skipped (cancelled before it
    -- started: no run counted), h handed back (the node detached before starting it: pending again, in its
    -- place). A failed run with attempts left is queued again after its back-off unless re-queued or cancelled.
    IF cardinality(p_keys) > 0 THEN
      -- The rows are locked in key order first, the order of every statement that locks several items of a
      -- queue (queueWorks' batch, renewals): two such statements never wait on each other in a cycle.
      PERFORM 1 FROM cmwq.items i WHERE i.queue = p_queue AND i.key = ANY(p_keys) ORDER BY i.key FOR UPDATE;
      -- A keyless item nothing holds any more (idle, enabled, never failed: no record worth keeping) leaves no
      -- row: deleted at once, not updated first. A queueing that changed the row since this statement's snapshot
      -- (pending again) is seen when the row is locked, and the row is then completed by the update below.
      WITH d AS (SELECT * FROM unnest(p_keys, p_leases, p_errors, p_kinds) AS d (key, lease, error, kind)),
      g AS (
        DELETE FROM cmwq.items i USING d
        WHERE i.queue = p_queue AND i.key = d.key AND i.lease = d.lease AND d.kind <> 'h' AND d.error IS NULL
          AND i.keyless AND NOT i.pending AND i.disabled = 0 AND i.failures = 0
        RETURNING d.lease)
      SELECT array_agg(g.lease) INTO v_gone FROM g;
      WITH d AS (SELECT * FROM unnest(p_keys, p_leases, p_errors, p_kinds) AS d (key, lease, error, kind)
        WHERE v_gone IS NULL OR NOT (d.lease = ANY(v_gone))),
      u AS (
${COMPLETED_ROW}        FROM d WHERE i.queue = p_queue AND i.key = d.key AND i.lease = d.lease
        RETURNING d.lease)
      SELECT array_agg(u.lease) INTO v_accepted FROM u;
      v_accepted := coalesce(v_accepted, '{}') || coalesce(v_gone, '{}');
      IF cardinality(v_accepted) > 0 THEN
${ACCEPTED}      END IF;
    END IF;
    IF p_free + p_ahead <= 0 THEN RETURN; END IF;
    IF NOT v_ordered THEN
      SELECT q.max_active, q.ordered INTO v_max, v_ordered FROM cmwq.queues q WHERE q.name = p_queue FOR UPDATE;
      IF NOT FOUND THEN RETURN; END IF;
    END IF;
    -- Claimed items hold leases and count against max_active whether they run or wait on the node, so an
    -- observer never sees more than max_active running. Free slots first (or up to the node's floor p_min);
    -- claiming ahead takes at most half of the room left once another node's p_reserve slots are set aside.
    SELECT count(*), count(*) FILTER (WHERE i.lease_node = p_node) INTO v_running, v_mine FROM cmwq.items i
      WHERE i.queue = p_queue AND i.lease IS NOT NULL AND i.lease_until > now();
    v_room := v_max - v_running;
    v_run := greatest(least(p_free, v_room), least(p_free, p_min - v_mine), 0);
    v_n := v_run + greatest(0, least(p_ahead, (v_room - v_run - p_reserve) / 2));
    IF v_ordered THEN v_n := least(v_n, 1 - v_running); END IF;
    IF v_n > 0 THEN
      RETURN QUERY WITH c AS (
        SELECT i.key FROM cmwq.items i
        WHERE i.queue = p_queue AND i.lease IS NOT NULL AND i.lease_until <= now() AND NOT i.cancel
          AND i.disabled = 0
        ORDER BY i.seq LIMIT v_n FOR UPDATE SKIP LOCKED)
      UPDATE cmwq.items i SET pending = false, lease = nextval('cmwq.lease_seq'), lease_node = p_node,
        lease_until = v_until, run_seq = i.seq
      FROM c WHERE i.queue = p_queue AND i.key = c.key
      RETURNING 'c'::text, i.key, i.func, i.export, i.data, i.lease, i.attempt, i.keyless, NULL::double precision;
      GET DIAGNOSTICS v_got = ROW_COUNT;
      v_n := v_n - v_got;
    END IF;
    IF v_n > 0 AND v_ordered THEN
      RETURN QUERY WITH c AS (
        SELECT i.key FROM cmwq.items i
        WHERE i.queue = p_queue AND i.pending AND i.disabled = 0 AND i.run_at <= now()
          AND (i.lease IS NULL OR i.lease_until <= now())
        ORDER BY i.seq LIMIT v_n FOR UPDATE)
      UPDATE cmwq.items i SET pending = false, lease = nextval('cmwq.lease_seq'), lease_node = p_node,
        lease_until = v_until, run_seq = i.seq, cancel = false
      FROM c WHERE i.queue = p_queue AND i.key = c.key
      RETURNING 'c'::text, i.key, i.func, i.export, i.data, i.lease, i.attempt, i.keyless, NULL::double precision;
    ELSIF v_n > 0 THEN
      RETURN QUERY WITH c AS (
        SELECT i.key FROM cmwq.items i
        WHERE i.queue = p_queue AND i.pending AND i.disabled = 0 AND i.run_at <= now()
          AND (i.lease IS NULL OR i.lease_until <= now())
        ORDER BY i.seq LIMIT v_n FOR UPDATE SKIP LOCKED)
      UPDATE cmwq.items i SET pending = false, lease = nextval('cmwq.lease_seq'), lease_node = p_node,
        lease_until = v_until, run_seq = i.seq, cancel = false
      FROM c WHERE i.queue = p_queue AND i.key = c.key
      RETURNING 'c'::text, i.key, i.func, i.export, i.data, i.lease, i.attempt, i.keyless, NULL::double precision;
    END IF;
    -- When the next pending item comes due (ms from now; null: none): the first entry of items_due, or an item
    -- re-queued while leased (few: at most max_active). items_due leaves leased rows out so that the claims above,
    -- which also take expired leases, cannot use it and walk items_pending in queueing order instead (a scan of
    -- items_due would read every due row and sort them).
${NEXT_DUE}  END $$;
  `,
  // Claims no longer shut producers out, and a full claim skips the next-due lookup. Every insert into cmwq.items
  // checks its foreign key with FOR KEY SHARE on the queue's row, which conflicts with FOR UPDATE: a producer's
  // batch (tens of ms for a thousand rows) and the claimers waited for each other. FOR NO KEY UPDATE still
  // serializes the claimers (it conflicts with itself and with the FOR UPDATE of cmwq.claim()) but lets inserts
  // through. A claim that took all it could returns 0 as its due time instead of reading the leased rows to
  // find the next one. The claims that skip locked rows update the rows they locked by their tuple id (the row
  // lock keeps it from moving) instead of looking each up again by (queue, key) in the primary key; as
  // `ctid = ANY(ARRAY(...))` it is a Tid Scan whatever the estimates (a join on ctid became a hash join over the
  // whole table once a generic plan guessed 10% of the rows for LIMIT).
  //
  // Items are written at half-full pages (fillfactor 50): a claim's new row version (every claim is a non-HOT
  // update) then fits on the page of the old one, so the live leases sit on a few pages in queueing order
  // instead of each on a page of its own. The lease count under the queue's lock read ~470 buffers a claim in a
  // 20,000-job burst; at fillfactor 50, ~140. Only pages written from now on are affected.
  `
  ALTER TABLE cmwq.items SET (fillfactor = 50);
  CREATE OR REPLACE FUNCTION ${COMPLETE_CLAIM_SIGNATURE}  -- The claims must walk items_pending in queueing order and stop after LIMIT rows. A table that filled faster
  -- than autovacuum analyzes it (a burst into a fresh queue) has statistics saying "a few pending rows", and the
  -- planner then reads every pending row and sorts them (tens of ms per claim at 20,000 rows). No sort is needed
  -- when the index gives the order, so sorting is made the last resort here.
  SET enable_sort = off
  AS $$
  DECLARE
    v_max integer; v_ordered boolean; v_running integer; v_mine integer; v_room integer; v_run integer;
    v_n integer := 0; v_want integer; v_got integer; v_accepted bigint[]; v_gone bigint[]; v_tkeys text[]; v_tids tid[];
    v_until timestamptz := now() + p_lease_ms * interval '1 millisecond';
  BEGIN
    -- The queue's row lock serializes claimers; it is held until the commit, so it is taken as late as it may be:
    -- after the completions, except on an ordered queue, whose claimers wait on item rows (plain FOR UPDATE)
    -- while holding it: there the queue's row comes first, the lock order of every such claimer, so a
    -- completion batch never holds an item row such a claimer waits for while itself waiting for the queue.
    IF p_free + p_ahead > 0 THEN
      SELECT q.ordered INTO v_ordered FROM cmwq.queues q WHERE q.name = p_queue;
      IF NOT FOUND THEN p_free := 0; p_ahead := 0;
      ELSIF v_ordered THEN
        SELECT q.max_active, q.ordered INTO v_max, v_ordered FROM cmwq.queues q WHERE q.name = p_queue
          FOR NO KEY UPDATE;
      END IF;
    END IF;
    -- Completions, fenced by the lease: kind r ran (error null: success), s skipped (cancelled before it
    -- started: no run counted), h handed back (the node detached before starting it: pending again, in its
    -- place). A failed run with attempts left is queued again after its back-off unless re-queued or cancelled.
    IF cardinality(p_keys) > 0 THEN
      -- The rows are locked in key order first, the order of every statement that locks several items of a
      -- queue (queueWorks' batch, renewals): two such statements never wait on each other in a cycle.
      -- Their tuple ids (locked rows stay put) let the delete below reach them without a primary-key lookup; a row
      -- a tid does not match is left to the update, which finds it by key.
      SELECT array_agg(l.key), array_agg(l.tid) INTO v_tkeys, v_tids FROM (SELECT i.key, i.ctid AS tid
        FROM cmwq.items i WHERE i.queue = p_queue AND i.key = ANY(p_keys) ORDER BY i.key FOR UPDATE) l;
      -- A keyless item nothing holds any more (idle, enabled, never failed: no record worth keeping) leaves no
      -- row: deleted at once, not updated first. A queueing that changed the row since this statement's snapshot
      -- (pending again) is seen when the row is locked, and the row is then completed by the update below.
      WITH d AS (SELECT * FROM unnest(p_keys, p_leases, p_errors, p_kinds) AS d (key, lease, error, kind)),
      t AS (SELECT * FROM unnest(v_tkeys, v_tids) AS t (key, tid)),
      g AS (
        DELETE FROM cmwq.items i USING d JOIN t ON t.key = d.key
        WHERE i.ctid = t.tid AND i.queue = p_queue AND i.key = d.key AND i.lease = d.lease AND d.kind <> 'h'
          AND d.error IS NULL
          AND i.keyless AND NOT i.pending AND i.disabled = 0 AND i.failures = 0
        RETURNING d.lease)
      SELECT array_agg(g.lease) INTO v_gone FROM g;
      WITH d AS (SELECT * FROM unnest(p_keys, p_leases, p_errors, p_kinds) AS d (key, lease, error, kind)
        WHERE v_gone IS NULL OR NOT (d.lease = ANY(v_gone))),
      u AS (
${COMPLETED_ROW}        FROM d WHERE i.queue = p_queue AND i.key = d.key AND i.lease = d.lease
        RETURNING d.lease)
      SELECT array_agg(u.lease) INTO v_accepted FROM u;
      v_accepted := coalesce(v_accepted, '{}') || coalesce(v_gone, '{}');
      IF cardinality(v_accepted) > 0 THEN
${ACCEPTED}      END IF;
    END IF;
    IF p_free + p_ahead <= 0 THEN RETURN; END IF;
    IF NOT v_ordered THEN
      SELECT q.max_active, q.ordered INTO v_max, v_ordered FROM cmwq.queues q WHERE q.name = p_queue
          FOR NO KEY UPDATE;
      IF NOT FOUND THEN RETURN; END IF;
    END IF;
    -- Claimed items hold leases and count against max_active whether they run or wait on the node, so an
    -- observer never sees more than max_active running. Free slots first (or up to the node's floor p_min);
    -- claiming ahead takes at most half of the room left once another node's p_reserve slots are set aside.
    SELECT count(*), count(*) FILTER (WHERE i.lease_node = p_node) INTO v_running, v_mine FROM cmwq.items i
      WHERE i.queue = p_queue AND i.lease IS NOT NULL AND i.lease_until > now();
    v_room := v_max - v_running;
    v_run := greatest(least(p_free, v_room), least(p_free, p_min - v_mine), 0);
    v_n := v_run + greatest(0, least(p_ahead, (v_room - v_run - p_reserve) / 2));
    IF v_ordered THEN v_n := least(v_n, 1 - v_running); END IF;
    v_want := v_n;
    IF v_n > 0 THEN
      RETURN QUERY WITH c AS (
        SELECT i.ctid AS tid FROM cmwq.items i
        WHERE i.queue = p_queue AND i.lease IS NOT NULL AND i.lease_until <= now() AND NOT i.cancel
          AND i.disabled = 0
        ORDER BY i.seq LIMIT v_n FOR UPDATE SKIP LOCKED)
      UPDATE cmwq.items i SET pending = false, lease = nextval('cmwq.lease_seq'), lease_node = p_node,
        lease_until = v_until, run_seq = i.seq
      WHERE i.ctid = ANY(ARRAY(SELECT c.tid FROM c)) AND i.queue = p_queue
      RETURNING 'c'::text, i.key, i.func, i.export, i.data, i.lease, i.attempt, i.keyless, NULL::double precision;
      GET DIAGNOSTICS v_got = ROW_COUNT;
      v_n := v_n - v_got;
    END IF;
    IF v_n > 0 AND v_ordered THEN
      RETURN QUERY WITH c AS (
        SELECT i.key FROM cmwq.items i
        WHERE i.queue = p_queue AND i.pending AND i.disabled = 0 AND i.run_at <= now()
          AND (i.lease IS NULL OR i.lease_until <= now())
        ORDER BY i.seq LIMIT v_n FOR UPDATE)
      UPDATE cmwq.items i SET pending = false, lease = nextval('cmwq.lease_seq'), lease_node = p_node,
        lease_until = v_until, run_seq = i.seq, cancel = false
      FROM c WHERE i.queue = p_queue AND i.key = c.key
      RETURNING 'c'::text, i.key, i.func, i.export, i.data, i.lease, i.attempt, i.keyless, NULL::double precision;
      GET DIAGNOSTICS v_got = ROW_COUNT;
      v_n := v_n - v_got;
    ELSIF v_n > 0 THEN
      RETURN QUERY WITH c AS (
        SELECT i.ctid AS tid FROM cmwq.items i
        WHERE i.queue = p_queue AND i.pending AND i.disabled = 0 AND i.run_at <= now()
          AND (i.lease IS NULL OR i.lease_until <= now())
        ORDER BY i.seq LIMIT v_n FOR UPDATE SKIP LOCKED)
      UPDATE cmwq.items i SET pending = false, lease = nextval('cmwq.lease_seq'), lease_node = p_node,
        lease_until = v_until, run_seq = i.seq, cancel = false
      WHERE i.ctid = ANY(ARRAY(SELECT c.tid FROM c)) AND i.queue = p_queue
      RETURNING 'c'::text, i.key, i.func, i.export, i.data, i.lease, i.attempt, i.keyless, NULL::double precision;
      GET DIAGNOSTICS v_got = ROW_COUNT;
      v_n := v_n - v_got;
    END IF;
    -- A claim that got every item it could take (what the node asked for, or all the room max_active left) may
    -- have left due items behind, so the next due time is not looked up: 0 says "due now", which is what the
    -- lookup finds on a busy queue, and the node claims again when it has room (a claim that then finds nothing
    -- looks it up). The lookup read the leased rows (up to max_active) on every round trip of a busy node.
    IF v_n = 0 AND v_want > 0 THEN
      RETURN QUERY SELECT 't'::text, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::bigint, NULL::integer,
        NULL::boolean, 0::double precision;
      RETURN;
    END IF;
    -- When the next pending item comes due (ms from now; null: none): the first entry of items_due, or an item
    -- re-queued while leased (few: at most max_active). items_due leaves leased rows out so that the claims above,
    -- which also take expired leases, cannot use it and walk items_pending in queueing order instead (a scan of
    -- items_due would read every due row and sort them).
${NEXT_DUE}  END $$;
  `,
  // The claim's exclusive section no longer grows with the batch. The queue's row lock used to be taken before
  // the live-lease count and held through the claim's item updates to the commit, so two nodes' round trips ran
  // one after the other (~92 items each). Now an unordered claim counts without the lock, claims what that count
  // allows (SKIP LOCKED), and only then locks the queue's row, counts again with a fresh snapshot (which sees
  // every claim committed under the lock before and its own) and hands back, in the same transaction, whatever
  // the exact grant does not cover: the lock is held for one count and the commit. max_active stays exact: every
  // claimer does its final count under the lock, so the last one to commit has counted everyone committed before.
  // (Ordered queues keep the queue's lock first: their claimers wait on item rows while holding it.)
  // cmwq.claim_grant() is the grant, shared by the optimistic and the final count.
  //
  // Completions are decided on the row as locked: one locking read (in key order) joins the batch and returns
  // each matched row's tuple id and whether it goes; the deletes and the updates then reach the rows by tuple id,
  // with no second lookup by key and no matching of the update's batch against the deleted leases.
  //
  // A statement that reaches rows by tuple id names nothing else: with `AND i.queue = p_queue` beside
  // `ctid = ANY(...)`, the generic plan of the claims' updates (statistics of a table filled in a burst say "a few
  // rows a queue") was a bitmap scan of the queue's whole primary key filtered by tuple id, ~3,000 buffers a
  // round trip at 30,000 jobs (auto_explain on a server of its own). With the tuple id alone it is a Tid Scan.
  `
  CREATE FUNCTION cmwq.claim_grant(p_max integer, p_running integer, p_mine integer, p_free integer,
    p_ahead integer, p_reserve integer, p_min integer)
  RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT r.run + greatest(0, least(p_ahead, (p_max - p_running - r.run - p_reserve) / 2))
    FROM (SELECT greatest(least(p_free, p_max - p_running), least(p_free, p_min - p_mine), 0) AS run) r
  $$;
  CREATE OR REPLACE FUNCTION ${COMPLETE_CLAIM_SIGNATURE}  -- The claims must walk items_pending in queueing order and stop after LIMIT rows (see migration 3).
  SET enable_sort = off
  AS $$
  DECLARE
    v_max integer; v_ordered boolean; v_running integer; v_mine integer;
    v_n integer := 0; v_want integer; v_got integer := 0; v_keep integer;
    v_gone tid[]; v_done tid[]; v_accepted bigint[];
    c_tid tid[] := '{}'; c_key text[] := '{}'; c_func text[] := '{}'; c_export text[] := '{}';
    c_data jsonb[] := '{}'; c_lease bigint[] := '{}'; c_attempt integer[] := '{}'; c_keyless boolean[] := '{}';
    v_until timestamptz := now() + p_lease_ms * interval '1 millisecond';
  BEGIN
    -- An ordered queue's claimers wait on item rows (plain FOR UPDATE) while holding the queue's row, so there
    -- the queue's row comes first, the lock order of every such claimer: a completion batch never holds an item
    -- row such a claimer waits for while itself waiting for the queue.
    SELECT q.max_active, q.ordered INTO v_max, v_ordered FROM cmwq.queues q WHERE q.name = p_queue;
    IF NOT FOUND THEN p_free := 0; p_ahead := 0;
    ELSIF v_ordered AND p_free + p_ahead > 0 THEN
      PERFORM 1 FROM cmwq.queues q WHERE q.name = p_queue FOR NO KEY UPDATE;
    END IF;
    -- Completions, fenced by the lease (kinds r, s and h and the retry rule as in migration 3).
    IF cardinality(p_keys) > 0 THEN
      -- The rows are locked in key order, the order of every statement that locks several items of a queue
      -- (queueWorks' batch, renewals): two such statements never wait on each other in a cycle. A row is the
      -- batch's when both its key and its lease are in it (a lease belongs to one item: no join of the batch to
      -- the rows, whose join filter compared every key with every key). What is read is the row as locked (a
      -- queueing that made it pending since is seen), and a locked row stays put, so its tuple id reaches it. A
      -- keyless item nothing holds any more (idle, enabled, never failed: no record worth keeping) leaves no row:
      -- deleted at once, not updated first.
      SELECT array_agg(l.tid) FILTER (WHERE l.gone), array_agg(l.tid) FILTER (WHERE NOT l.gone),
          array_agg(l.lease)
        INTO v_gone, v_done, v_accepted
        FROM (SELECT i.ctid AS tid, i.lease, i.keyless AND NOT i.pending AND i.disabled = 0 AND i.failures = 0
                AND p_kinds[array_position(p_leases, i.lease)] <> 'h'
                AND p_errors[array_position(p_leases, i.lease)] IS NULL AS gone
              FROM cmwq.items i WHERE i.queue = p_queue AND i.key = ANY(p_keys) AND i.lease = ANY(p_leases)
              ORDER BY i.key FOR UPDATE) l;
      IF v_gone IS NOT NULL THEN
        DELETE FROM cmwq.items i WHERE i.ctid = ANY(v_gone);
      END IF;
      IF v_done IS NOT NULL THEN
${COMPLETED_ROW}        FROM unnest(p_keys, p_leases, p_errors, p_kinds) AS d (key, lease, error, kind)
        WHERE i.ctid = ANY(v_done) AND i.key = d.key AND i.lease = d.lease;
      END IF;
      IF v_accepted IS NOT NULL THEN
${ACCEPTED}      END IF;
    END IF;
    IF p_free + p_ahead <= 0 THEN RETURN; END IF;
    -- Claimed items hold leases and count against max_active whether they run or wait on the node, so an
    -- observer never sees more than max_active running. Free slots first (or up to the node's floor p_min);
    -- claiming ahead takes at most half of the room left once another node's p_reserve slots are set aside.
    -- On an unordered queue this count is a guess (no lock yet): the exact one comes after the claim.
    SELECT count(*), count(*) FILTER (WHERE l.lease_node = p_node) INTO v_running, v_mine FROM (${LIVE_LEASES}) l;
    v_n := cmwq.claim_grant(v_max, v_running, v_mine, p_free, p_ahead, p_reserve, p_min);
    IF v_ordered THEN v_n := least(v_n, 1 - v_running); END IF;
    v_want := v_n;
    -- First items whose lease expired (their node died or froze; not those being cancelled), oldest expiry first
    -- (the index's order: no sort, no walk of the rest), then pending due items in queueing order; an ordered
    -- queue waits for a locked row instead of skipping it (skipping would reorder). Each claims by tuple id what it
    -- locked (a Tid Scan: see migration 4).
    IF v_n > 0 THEN
      WITH c AS (
        SELECT i.ctid AS tid FROM cmwq.items i
        WHERE i.queue = p_queue AND i.lease IS NOT NULL AND i.lease_until <= now() AND NOT i.cancel
          AND i.disabled = 0
        ORDER BY i.lease_until LIMIT v_n FOR UPDATE SKIP LOCKED),
      u AS (
        UPDATE cmwq.items i SET pending = false, lease = nextval('cmwq.lease_seq'), lease_node = p_node,
          lease_until = v_until, run_seq = i.seq
        WHERE i.ctid = ANY(ARRAY(SELECT c.tid FROM c))
        ${CLAIMED_INTO}
      v_n := v_want - cardinality(c_tid);
    END IF;
    IF v_n > 0 THEN
      WITH c AS (
        SELECT i.ctid AS tid FROM cmwq.items i
        WHERE i.queue = p_queue AND i.pending AND i.disabled = 0 AND i.run_at <= now()
          AND (i.lease IS NULL OR i.lease_until <= now()) AND NOT v_ordered
        ORDER BY i.seq LIMIT v_n FOR UPDATE SKIP LOCKED),
      o AS (
        SELECT i.ctid AS tid FROM cmwq.items i
        WHERE i.queue = p_queue AND i.pending AND i.disabled = 0 AND i.run_at <= now()
          AND (i.lease IS NULL OR i.lease_until <= now()) AND v_ordered
        ORDER BY i.seq LIMIT v_n FOR UPDATE),
      u AS (
        UPDATE cmwq.items i SET pending = false, lease = nextval('cmwq.lease_seq'), lease_node = p_node,
          lease_until = v_until, run_seq = i.seq, cancel = false
        WHERE i.ctid = ANY(ARRAY(SELECT c.tid FROM c UNION ALL SELECT o.tid FROM o))
        ${CLAIMED_INTO}
    END IF;
    v_got := cardinality(c_tid);
    v_keep := v_got;
    -- The exact count, under the queue's lock (taken last, held to the commit; an ordered claimer holds it
    -- already): a fresh snapshot sees every claim committed under the lock before this one and this one's own.
    -- What the grant does not cover is handed back: pending again, in its place (the last claimed go first).
    IF v_got > 0 AND NOT v_ordered THEN
      SELECT coalesce(max(q.max_active), v_max) INTO v_max FROM (SELECT q.max_active FROM cmwq.queues q
        WHERE q.name = p_queue FOR NO KEY UPDATE) q;
      SELECT count(*), count(*) FILTER (WHERE l.lease_node = p_node) INTO v_running, v_mine FROM (${LIVE_LEASES}) l;
      v_keep := least(v_got,
        cmwq.claim_grant(v_max, v_running - v_got, v_mine - v_got, p_free, p_ahead, p_reserve, p_min));
      IF v_keep < v_got THEN
        UPDATE cmwq.items i SET pending = true, lease = NULL, lease_node = NULL, lease_until = NULL
        WHERE i.ctid = ANY(c_tid[v_keep + 1:]);
      END IF;
    END IF;
    IF v_keep > 0 THEN
      RETURN QUERY SELECT 'c'::text, r.key, r.func, r.export, r.data, r.lease, r.attempt, r.keyless,
        NULL::double precision
      FROM unnest(c_key[:v_keep], c_func[:v_keep], c_export[:v_keep], c_data[:v_keep], c_lease[:v_keep],
        c_attempt[:v_keep], c_keyless[:v_keep]) AS r (key, func, export, data, lease, attempt, keyless);
    END IF;
    -- A claim that got every item it could take (what the node asked for, or all the room max_active left) may
    -- have left due items behind, so the next due time is not looked up: 0 says "due now" (see migration 4).
    IF (v_got = v_want AND v_want > 0) OR v_keep < v_got THEN
      RETURN QUERY SELECT 't'::text, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::bigint, NULL::integer,
        NULL::boolean, 0::double precision;
      RETURN;
    END IF;
    -- When the next pending item comes due (ms from now; null: none): see migration 3.
${NEXT_DUE}  END $$;
  `,
];

/** The schema version this code needs. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Creates or migrates the schema, under an advisory lock so that concurrent callers apply each migration once.
 * @param pool the backend's pool.
 * @param upTo the version to stop at (default: this code's); a test makes a database of an older version with it.
 * @returns the schema version now in force.
 */
export async function migrate(pool: pg.Pool, upTo: number = MIGRATIONS.length): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query('CREATE SCHEMA IF NOT EXISTS cmwq');
      await client.query(
        `CREATE TABLE IF NOT EXISTS cmwq.migrations (
           version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM cmwq.migrations');
      const current = rows[0]?.v ?? 0;
      for (let version = current + 1; version <= upTo; version++) {
        await client.query('BEGIN');
        try {
          await client.query(MIGRATIONS[version - 1]!);
          await client.query('INSERT INTO cmwq.migrations (version) VALUES ($1)', [version]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw error;
        }
      }
      return Math.max(current, upTo);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}
