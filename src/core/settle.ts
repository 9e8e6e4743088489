/**
 * Settling a handler's thenable once. A handler may return any thenable, and a hand-written one may call back
 * twice, late, or throw from `then` itself: only its first outcome counts, and a throw from `then` is a failure.
 */

/**
 * Calls `done(failed, value)` exactly once, with the first outcome of thenable (whose `then` the caller has
 * already read: a getter is read once).
 */
export function settleOnce(
  thenable: unknown,
  // biome-ignore lint/complexity/noBannedTypes: a thenable's `then` is known only to be callable.
  then: Function,
  done: (failed: boolean, value: unknown) => void,
): void {
  let settled = false;
  const settle = (failed: boolean, value: unknown): void => {
    if (settled) return;
    settled = true;
    done(failed, value);
  };
  try {
    then.call(
      thenable,
      (value: unknown) => settle(false, value),
      (reason: unknown) => settle(true, reason),
    );
  } catch (error) {
    settle(true, error);
  }
}
