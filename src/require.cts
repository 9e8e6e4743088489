/**
 * `require('cmwq')`: the CommonJS entry. cmwq is an ES module; Node >= 20.19 (and 22.12) can require() an ES module
 * that has no top-level await, so this entry requires the very same src/index.js that `import` loads (one module
 * instance, one set of workqueues, whichever way it was loaded). On an older Node that require fails with
 * ERR_REQUIRE_ESM, and this entry says what to do instead.
 */
import type * as Cmwq from './index.js';

function load(): typeof Cmwq {
  try {
    return require('./index.js') as typeof Cmwq;
  } catch (error) {
    if ((error as NodeJS.ErrnoException)?.code !== 'ERR_REQUIRE_ESM') throw error;
    throw new Error(
      `cmwq is an ES module: require('cmwq') needs Node >= 20.19 (this is ${process.version}); ` +
        "use import { ... } from 'cmwq', or await import('cmwq') from CommonJS",
      { cause: error },
    );
  }
}

export = load();
