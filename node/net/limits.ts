/**
 * Inbound handshake slots, shared fairly between hosts. The token buckets and the reconnection
 * backoff the peer session runs are in peer/limits.ts (re-exported here).
 */
export { type BackoffPolicy, backoffDelay, TokenBucket } from '../../peer/limits.ts';

/**
 * Slots for inbound connections that have not proven an identity yet (from the TCP accept to the
 * end of the handshake), shared fairly between remote hosts: a host holds at most `perHost`, and
 * when all `total` are taken a host holding fewer than the largest holder takes the oldest slot of
 * that holder (which the caller then closes). So no single host, nor a few busy ones, can keep
 * every other host out. Items are the caller's handles (sockets, connections); `host` is the key
 * shares are counted by (see `shareKeyOf`).
 */
export class HandshakeSlots<T> {
  readonly #byHost = new Map<string, Set<T>>();
  #size = 0;

  constructor(
    readonly total: number,
    readonly perHost: number,
  ) {
    if (!Number.isSafeInteger(total) || total <= 0 || !Number.isSafeInteger(perHost) || perHost <= 0)
      throw new RangeError('handshake slots need a positive total and per-host share');
  }

  /** Slots taken now, by every host or by one. */
  held(host?: string): number {
    return host === undefined ? this.#size : (this.#byHost.get(host)?.size ?? 0);
  }

  /**
   * Takes a slot for `item` from `host`. Refused when the host holds its share (`host`) or every
   * slot is taken by hosts holding no more than one slot more than this one (`full`); otherwise
   * granted, possibly by evicting `evict` (already released here: the caller must close it).
   */
  acquire(host: string, item: T): { ok: true; evict?: T } | { ok: false; refused: 'host' | 'full' } {
    const mine = this.held(host);
    if (mine >= this.perHost) return { ok: false, refused: 'host' };
    let evict: T | undefined;
    if (this.#size >= this.total) {
      let largest: [string, Set<T>] | undefined;
      for (const entry of this.#byHost) {
        if (entry[0] !== host && (largest === undefined || entry[1].size > largest[1].size)) largest = entry;
      }
      if (largest === undefined || largest[1].size <= mine + 1) return { ok: false, refused: 'full' };
      evict = largest[1].values().next().value as T;
      this.#remove(largest[0], largest[1], evict);
    }
    let set = this.#byHost.get(host);
    if (set === undefined) {
      set = new Set();
      this.#byHost.set(host, set);
    }
    set.add(item);
    this.#size++;
    return evict === undefined ? { ok: true } : { ok: true, evict };
  }

  /** Gives back the slot of `item` (no-op when it holds none, e.g. after an eviction). */
  release(host: string, item: T): void {
    const set = this.#byHost.get(host);
    if (set?.has(item)) this.#remove(host, set, item);
  }

  #remove(host: string, set: Set<T>, item: T): void {
    set.delete(item);
    this.#size--;
    if (set.size === 0) this.#byHost.delete(host);
  }
}

/**
 * The key a remote address's share is counted under: an IPv4 address as is, an IPv6 address by
 * its /64 prefix (one subscriber typically holds a whole /64), anything else as is.
 */
export function shareKeyOf(host: string): string {
  if (!host.includes(':')) return host;
  const [head = '', tail] = host.split('%')[0]!.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => (g === '' ? '0' : g.toLowerCase().replace(/^0+(?=.)/, '')))
    .join(':')}::/64`;
}
