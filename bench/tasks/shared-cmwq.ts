/**
 * cmwq's shared workqueue as a contender of the shared-workqueue benchmark (placeholder until the cmwq/postgres
 * backend lands: every call says it is not there).
 */
import type { SharedContender } from './shared-protocol.js';

export function cmwqContender(): SharedContender {
  const missing = async (): Promise<never> => {
    throw new Error('cmwq/postgres: the shared-workqueue backend is not built yet');
  };
  return { setup: missing, queueBatch: missing, queueOne: missing, startWorker: missing, close: async () => {} };
}
