/**
 * OTP-style restart policy, as a pure decision: an engine may restart at most `maxRestarts`
 * times within any window of `withinMs`; past that it is marked failed (the rest of the graph
 * keeps running, and the failure is an inspection event).
 */
export interface RestartPolicy {
  readonly maxRestarts: number;
  readonly withinMs: number;
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
