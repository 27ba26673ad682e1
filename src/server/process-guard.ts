import type { Logger } from '../observability/logger.js';

/**
 * Last line of defence: an exception that escapes every request boundary (a
 * timer, a socket callback, a library's stray promise) is logged and the node
 * keeps serving its other requests instead of dying with them.
 */
export function installProcessGuard(logger: Logger): () => void {
  const onException = (err: unknown) =>
    logger.error(
      { err: (err as Error)?.message ?? String(err), stack: (err as Error)?.stack },
      'uncaught exception (kept serving)',
    );
  const onRejection = (reason: unknown) =>
    logger.error(
      { err: (reason as Error)?.message ?? String(reason), stack: (reason as Error)?.stack },
      'unhandled promise rejection (kept serving)',
    );
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
