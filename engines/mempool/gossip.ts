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
import {
  emptyOrdered,
  type OrderedMap,
  omDelete,
  omEntries,
  omFirst,
  omGet,
  omHas,
  omSet,
  omSize,
  omTouch,
  omTrimOldest,
} from './persistent.ts';
import {
  admit,
  type PoolEnv,
  type PoolState,
  get as poolGet,
  has as poolHas,
  type RejectReason,
} from './pool.ts';
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

export interface PeerState {
  /** hashes this peer has (it announced, sent or was sent them); insertion order is LRU order */
  readonly known: OrderedMap<true>;
  readonly inflight: number;
  readonly served: number;
  readonly windowStart: number;
}

export interface Inflight {
  readonly peer: string;
  readonly at: number;
  /** other peers that announced the hash meanwhile (re-asked on timeout) */
  readonly others: readonly string[];
}

/** A persistent stack of hashes (newest first). */
export type HashList = { readonly head: string; readonly tail: HashList } | null;

export interface GossipState {
  readonly instance: string;
  readonly config: GossipConfig;
  /** tracked peers, oldest first */
  readonly peers: OrderedMap<PeerState>;
  /** hash -> the request for it, in request order */
  readonly inflight: OrderedMap<Inflight>;
  /** hashes recently asked of a peer and answered or timed out: hash -> that peer (a late or
   * duplicated answer from it is not "unrequested") */
  readonly recent: OrderedMap<string>;
  readonly rejected: OrderedMap<RejectReason>;
  /** admitted hashes waiting for the next announcement, newest first */
  readonly pending: HashList;
  readonly announceAt: number | null;
}

/** What a gossip step asks to send. */
export interface GossipSends {
  readonly gossip: GossipState;
  readonly sends: NetOut[];
}

/** What a step that admits peers' bodies did. */
export interface GossipAdmissions {
  readonly gossip: GossipState;
  readonly pool: PoolState;
  readonly penalties: PeerPenalty[];
  /** hashes admitted from the peer's bodies */
  readonly admitted: string[];
}

/** A decoded message of this instance's mempools, or the penalty for one that is not. */
export type PeerMessage =
  | { readonly ok: true; readonly message: MempoolMessage }
  | { readonly ok: false; readonly reason: 'undecodable' | 'wrong-instance' };

export function createGossip(instance: string, config?: Partial<GossipConfig>): GossipState {
  const resolved = Object.freeze({
    ...DEFAULT_GOSSIP,
    ...config,
    peers: Object.freeze([...(config?.peers ?? [])]),
  });
  let g: GossipState = {
    instance,
    config: resolved,
    peers: emptyOrdered(),
    inflight: emptyOrdered(),
    recent: emptyOrdered(),
    rejected: emptyOrdered(),
    pending: null,
    announceAt: null,
  };
  for (const p of resolved.peers) g = ensurePeer(g, p);
  return g;
}

/** Requests in flight. */
export const inflightCount = (g: GossipState): number => omSize(g.inflight);

/** Whether `peer` is known to have `hash`. */
export function peerKnows(g: GossipState, peer: string, hash: string): boolean {
  const st = omGet(g.peers, peer);
  return st !== undefined && omHas(st.known, hash);
}

/** Queues the announcement of a newly admitted envelope (`from`: the peer that sent it, if any). */
export function onAdmitted(g: GossipState, hash: string, from: string | null, now: number): GossipState {
  const known = from === null ? g : markKnown(g, from, hash);
  return {
    ...known,
    pending: { head: hash, tail: known.pending },
    announceAt: known.announceAt ?? now + known.config.announceInterval,
  };
}

/** The next time `onTick` has work, or null. */
export function nextDeadline(g: GossipState): number | null {
  let at = g.announceAt;
  const first = omFirst(g.inflight);
  if (first !== undefined) {
    const expiry = first[1].at + g.config.requestTimeout;
    if (at === null || expiry < at) at = expiry;
  }
  return at;
}

/** Whether a tick at `now` flushes announcements. */
export const announcementsDue = (g: GossipState, now: number): boolean =>
  g.announceAt !== null && now >= g.announceAt;

/** Flushes due announcements and expires old requests. */
export function onTick(g: GossipState, pool: PoolState, now: number): GossipSends {
  const sends: NetOut[] = [];
  let next = announcementsDue(g, now) ? flushAnnouncements(g, pool, sends) : g;
  next = expireRequests(next, now, sends);
  return { gossip: next, sends };
}

/** Decodes a peer's bytes: a message of this instance's mempools, or the penalty. */
export function decodePeerMessage(g: GossipState, bytes: Uint8Array): PeerMessage {
  const d = tryDecode(MempoolNetMessage, bytes, MEMPOOL_LIMITS);
  if (!d.ok) return { ok: false, reason: 'undecodable' };
  if (d.value.instance !== g.instance) return { ok: false, reason: 'wrong-instance' };
  return { ok: true, message: d.value.message };
}

