/**
 * cmwq/postgres: shared workqueues on PostgreSQL. `await postgresBackend({ connectionString })`, then
 * `allocWorkqueue(name, WQ_UNBOUND, maxActive, { backend })` from 'cmwq' returns a workqueue shared by every
 * process that allocates it on the same database. This entry loads `pg`; the 'cmwq' entry never does.
 */
export {
  postgresBackend,
  PostgresBackend,
  type PostgresBackendOptions,
  type SharedQueueRow,
  type SharedItemRecord,
  type SharedClusterView,
  type SharedRunningItem,
} from './backend.js';
export { PgSharedWorkqueue } from './shared-workqueue.js';
export { SCHEMA_VERSION } from './schema.js';
export { queueWorks } from './queue-works.js';
export { startDevPostgres, type DevPostgres, type DevPostgresOptions } from './dev-server.js';
