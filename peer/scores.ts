/**
 * Peer scores and temporary bans, by identity (hex public key) and by host (for connections that
 * misbehave before proving an identity). Pure: every call takes the time.
 *
 * A score starts at 0 and only goes down (penalties) or back up towards 0 (recovery over time).
 * When a penalty takes it to `banThreshold` or below, the identity is banned for `banMs`.
 */

export interface ScoringPolicy {
  /** a score at or below this bans (default -100) */
  readonly banThreshold: number;
  /** how long a ban lasts, in ms (default 5 minutes) */
  readonly banMs: number;
  /** points a score recovers per second, up to 0 (default 0.1) */
  readonly recoveryPerSecond: number;
  /** offences from one host (before any identity was proven, or by any identity) within `banMs`
   * that ban the host itself (default 10) */
  readonly hostStrikes: number;
}

export const DEFAULT_SCORING: ScoringPolicy = {
  banThreshold: -100,
  banMs: 5 * 60_000,
  recoveryPerSecond: 0.1,
  hostStrikes: 10,
};

/** Scores never go below this, so that a ban's end is followed by a bounded probation. */
export const SCORE_FLOOR = -1000;

interface Entry {
  score: number;
  at: number;
  bannedUntil: number;
}

interface Strikes {
  count: number;
  since: number;
  bannedUntil: number;
}

export class Scoreboard {
  readonly #scores = new Map<string, Entry>();
  readonly #hosts = new Map<string, Strikes>();

  constructor(
    readonly policy: ScoringPolicy,
    readonly maxEntries = 4096,
  ) {}

  /** The current score of `id` (0 when unknown). */
  score(id: string, now: number): number {
    const e = this.#scores.get(id);
    return e === undefined ? 0 : this.#recovered(e, now);
  }

  /**
   * Lowers the score of `id` by `weight` (a non-negative finite number; anything else counts as 0).
   * Returns the new score and whether this penalty banned the identity.
   */
  penalise(id: string, weight: number, now: number): { score: number; banned: boolean } {
    const w = Number.isFinite(weight) && weight > 0 ? weight : 0;
    const e = this.#entry(id, now);
    e.score = Math.max(SCORE_FLOOR, this.#recovered(e, now) - w);
    e.at = now;
    if (e.score <= this.policy.banThreshold && w > 0) {
      e.bannedUntil = Math.max(e.bannedUntil, now + this.policy.banMs);
      return { score: e.score, banned: true };
    }
    return { score: e.score, banned: false };
  }

  /** Bans `id` until `now + ms` (default the policy's ban). */
  ban(id: string, now: number, ms = this.policy.banMs): void {
    const e = this.#entry(id, now);
    e.score = this.#recovered(e, now);
    e.at = now;
    e.bannedUntil = Math.max(e.bannedUntil, now + ms);
  }

  isBanned(id: string, now: number): boolean {
    const e = this.#scores.get(id);
    return e !== undefined && e.bannedUntil > now;
  }

  bannedUntil(id: string): number | undefined {
    const e = this.#scores.get(id);
    return e === undefined || e.bannedUntil === 0 ? undefined : e.bannedUntil;
  }

  /** One offence from `host`; true when it has now been banned. */
  strikeHost(host: string, now: number): boolean {
    let s = this.#hosts.get(host);
    if (s === undefined || (now - s.since > this.policy.banMs && s.bannedUntil <= now)) {
      s = { count: 0, since: now, bannedUntil: s?.bannedUntil ?? 0 };
      this.#hosts.delete(host);
      this.#hosts.set(host, s);
      this.#evict(this.#hosts, (x) => x.bannedUntil > now);
    }
    s.count++;
    if (s.count >= this.policy.hostStrikes) {
      s.bannedUntil = now + this.policy.banMs;
      s.count = 0;
      s.since = now;
      return true;
    }
    return false;
  }

  isHostBanned(host: string, now: number): boolean {
    const s = this.#hosts.get(host);
    return s !== undefined && s.bannedUntil > now;
  }

  /** Banned identities and hosts with the time their ban ends. */
  bans(now: number): { ids: Record<string, number>; hosts: Record<string, number> } {
    const ids: Record<string, number> = {};
    const hosts: Record<string, number> = {};
    for (const [id, e] of this.#scores) if (e.bannedUntil > now) ids[id] = e.bannedUntil;
    for (const [h, s] of this.#hosts) if (s.bannedUntil > now) hosts[h] = s.bannedUntil;
    return { ids, hosts };
  }

  #recovered(e: Entry, now: number): number {
    const dt = Math.max(0, now - e.at) / 1000;
    return Math.min(0, e.score + dt * this.policy.recoveryPerSecond);
  }

  #entry(id: string, now: number): Entry {
    let e = this.#scores.get(id);
    if (e === undefined) {
      e = { score: 0, at: now, bannedUntil: 0 };
      this.#scores.set(id, e);
      this.#evict(this.#scores, (x) => x.bannedUntil > now);
    } else {
      // most recently touched last: eviction takes the stalest first
      this.#scores.delete(id);
      this.#scores.set(id, e);
    }
    return e;
  }

  #evict<V>(map: Map<string, V>, keep: (v: V) => boolean): void {
    if (map.size <= this.maxEntries) return;
    for (const [k, v] of map) {
      if (map.size <= this.maxEntries) return;
      if (!keep(v)) map.delete(k);
    }
    // everything is banned: drop the oldest anyway (memory stays bounded)
    for (const k of map.keys()) {
      if (map.size <= this.maxEntries) return;
      map.delete(k);
    }
  }
}

/**
 * What an engine's penalty costs a peer's transport score. Penalties that prove the peer broke the
 * protocol cost it 20 (five such and it is banned for a while); the rest (a far-future height from
 * a peer that is ahead, an expired or duplicate envelope from a lagging one) happen to honest peers
 * too, and cost nothing (they are only counted).
 */
export function engineOffenceWeight(reason: string): number {
  return PROVEN_MISBEHAVIOUR.has(reason) ? 20 : 0;
}

const PROVEN_MISBEHAVIOUR: ReadonlySet<string> = new Set([
  'undecodable',
  'wrong-chain',
  'wrong-instance',
  'bad-signature',
  'unknown-validator',
  'bad-vote-type',
  'bad-block',
  'bad-block-time',
  'bad-certificate',
  'bad-evidence',
]);