/** A peer's announcement: request the hashes neither pooled, nor asked for, nor rejected (lazy pull). */
export function onAnnounce(
  g0: GossipState,
  pool: PoolState,
  peer: string,
  hashes: readonly Uint8Array[],
  now: number,
): GossipSends {
  let g = ensurePeer(g0, peer);
  const sends: NetOut[] = [];
  const wanted: Uint8Array[] = [];
  for (const h of hashes) {
    const hash = toHex(h);
    g = markKnown(g, peer, hash);
    if (poolHas(pool, hash) || omHas(g.rejected, hash)) continue;
    const asked = omGet(g.inflight, hash);
    if (asked !== undefined) {
      if (asked.peer !== peer && asked.others.length < 4 && !asked.others.includes(peer)) {
        g = { ...g, inflight: omSet(g.inflight, hash, { ...asked, others: [...asked.others, peer] }) };
      }
      continue;
    }
    const state = omGet(g.peers, peer)!;
    if (state.inflight >= g.config.maxInflightPerPeer || omSize(g.inflight) >= g.config.maxInflight) {
      continue;
    }
    g = {
      ...g,
      inflight: omSet(g.inflight, hash, { peer, at: now, others: [] }),
      peers: omSet(g.peers, peer, { ...state, inflight: state.inflight + 1 }),
    };
    wanted.push(h);
  }
  if (wanted.length > 0) send(g, sends, peer, { tag: 'request', value: { hashes: wanted } });
  return { gossip: g, sends };
}

/** A peer's request: serve the bodies still pooled, within its budget for the window. */
export function onRequest(
  g0: GossipState,
  pool: PoolState,
  peer: string,
  hashes: readonly Uint8Array[],
  now: number,
): GossipSends {
  let g = ensurePeer(g0, peer);
  const sends: NetOut[] = [];
  let state = omGet(g.peers, peer)!;
  if (now >= state.windowStart + g.config.serveWindow) state = { ...state, windowStart: now, served: 0 };
  let served = state.served;
  let chunk: Uint8Array[] = [];
  let chunkBytes = 0;
  for (const h of hashes) {
    if (served >= g.config.maxServePerWindow) break;
    const hash = toHex(h);
    const entry = poolGet(pool, hash);
    if (entry === undefined) continue;
    g = markKnown(g, peer, hash);
    served++;
    if (chunk.length >= MAX_GOSSIP_ENVELOPES || chunkBytes + entry.bytes.length > MAX_RESPONSE_BYTES) {
      send(g, sends, peer, { tag: 'envelopes', value: { envelopes: chunk } });
      chunk = [];
      chunkBytes = 0;
    }
    chunk.push(entry.bytes);
    chunkBytes += entry.bytes.length;
  }
  if (chunk.length > 0) send(g, sends, peer, { tag: 'envelopes', value: { envelopes: chunk } });
  const current = omGet(g.peers, peer)!;
  g = {
    ...g,
    peers: omSet(g.peers, peer, { ...current, windowStart: state.windowStart, served }),
  };
  return { gossip: g, sends };
}

/** Bodies from a peer: those requested of it go through admission; the others cost it a penalty. */
export function onEnvelopes(
  g0: GossipState,
  pool0: PoolState,
  peer: string,
  bodies: readonly Uint8Array[],
  now: number,
  env: PoolEnv,
): GossipAdmissions {
  let g = ensurePeer(g0, peer);
  let pool = pool0;
  const penalties: PeerPenalty[] = [];
  const admitted: string[] = [];
  const penalised = new Set<string>();
  const penalise = (reason: string) => {
    if (penalised.has(reason)) return;
    penalised.add(reason);
    penalties.push({ peer, reason });
  };
  for (const body of bodies) {
    const hash = toHex(sha256(body));
    const asked = omGet(g.inflight, hash);
    if (asked?.peer === peer) {
      g = release({ ...g, inflight: omDelete(g.inflight, hash) }, peer);
      g = { ...g, recent: touch(g.recent, hash, peer, g.config.rejectMemory) };
    } else if (omGet(g.recent, hash) !== peer) {
      penalise('unrequested');
      continue;
    }
    g = markKnown(g, peer, hash);
    const adm = admit(pool, body, env);
    pool = adm.pool;
    if (adm.admission.ok) {
      admitted.push(hash);
      g = onAdmitted(g, hash, peer, now);
      continue;
    }
    const reason = adm.admission.reason;
    if (reason === 'duplicate') continue;
    g = { ...g, rejected: touch(g.rejected, hash, reason, g.config.rejectMemory) };
    if (RELAY_FAULTS.has(reason)) penalise(`relayed-${reason}`);
  }
  return { gossip: g, pool, penalties, admitted };
}

/** One message from a peer (decode, then the handler of its kind). */
export function onNet(
  g: GossipState,
  pool: PoolState,
  peer: string,
  bytes: Uint8Array,
  now: number,
  env: PoolEnv,
): { gossip: GossipState; pool: PoolState; sends: NetOut[]; penalties: PeerPenalty[] } {
  const d = decodePeerMessage(g, bytes);
  if (!d.ok) return { gossip: g, pool, sends: [], penalties: [{ peer, reason: d.reason }] };
  const m = d.message;
  switch (m.tag) {
    case 'announce':
      return { ...onAnnounce(g, pool, peer, m.value.hashes, now), pool, penalties: [] };
    case 'request':
      return { ...onRequest(g, pool, peer, m.value.hashes, now), pool, penalties: [] };
    case 'envelopes':
      return { ...onEnvelopes(g, pool, peer, m.value.envelopes, now, env), sends: [] };
  }
}

