import type { Logger } from '../observability/logger.js';

export interface JoinRetry {
  attempts: number;
  initialMs: number;
  maxMs: number;
}

export interface StartupJoinOptions {
  peers: string[];
  retry: JoinRetry;
  join: (peers: string[]) => Promise<{ contacted: number; errors: Error[] }>;
  /** Members alive now, ourselves included (someone may have joined us meanwhile). */
  numAlive: () => number;
  stopped: () => boolean;
  logger: Logger;
  /** Called once the first attempt is over, whatever its outcome. */
  onFirstAttempt: () => void;
  /** Holds the pending retry timer so shutdown can clear it. */
  setTimer: (t: NodeJS.Timeout | undefined) => void;
}

/** The start-up join: one attempt, then retries with doubling backoff until one peer answers or someone joins us. */
export async function startupJoin(o: StartupJoinOptions): Promise<void> {
  if (o.peers.length === 0) {
    o.onFirstAttempt();
    return;
  }
  let n = await tryJoin(o);
  o.onFirstAttempt();
  let wait = o.retry.initialMs;
  for (let attempt = 1; attempt <= o.retry.attempts && !o.stopped() && n === 0; attempt++) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, wait);
      t.unref?.();
      o.setTimer(t);
    });
    o.setTimer(undefined);
    if (o.stopped() || o.numAlive() > 1) return;
    n = await tryJoin(o);
    wait = Math.min(o.retry.maxMs, wait * 2);
  }
}

async function tryJoin(o: StartupJoinOptions): Promise<number> {
  const { contacted, errors } = await o.join(o.peers);
  if (contacted > 0) o.logger.info({ peers: contacted }, `successfully joined ${contacted} peers on startup`);
  else o.logger.warn({ peers: o.peers, errors: errors.map((e) => e.message) }, 'failed to join cluster');
  return contacted;
}
