/**
 * Rate limiting (token buckets) and reconnection backoff. Pure: time and randomness come in as
 * arguments, so the policies are unit-tested without clocks. A bucket is a value (`Bucket`), so a
 * peer machine keeps one in its context; `TokenBucket` is the same rule behind a mutable handle.
 */

/** A token bucket as a value: `capacity` tokens, refilled at `ratePerSecond`, last refilled `at`. */
export interface Bucket {
  readonly ratePerSecond: number;
  readonly capacity: number;
  readonly tokens: number;
  /** ms */
  readonly at: number;
}

/** A full bucket at `now` (ms). */
export function fullBucket(ratePerSecond: number, capacity: number, now: number): Bucket {
  if (!(ratePerSecond > 0) || !(capacity > 0))
    throw new RangeError('token bucket needs a positive rate and capacity');
  return { ratePerSecond, capacity, tokens: capacity, at: now };
}

/** The bucket refilled up to `now` (ms); time going backwards refills nothing. */
export function refill(b: Bucket, now: number): Bucket {
  const dt = now - b.at;
  if (!(dt > 0)) return b;
  return { ...b, tokens: Math.min(b.capacity, b.tokens + (dt * b.ratePerSecond) / 1000), at: now };
}

/** Takes `n` tokens at `now`: whether there were enough, and the bucket after (refilled, and
 * less `n` when taken; nothing is taken when there were not enough). */
export function takeTokens(b: Bucket, n: number, now: number): { ok: boolean; bucket: Bucket } {
  const r = refill(b, now);
  if (n > r.tokens) return { ok: false, bucket: r };
  return { ok: true, bucket: { ...r, tokens: r.tokens - n } };
}

/** A token bucket: `capacity` tokens, refilled at `ratePerSecond`; starts full. */
export class TokenBucket {
  #b: Bucket;

  constructor(
    readonly ratePerSecond: number,
    readonly capacity: number,
    now: number,
  ) {
    this.#b = fullBucket(ratePerSecond, capacity, now);
  }

  /** Takes `n` tokens at time `now` (ms); false (and nothing taken) when there are not enough. */
  take(n: number, now: number): boolean {
    const r = takeTokens(this.#b, n, now);
    this.#b = r.bucket;
    return r.ok;
  }

  /** Tokens available at `now` (ms). */
  available(now: number): number {
    this.#b = refill(this.#b, now);
    return this.#b.tokens;
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
