import { isStorageError } from '../storage/types.ts';

/**
 * OTP-style restart policy, as a pure decision: an engine may restart at most `maxRestarts`
 * times within any window of `withinMs`; past that it is marked failed (the rest of the graph
 * keeps running, and the failure is an inspection event).
 */
export interface RestartPolicy {
  readonly maxRestarts: number;
  readonly withinMs: number;
}

/**
 * A crash a restart cannot cure: the engine's storage is full, damaged, gone or read-only. Such an
 * engine is failed at once (restarting it would only fail again, or act on state it cannot keep).
 */
export function isIncurable(err: unknown): boolean {
  return (
    isStorageError(err) &&
    (err.code === 'full' ||
      err.code === 'corrupt' ||
      err.code === 'io' ||
      err.code === 'read-only' ||
      err.code === 'closed')
  );
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { maxRestarts: 3, withinMs: 5_000 };

export type RestartDecision = { restart: true; history: number[] } | { restart: false; history: number[] };

/** Given the times of earlier restarts and the time of a new crash, decide and return the new history. */
export function decideRestart(
  history: readonly number[],
  now: number,
  policy: RestartPolicy,
): RestartDecision {
  const recent = history.filter((t) => now - t < policy.withinMs);
  if (recent.length >= policy.maxRestarts) return { restart: false, history: recent };
  return { restart: true, history: [...recent, now] };
}
