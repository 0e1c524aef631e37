/**
 * Rate limiting (token buckets) and reconnection backoff. Pure: time and randomness come in as
 * arguments, so the policies are unit-tested without clocks.
 */

/** A token bucket: `capacity` tokens, refilled at `ratePerSecond`; starts full. */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    readonly ratePerSecond: number,
    readonly capacity: number,
    now: number,
  ) {
    if (!(ratePerSecond > 0) || !(capacity > 0))
      throw new RangeError('token bucket needs a positive rate and capacity');
    this.#tokens = capacity;
    this.#at = now;
  }

  /** Takes `n` tokens at time `now` (ms); false (and nothing taken) when there are not enough. */
  take(n: number, now: number): boolean {
    this.#refill(now);
    if (n > this.#tokens) return false;
    this.#tokens -= n;
    return true;
  }

  /** Tokens available at `now` (ms). */
  available(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }

  #refill(now: number): void {
    const dt = now - this.#at;
    if (dt > 0) {
      this.#tokens = Math.min(this.capacity, this.#tokens + (dt * this.ratePerSecond) / 1000);
      this.#at = now;
    }
  }
}

export interface BackoffPolicy {
  /** the delay before the first retry, in ms */
  readonly initialMs: number;
  /** the largest delay, in ms */
  readonly maxMs: number;
}

/**
 * The delay before retry number `attempt` (0-based): `initialMs * 2^attempt` capped at `maxMs`,
 * with "equal jitter" (uniform in [d/2, d]) so that peers restarted together do not redial in
 * lockstep. `random` returns a number in [0, 1).
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number): number {
  const exp = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  const half = exp / 2;
  return Math.round(half + half * Math.min(Math.max(random(), 0), 1));
}
