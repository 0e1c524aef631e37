/**
 * Mempool gossip among validators: announce hashes, pull missing bodies.
 *
 *   1. A newly admitted envelope's hash is queued and, after `announceInterval`, announced: to each
 *      configured peer the hashes it is not known to have, or broadcast when no peers are configured.
 *   2. A peer that hears of a hash it has neither pooled, nor asked for, nor recently rejected asks
 *      the announcer for the body (`request`), within per-peer and total in-flight limits.
 *   3. The announcer answers with the bodies it still holds (`envelopes`), up to a per-peer budget
 *      per `serveWindow`.
 *   4. Bodies go through the same admission as clients' submissions.
 *
 * A request unanswered after `requestTimeout` is re-sent to another peer that announced the same
 * hash meanwhile, or dropped; a late (or duplicated) answer from a peer asked is still welcome.
 *
 * Per-peer state is bounded: each peer's "known" set is an LRU of `maxKnownPerPeer` hashes, at
 * most `maxPeers` peers are tracked (configured peers always), and rejected hashes are remembered
 * in an LRU of `rejectMemory`.
 *
 * Penalties (`{ peer, reason }`): a message that does not decode (`undecodable`), names another
 * instance (`wrong-instance`), a body that was not requested from that peer (`unrequested`), or a
 * relayed body that no honest mempool would have admitted (`relayed-<reason>` for undecodable,
 * oversize, wrong-instance, bad-signature, invalid-body, not-a-validator). Honest races (expired,
 * replay, pool-full, unknown-epoch, ...) cost nothing. A penalised message never changes the pool.
 */

import { trimOldest } from '../../wire/bounded-set.ts';
import { fromHex, sha256, toHex } from '../../wire/commit.ts';
import { encode, tryDecode } from '../../wire/schema.ts';
import {
  MAX_GOSSIP_ENVELOPES,
  MAX_GOSSIP_HASHES,
  MAX_RESPONSE_BYTES,
  MEMPOOL_LIMITS,
  type MempoolMessage,
  MempoolNetMessage,
} from './messages.ts';
import type { Pool, RejectReason } from './pool.ts';
import type { NetOut, PeerPenalty } from './ports.ts';

export interface GossipConfig {
  /** peer ids to announce to; empty means broadcast (NetOut `to: ''`) */
  readonly peers: readonly string[];
  /** delay between an admission and its announcement (batches announcements), ms */
  readonly announceInterval: number;
  /** how long a request may stay unanswered, ms */
  readonly requestTimeout: number;
  readonly maxKnownPerPeer: number;
  readonly maxPeers: number;
  readonly maxInflightPerPeer: number;
  readonly maxInflight: number;
  /** bodies served to one peer per `serveWindow` ms */
  readonly maxServePerWindow: number;
  readonly serveWindow: number;
  readonly rejectMemory: number;
}

export const DEFAULT_GOSSIP: GossipConfig = Object.freeze({
  peers: [],
  announceInterval: 10,
  requestTimeout: 2_000,
  maxKnownPerPeer: 16_384,
  maxPeers: 256,
  maxInflightPerPeer: 1_024,
  maxInflight: 8_192,
  maxServePerWindow: 8_192,
  serveWindow: 1_000,
  rejectMemory: 8_192,
});

/** Admission reasons that an honest relayer can never cause: the relayer is penalised. */
const RELAY_FAULTS: ReadonlySet<RejectReason> = new Set<RejectReason>([
  'undecodable',
  'oversize',
  'wrong-instance',
  'bad-signature',
  'invalid-body',
  'not-a-validator',
]);

export interface GossipOut {
  readonly sends: NetOut[];
  readonly penalties: PeerPenalty[];
  /** hashes admitted from peers' bodies */
  readonly admitted: string[];
}

interface PeerState {
  /** hashes this peer has (it announced, sent or was sent them); insertion order is LRU order */
  readonly known: Map<string, true>;
  inflight: number;
  served: number;
  windowStart: number;
}

interface Inflight {
  readonly peer: string;
  readonly at: number;
  /** other peers that announced the hash meanwhile (re-asked on timeout) */
  readonly others: string[];
}

/** A bounded insertion-ordered map: setting an entry refreshes it; the oldest leaves first. */
function touch<K, V>(m: Map<K, V>, k: K, v: V, max: number): void {
  m.delete(k);
  m.set(k, v);
  trimOldest(m, max);
}

export class Gossip {
  readonly config: GossipConfig;
  private readonly configured: ReadonlySet<string>;
  private readonly peers = new Map<string, PeerState>();
  private readonly inflight = new Map<string, Inflight>();
  /** hashes recently asked of a peer and answered or timed out: hash -> that peer (a late or
   * duplicated answer from it is not "unrequested") */
  private readonly recent = new Map<string, string>();
  private readonly rejected = new Map<string, RejectReason>();
  private pending: string[] = [];
  private announceAt: number | null = null;