// --- internals ----------------------------------------------------------------------------------

/** A bounded insertion-ordered map: setting an entry refreshes it; the oldest leaves first. */
function touch<V>(m: OrderedMap<V>, k: string, v: V, max: number): OrderedMap<V> {
  return omTrimOldest(omTouch(m, k, v), max);
}

function pendingHashes(list: HashList): string[] {
  const out: string[] = [];
  for (let l = list; l !== null; l = l.tail) out.push(l.head);
  return out.reverse();
}

function flushAnnouncements(g0: GossipState, pool: PoolState, sends: NetOut[]): GossipState {
  const hashes = [...new Set(pendingHashes(g0.pending))].filter((h) => poolHas(pool, h));
  let g: GossipState = { ...g0, pending: null, announceAt: null };
  if (hashes.length === 0) return g;
  if (g.config.peers.length === 0) {
    sendAnnouncements(g, sends, '', hashes);
    return g;
  }
  for (const p of g.config.peers) {
    const fresh = hashes.filter((h) => !peerKnows(g, p, h));
    for (const h of fresh) g = markKnown(g, p, h);
    sendAnnouncements(g, sends, p, fresh);
  }
  return g;
}

function sendAnnouncements(g: GossipState, sends: NetOut[], to: string, hashes: readonly string[]): void {
  for (let i = 0; i < hashes.length; i += MAX_GOSSIP_HASHES) {
    const chunk = hashes.slice(i, i + MAX_GOSSIP_HASHES).map(fromHex);
    send(g, sends, to, { tag: 'announce', value: { hashes: chunk } });
  }
}

function expireRequests(g0: GossipState, now: number, sends: NetOut[]): GossipState {
  const due: [string, Inflight][] = [];
  for (const [hash, r] of omEntries(g0.inflight)) {
    if (r.at + g0.config.requestTimeout > now) break; // insertion order is request order
    due.push([hash, r]);
  }
  if (due.length === 0) return g0;
  let g = g0;
  const retries = new Map<string, Uint8Array[]>();
  for (const [hash, r] of due) {
    g = release({ ...g, inflight: omDelete(g.inflight, hash) }, r.peer);
    g = { ...g, recent: touch(g.recent, hash, r.peer, g.config.rejectMemory) };
    const max = g.config.maxInflightPerPeer;
    const next = r.others.find((p) => (omGet(g.peers, p)?.inflight ?? 0) < max);
    if (next === undefined) continue;
    g = {
      ...g,
      inflight: omSet(g.inflight, hash, { peer: next, at: now, others: r.others.filter((p) => p !== next) }),
    };
    g = ensurePeer(g, next);
    const st = omGet(g.peers, next)!;
    g = { ...g, peers: omSet(g.peers, next, { ...st, inflight: st.inflight + 1 }) };
    const list = retries.get(next) ?? [];
    list.push(fromHex(hash));
    retries.set(next, list);
  }
  for (const [p, hashes] of retries) {
    for (let i = 0; i < hashes.length; i += MAX_GOSSIP_HASHES) {
      send(g, sends, p, { tag: 'request', value: { hashes: hashes.slice(i, i + MAX_GOSSIP_HASHES) } });
    }
  }
  return g;
}

function send(g: GossipState, sends: NetOut[], to: string, message: MempoolMessage): void {
  sends.push({ to, bytes: encode(MempoolNetMessage, { instance: g.instance, message }) });
}

const NEW_PEER: PeerState = Object.freeze({
  known: emptyOrdered<true>(),
  inflight: 0,
  served: 0,
  windowStart: Number.NEGATIVE_INFINITY,
});

/** The state with `id` tracked (a new peer may push out the oldest untracked-worthy one). */
function ensurePeer(g: GossipState, id: string): GossipState {
  if (omHas(g.peers, id)) return g;
  let peers = omSet(g.peers, id, NEW_PEER);
  if (omSize(peers) > g.config.maxPeers) {
    // forget the oldest peer that is not configured and has nothing in flight
    for (const [other, st] of omEntries(peers)) {
      if (other !== id && !g.config.peers.includes(other) && st.inflight === 0) {
        peers = omDelete(peers, other);
        break;
      }
    }
  }
  return { ...g, peers };
}

function markKnown(g0: GossipState, peer: string, hash: string): GossipState {
  const g = ensurePeer(g0, peer);
  const st = omGet(g.peers, peer)!;
  const known = touch(st.known, hash, true, g.config.maxKnownPerPeer);
  if (known === st.known) return g;
  return { ...g, peers: omSet(g.peers, peer, { ...st, known }) };
}

function release(g: GossipState, peer: string): GossipState {
  const p = omGet(g.peers, peer);
  if (p === undefined || p.inflight === 0) return g;
  return { ...g, peers: omSet(g.peers, peer, { ...p, inflight: p.inflight - 1 }) };
}