  constructor(
    private readonly instance: string,
    config?: Partial<GossipConfig>,
  ) {
    this.config = Object.freeze({ ...DEFAULT_GOSSIP, ...config, peers: [...(config?.peers ?? [])] });
    this.configured = new Set(this.config.peers);
    for (const p of this.config.peers) this.peer(p);
  }

  /** Requests in flight. */
  get inflightCount(): number {
    return this.inflight.size;
  }

  /** Whether `peer` is known to have `hash`. */
  peerKnows(peer: string, hash: string): boolean {
    return this.peers.get(peer)?.known.has(hash) ?? false;
  }

  /** Queues the announcement of a newly admitted envelope (`from`: the peer that sent it, if any). */
  onAdmitted(hash: string, from: string | null, now: number): void {
    if (from !== null) this.markKnown(from, hash);
    this.pending.push(hash);
    this.announceAt ??= now + this.config.announceInterval;
  }

  /** The next time `onTick` has work, or null. */
  nextDeadline(): number | null {
    let at = this.announceAt;
    const first = this.inflight.values().next();
    if (!first.done) {
      const expiry = first.value.at + this.config.requestTimeout;
      if (at === null || expiry < at) at = expiry;
    }
    return at;
  }

  /** Flushes due announcements and expires old requests. */
  onTick(now: number, pool: Pool, out: GossipOut): void {
    if (this.announceAt !== null && now >= this.announceAt) this.flushAnnouncements(pool, out);
    this.expireRequests(now, out);
  }

  /** One message from a peer. */
  onNet(peer: string, bytes: Uint8Array, now: number, pool: Pool, out: GossipOut): void {
    const d = tryDecode(MempoolNetMessage, bytes, MEMPOOL_LIMITS);
    if (!d.ok) {
      out.penalties.push({ peer, reason: 'undecodable' });
      return;
    }
    if (d.value.instance !== this.instance) {
      out.penalties.push({ peer, reason: 'wrong-instance' });
      return;
    }
    const state = this.peer(peer);
    const m = d.value.message;
    switch (m.tag) {
      case 'announce':
        this.onAnnounce(peer, state, m.value.hashes, now, pool, out);
        break;
      case 'request':
        this.onRequest(peer, state, m.value.hashes, now, pool, out);
        break;
      case 'envelopes':
        this.onEnvelopes(peer, m.value.envelopes, now, pool, out);
        break;
    }
  }

  // --- handlers --------------------------------------------------------------------------------

  private onAnnounce(
    peer: string,
    state: PeerState,
    hashes: readonly Uint8Array[],
    now: number,
    pool: Pool,
    out: GossipOut,
  ): void {
    const wanted: Uint8Array[] = [];
    for (const h of hashes) {
      const hash = toHex(h);
      this.markKnown(peer, hash);
      if (pool.has(hash) || this.rejected.has(hash)) continue;
      const asked = this.inflight.get(hash);
      if (asked !== undefined) {
        if (asked.peer !== peer && asked.others.length < 4 && !asked.others.includes(peer)) {
          asked.others.push(peer);
        }
        continue;
      }
      if (state.inflight >= this.config.maxInflightPerPeer || this.inflight.size >= this.config.maxInflight) {
        continue;
      }
      this.inflight.set(hash, { peer, at: now, others: [] });
      state.inflight++;
      wanted.push(h);
    }
    if (wanted.length > 0) this.send(out, peer, { tag: 'request', value: { hashes: wanted } });
  }

  private onRequest(
    peer: string,
    state: PeerState,
    hashes: readonly Uint8Array[],
    now: number,
    pool: Pool,
    out: GossipOut,
  ): void {
    if (now >= state.windowStart + this.config.serveWindow) {
      state.windowStart = now;
      state.served = 0;
    }
    let chunk: Uint8Array[] = [];
    let chunkBytes = 0;
    for (const h of hashes) {
      if (state.served >= this.config.maxServePerWindow) break;
      const hash = toHex(h);
      const entry = pool.get(hash);
      if (entry === undefined) continue;
      this.markKnown(peer, hash);
      state.served++;
      if (chunk.length >= MAX_GOSSIP_ENVELOPES || chunkBytes + entry.bytes.length > MAX_RESPONSE_BYTES) {
        this.send(out, peer, { tag: 'envelopes', value: { envelopes: chunk } });
        chunk = [];
        chunkBytes = 0;
      }
      chunk.push(entry.bytes);
      chunkBytes += entry.bytes.length;
    }
    if (chunk.length > 0) this.send(out, peer, { tag: 'envelopes', value: { envelopes: chunk } });
  }

  private onEnvelopes(
    peer: string,
    bodies: readonly Uint8Array[],
    now: number,
    pool: Pool,
    out: GossipOut,
  ): void {
    const penalised = new Set<string>();
    const penalise = (reason: string) => {
      if (penalised.has(reason)) return;
      penalised.add(reason);
      out.penalties.push({ peer, reason });
    };
    for (const body of bodies) {
      const hash = toHex(sha256(body));
      const asked = this.inflight.get(hash);
      if (asked?.peer === peer) {
        this.inflight.delete(hash);
        this.release(peer);
        touch(this.recent, hash, peer, this.config.rejectMemory);
      } else if (this.recent.get(hash) !== peer) {
        penalise('unrequested');
        continue;
      }
      this.markKnown(peer, hash);
      const adm = pool.admit(body);
      if (adm.ok) {
        out.admitted.push(hash);
        this.onAdmitted(hash, peer, now);
        continue;
      }
      if (adm.reason === 'duplicate') continue;
      touch(this.rejected, hash, adm.reason, this.config.rejectMemory);
      if (RELAY_FAULTS.has(adm.reason)) penalise(`relayed-${adm.reason}`);
    }
  }

  private flushAnnouncements(pool: Pool, out: GossipOut): void {
    const hashes = [...new Set(this.pending)].filter((h) => pool.has(h));
    this.pending = [];
    this.announceAt = null;
    if (hashes.length === 0) return;
    if (this.config.peers.length === 0) {
      this.sendAnnouncements(out, '', hashes);
      return;
    }
    for (const p of this.config.peers) {
      const fresh = hashes.filter((h) => !this.peerKnows(p, h));
      for (const h of fresh) this.markKnown(p, h);
      this.sendAnnouncements(out, p, fresh);
    }
  }

  private sendAnnouncements(out: GossipOut, to: string, hashes: readonly string[]): void {
    for (let i = 0; i < hashes.length; i += MAX_GOSSIP_HASHES) {
      const chunk = hashes.slice(i, i + MAX_GOSSIP_HASHES).map(fromHex);
      this.send(out, to, { tag: 'announce', value: { hashes: chunk } });
    }
  }

  private expireRequests(now: number, out: GossipOut): void {
    const due: [string, Inflight][] = [];
    for (const [hash, r] of this.inflight) {
      if (r.at + this.config.requestTimeout > now) break; // insertion order is request order
      due.push([hash, r]);
    }
    const retries = new Map<string, Uint8Array[]>();
    for (const [hash, r] of due) {
      this.inflight.delete(hash);
      this.release(r.peer);
      touch(this.recent, hash, r.peer, this.config.rejectMemory);
      const next = r.others.find((p) => (this.peers.get(p)?.inflight ?? 0) < this.config.maxInflightPerPeer);
      if (next === undefined) continue;
      this.inflight.set(hash, { peer: next, at: now, others: r.others.filter((p) => p !== next) });
      this.peer(next).inflight++;
      const list = retries.get(next) ?? [];
      list.push(fromHex(hash));
      retries.set(next, list);
    }
    for (const [p, hashes] of retries) {
      for (let i = 0; i < hashes.length; i += MAX_GOSSIP_HASHES) {
        this.send(out, p, { tag: 'request', value: { hashes: hashes.slice(i, i + MAX_GOSSIP_HASHES) } });
      }
    }
  }

  // --- bookkeeping -----------------------------------------------------------------------------

  private send(out: GossipOut, to: string, message: MempoolMessage): void {
    out.sends.push({ to, bytes: encode(MempoolNetMessage, { instance: this.instance, message }) });
  }

  private peer(id: string): PeerState {
    let p = this.peers.get(id);
    if (p !== undefined) return p;
    p = { known: new Map(), inflight: 0, served: 0, windowStart: Number.NEGATIVE_INFINITY };
    this.peers.set(id, p);
    if (this.peers.size > this.config.maxPeers) {
      // forget the oldest peer that is not configured and has nothing in flight
      for (const [other, st] of this.peers) {
        if (other !== id && !this.configured.has(other) && st.inflight === 0) {
          this.peers.delete(other);
          break;
        }
      }
    }
    return p;
  }

  private markKnown(peer: string, hash: string): void {
    touch(this.peer(peer).known, hash, true, this.config.maxKnownPerPeer);
  }

  private release(peer: string): void {
    const p = this.peers.get(peer);
    if (p !== undefined && p.inflight > 0) p.inflight--;
  }
}
