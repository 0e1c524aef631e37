/**
 * The intent gossip engine's pure core: a gossipsub v1.1 overlay (a mesh per topic, heartbeat,
 * lazy IHAVE / IWANT, a seen-cache, per-peer scores) with filter negotiation (seed 000) and a
 * bounded intent pool, as one immutable value (`GossipState`). Each function takes a state and
 * one input and returns the next state with its effects (sends, local deliveries, departures,
 * replies, penalties, disconnections) as values; none changes what it was given, reads a clock
 * (time arrives as `now`) or draws randomness except from the state's `prng`. Signing and
 * verification come through the `GossipEnv`. The machine (machine.ts) names which applies when.
 *
 * Who pays for what: a peer is penalised only for what is its own fault (bytes that do not
 * decode, another overlay, a forged or overlong route, an intent outside the filter this node
 * told it); an intent that is dead only by what this node knows (expired at its height, an
 * input note spent, `stillValid` says no, the pool is full) is dropped without penalty.
 */
import type { Deadlines } from '../../runtime/deadlines.ts';
import { nextU32, type PrngState } from '../../runtime/random.ts';
import { toHex } from '../../wire/commit.ts';
import { encode, tryDecode } from '../../wire/schema.ts';
import type { Signer, Verifier } from '../../wire/sign.ts';
import { matches, wantsTopic } from './filter.ts';
import {
  type Filter,
  GOSSIP_LIMITS,
  type GossipMessage,
  GossipNetMessage,
  type Intent,
  type IntentBody,
  intentId,
  MAX_IDS,
  MAX_INTENTS_PER_MESSAGE,
} from './messages.ts';
import type {
  DeliveredIntent,
  DisconnectPeer,
  IntentReply,
  IntentsGone,
  NetOut,
  PeerPenalty,
  SubmitIntent,
} from './ports.ts';
import { appendHop, checkRoute, onRoute } from './route.ts';

// --- configuration ---------------------------------------------------------------------------------

export interface ScoreParams {
  /** per message that was the peer's fault (undecodable, forged route, ...) */
  readonly invalidWeight: number;
  /** per intent sent outside the filter this node told the peer */
  readonly violationWeight: number;
  /** per intent the peer delivered first, up to `firstDeliveryCap` of them */
  readonly firstDeliveryWeight: number;
  readonly firstDeliveryCap: number;
  /** every counter is multiplied by this at each heartbeat */
  readonly decay: number;
  /** below this, no lazy gossip to or from the peer */
  readonly gossipThreshold: number;
  /** below this, the peer is disconnected and banned */
  readonly graylistThreshold: number;
}

export interface GossipParams {
  /** mesh degree and its bounds (gossipsub D, D_lo, D_hi) */
  readonly D: number;
  readonly Dlo: number;
  readonly Dhi: number;
  /** least number of non-mesh peers told of recent ids per heartbeat, and the share of them */
  readonly Dlazy: number;
  readonly gossipFactor: number;
  /** ms */
  readonly heartbeat: number;
  /** heartbeats of recent ids kept, and how many of them are gossiped */
  readonly mcacheWindows: number;
  readonly gossipWindows: number;
  /** how long an id stays in the seen-cache, ms */
  readonly seenTtl: number;
  /** ms a pruned peer waits before it grafts the topic again */
  readonly pruneBackoff: number;
  /** every so often each peer is told the filter again and offered the live intents it lacks, ms */
  readonly rebroadcastInterval: number;
  /** how long an intent matching this node's previous filter is not held against the sender, ms */
  readonly filterGrace: number;
  /** how long an IWANT may stay unanswered before the id may be asked of another peer, ms */
  readonly iwantTimeout: number;
  readonly maxIntents: number;
  readonly maxPoolBytes: number;
  readonly maxPayloadBytes: number;
  /** an intent whose expiry is further than this many heights ahead is refused */
  readonly maxExpiryHorizon: bigint;
  /** an intent whose `expiresAt` is further than this many ms ahead of this node's clock is refused */
  readonly maxExpiryTimeHorizon: number;
  readonly maxPeers: number;
  /** ids in one IHAVE sent, and ids asked by IWANT in flight at once */
  readonly maxIHaveLength: number;
  readonly maxWanted: number;
  /** spent note ids remembered (an intent arriving late with one is dropped) */
  readonly spentMemory: number;
  /** how long a disconnected peer stays refused, ms */
  readonly banFor: number;
  readonly score: ScoreParams;
}

export const DEFAULT_PARAMS: GossipParams = Object.freeze({
  D: 6,
  Dlo: 4,
  Dhi: 12,
  Dlazy: 6,
  gossipFactor: 0.25,
  heartbeat: 1_000,
  mcacheWindows: 5,
  gossipWindows: 3,
  seenTtl: 120_000,
  pruneBackoff: 60_000,
  rebroadcastInterval: 10_000,
  filterGrace: 10_000,
  iwantTimeout: 3_000,
  maxIntents: 10_000,
  maxPoolBytes: 64 * 1024 * 1024,
  maxPayloadBytes: 64 * 1024,
  maxExpiryHorizon: 100_000n,
  maxExpiryTimeHorizon: 7 * 24 * 3_600_000,
  maxPeers: 256,
  maxIHaveLength: MAX_IDS,
  maxWanted: 4_096,
  spentMemory: 65_536,
  banFor: 300_000,
  score: Object.freeze({
    invalidWeight: -10,
    violationWeight: -5,
    firstDeliveryWeight: 0.5,
    firstDeliveryCap: 20,
    decay: 0.9,
    gossipThreshold: -10,
    graylistThreshold: -50,
  }),
});

export interface GossipConfig {
  /** the overlay's name, in the clear on every message (traffic of another overlay is refused) */
  readonly overlay: string;
  /** what this node wants (a relay wants every topic it serves; a solver the pairs it solves) */
  readonly filter: Filter;
  readonly params?: Partial<Omit<GossipParams, 'score'>> & { readonly score?: Partial<ScoreParams> };
}

/** What the host hands the core: the node's key and the network's verifier, and the app's check. */
export interface GossipEnv {
  /** signs this node's hops; without it the node receives but forwards nothing */
  readonly signer: Signer | undefined;
  readonly verify: Verifier;
  /**
   * Whether an intent is still valid against this node's own state (an app's check, e.g. its
   * owner's balance). An intent it refuses is dropped without penalising whoever sent it.
   */
  readonly stillValid?: (body: IntentBody) => boolean;
}

// --- state -------------------------------------------------------------------------------------------

type Rec<V> = Readonly<Record<string, V>>;

export interface PeerState {
  /** the key its hops are signed with and what it wants, from its FILTER (null before) */
  readonly key: Uint8Array | null;
  readonly filter: Filter | null;
  /** decaying counters behind its score */
  readonly invalid: number;
  readonly violations: number;
  readonly firstDeliveries: number;
  /** topic -> until when it may not graft it */
  readonly backoff: Rec<number>;
}

export interface Pooled {
  readonly id: Uint8Array;
  readonly intent: Intent;
  /** payload bytes (what the pool's byte bound counts) */
  readonly size: number;
  /** submitted here */
  readonly local: boolean;
  /** a directed local intent: the only peers it goes to */
  readonly directed: readonly string[] | null;
  /** peers known to have it: they sent it or offered it to this node */
  readonly known: readonly string[];
  /**
   * peers this node sent it to: not pushed again, but offered (IHAVE) at each rebroadcast until
   * known, since a lost message tells the sender nothing
   */
  readonly sent: readonly string[];
}

export interface GossipState {
  readonly overlay: string;
  readonly params: GossipParams;
  readonly filter: Filter;
  /** the filter before the last change, honoured until `until` */
  readonly previous: { readonly filter: Filter; readonly until: number } | null;
  readonly peers: Rec<PeerState>;
  /** topic -> mesh peers (topics this node wants) */
  readonly mesh: Rec<readonly string[]>;
  readonly pool: Rec<Pooled>;
  readonly poolCount: number;
  readonly poolBytes: number;
  /** seen ids in windows of seenTtl / SEEN_WINDOWS ms, newest first */
  readonly seen: readonly Rec<true>[];
  readonly seenRotateAt: number;
  /** ids pooled per heartbeat, newest first (what lazy gossip offers) */
  readonly mcache: readonly (readonly string[])[];
  /** id -> the IWANT in flight for it */
  readonly wanted: Rec<{ readonly peer: string; readonly at: number }>;
  /** spent note ids in two generations (the older dropped when the newer fills) */
  readonly spent: readonly [Rec<true>, Rec<true>];
  readonly height: bigint;
  /** peer -> refused until */
  readonly banned: Rec<number>;
  readonly prng: PrngState;
  readonly heartbeatAt: number;
  readonly rebroadcastAt: number;
}

/** What a step asks the engine to emit, by output port. */
export interface Effects {
  readonly sends: readonly NetOut[];
  readonly delivered: readonly DeliveredIntent[];
  readonly gone: readonly IntentsGone[];
  readonly replies: readonly IntentReply[];
  readonly penalties: readonly PeerPenalty[];
  readonly disconnects: readonly DisconnectPeer[];
}

export const NO_EFFECTS: Effects = Object.freeze({
  sends: Object.freeze([]),
  delivered: Object.freeze([]),
  gone: Object.freeze([]),
  replies: Object.freeze([]),
  penalties: Object.freeze([]),
  disconnects: Object.freeze([]),
});

/** `a` followed by `b` (the same object when `b` adds nothing). */
export function joinEffects(a: Effects, b: Partial<Effects>): Effects {
  let changed = false;
  const cat = <T>(x: readonly T[], y: readonly T[] | undefined): readonly T[] => {
    if (y === undefined || y.length === 0) return x;
    changed = true;
    return x.length === 0 ? y : [...x, ...y];
  };
  const out: Effects = {
    sends: cat(a.sends, b.sends),
    delivered: cat(a.delivered, b.delivered),
    gone: cat(a.gone, b.gone),
    replies: cat(a.replies, b.replies),
    penalties: cat(a.penalties, b.penalties),
    disconnects: cat(a.disconnects, b.disconnects),
  };
  return changed ? out : a;
}

/** A step's result: the next state and what it emits. */
export interface Step {
  readonly state: GossipState;
  readonly effects: Partial<Effects>;
}

const SEEN_WINDOWS = 12;

export function resolveParams(config: GossipConfig): GossipParams {
  const p: GossipParams = {
    ...DEFAULT_PARAMS,
    ...config.params,
    score: { ...DEFAULT_PARAMS.score, ...config.params?.score },
  };
  if (!(p.Dlo <= p.D && p.D <= p.Dhi && p.Dlo >= 1))
    throw new RangeError('gossip: need 1 <= Dlo <= D <= Dhi');
  if (!(p.gossipWindows <= p.mcacheWindows && p.gossipWindows >= 1))
    throw new RangeError('gossip: need 1 <= gossipWindows <= mcacheWindows');
  if (p.maxIHaveLength > MAX_IDS) throw new RangeError(`gossip: maxIHaveLength above ${MAX_IDS}`);
  if (p.heartbeat <= 0) throw new RangeError('gossip: heartbeat must be positive');
  return p;
}

export function initialState(config: GossipConfig, prng: PrngState, now: number): GossipState {
  const params = resolveParams(config);
  return {
    overlay: config.overlay,
    params,
    filter: config.filter,
    previous: null,
    peers: {},
    mesh: {},
    pool: {},
    poolCount: 0,
    poolBytes: 0,
    seen: Array.from({ length: SEEN_WINDOWS }, () => ({})),
    seenRotateAt: now + params.seenTtl / SEEN_WINDOWS,
    mcache: Array.from({ length: params.mcacheWindows }, () => []),
    wanted: {},
    spent: [{}, {}],
    height: 0n,
    banned: {},
    prng,
    heartbeatAt: now + params.heartbeat,
    rebroadcastAt: now + params.rebroadcastInterval,
  };
}

// --- small pure helpers ---------------------------------------------------------------------------------

/** A uniformly shuffled copy of `items` and the generator after it. */
export function shuffled<T>(prng: PrngState, items: readonly T[]): [T[], PrngState] {
  const out = [...items];
  let st = prng;
  for (let i = out.length - 1; i > 0; i--) {
    const [v, next] = nextU32(st);
    st = next;
    const j = v % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return [out, st];
}

export function peerScore(p: PeerState, score: ScoreParams): number {
  return (
    score.invalidWeight * p.invalid +
    score.violationWeight * p.violations +
    score.firstDeliveryWeight * Math.min(score.firstDeliveryCap, p.firstDeliveries)
  );
}

export const scoreOf = (s: GossipState, peer: string): number => {
  const p = s.peers[peer];
  return p === undefined ? 0 : peerScore(p, s.params.score);
};

const without = <V>(r: Rec<V>, key: string): Rec<V> => {
  if (!(key in r)) return r;
  const { [key]: _gone, ...rest } = r;
  return rest;
};

const frame = (s: GossipState, message: GossipMessage): Uint8Array =>
  encode(GossipNetMessage, { overlay: s.overlay, message });

const send = (s: GossipState, to: string, message: GossipMessage): NetOut => ({
  to,
  bytes: frame(s, message),
});

/** One IHAVE (or IWANT) per MAX_IDS ids. */
function idMessages(
  s: GossipState,
  to: string,
  tag: 'ihave' | 'iwant',
  ids: readonly Uint8Array[],
): NetOut[] {
  const out: NetOut[] = [];
  for (let i = 0; i < ids.length; i += MAX_IDS)
    out.push(send(s, to, { tag, value: { ids: ids.slice(i, i + MAX_IDS) } } as GossipMessage));
  return out;
}

export const isSeen = (s: GossipState, id: string): boolean => s.seen.some((w) => id in w);

function markSeen(s: GossipState, ids: readonly string[]): GossipState {
  if (ids.length === 0) return s;
  const head = { ...s.seen[0] };
  for (const id of ids) head[id] = true;
  return { ...s, seen: [head, ...s.seen.slice(1)] };
}

const isSpent = (s: GossipState, note: string): boolean => note in s.spent[0] || note in s.spent[1];

const spendsSpent = (s: GossipState, body: IntentBody): boolean =>
  body.inputs.some((n) => isSpent(s, toHex(n)));

/** Whether the peer wants this intent, by the filter it told this node. */
const peerWants = (p: PeerState, body: IntentBody): boolean => p.filter !== null && matches(p.filter, body);

/**
 * Whether a pooled intent may go to `peer` at all: pushed (not to a peer it was sent to already),
 * or, when `offering`, offered by id (also to a peer it was sent to: the send may have been lost).
 */
function mayGoTo(e: Pooled, peer: string, p: PeerState, offering = false): boolean {
  if (p.key === null || !peerWants(p, e.intent.body)) return false;
  if (e.directed !== null && !e.directed.includes(peer)) return false;
  if (e.intent.route.length >= e.intent.body.maxHops) return false;
  if (e.known.includes(peer)) return false;
  if (!offering && e.sent.includes(peer)) return false;
  return !onRoute(e.intent, p.key);
}

/** Sends pooled intents to one peer (signing a hop for it each) and marks them sent to it. */
function sendIntents(
  s: GossipState,
  pool: Record<string, Pooled>,
  peer: string,
  entries: readonly Pooled[],
  env: GossipEnv,
): NetOut[] {
  const p = s.peers[peer];
  const signer = env.signer;
  if (p?.key == null || signer === undefined || entries.length === 0) return [];
  const out: NetOut[] = [];
  let batch: Intent[] = [];
  for (const e of entries) {
    batch.push(appendHop(e.intent, e.id, signer, p.key));
    const key = toHex(e.id);
    const cur = pool[key] ?? e;
    if (!cur.sent.includes(peer)) pool[key] = { ...cur, sent: [...cur.sent, peer] };
    if (batch.length === MAX_INTENTS_PER_MESSAGE) {
      out.push(send(s, peer, { tag: 'intents', value: { intents: batch } }));
      batch = [];
    }
  }
  if (batch.length > 0) out.push(send(s, peer, { tag: 'intents', value: { intents: batch } }));
  return out;
}

// --- decoding ----------------------------------------------------------------------------------------------

export type PeerMessage =
  | { readonly ok: true; readonly message: GossipMessage }
  | { readonly ok: false; readonly reason: 'undecodable' | 'wrong-overlay' };

/** A peer's bytes, read: the message, or why it is the peer's fault (never a throw). */
export function decodePeerMessage(s: GossipState, bytes: Uint8Array): PeerMessage {
  const r = tryDecode(GossipNetMessage, bytes, GOSSIP_LIMITS);
  if (!r.ok) return { ok: false, reason: 'undecodable' };
  if (r.value.overlay !== s.overlay) return { ok: false, reason: 'wrong-overlay' };
  return { ok: true, message: r.value.message };
}

// --- peers --------------------------------------------------------------------------------------------------

const NEW_PEER: PeerState = Object.freeze({
  key: null,
  filter: null,
  invalid: 0,
  violations: 0,
  firstDeliveries: 0,
  backoff: Object.freeze({}),
});

export const isBanned = (s: GossipState, peer: string, now: number): boolean => (s.banned[peer] ?? -1) > now;
export const isTracked = (s: GossipState, peer: string): boolean => peer in s.peers;
export const hasRoomForPeer = (s: GossipState): boolean => Object.keys(s.peers).length < s.params.maxPeers;

const ownFilterMessage = (s: GossipState, env: GossipEnv): GossipMessage => ({
  tag: 'filter',
  value: { node: env.signer?.publicKey ?? new Uint8Array(32), filter: s.filter },
});

/** A link came up (or a peer spoke first): track it and tell it this node's filter. */
export function greetPeer(s: GossipState, peer: string, env: GossipEnv): Step {
  if (isTracked(s, peer)) return { state: s, effects: { sends: [send(s, peer, ownFilterMessage(s, env))] } };
  return {
    state: { ...s, peers: { ...s.peers, [peer]: NEW_PEER } },
    effects: { sends: [send(s, peer, ownFilterMessage(s, env))] },
  };
}

/** A link went down: the peer leaves every mesh and in-flight request. */
export function forgetPeer(s: GossipState, peer: string): GossipState {
  if (!isTracked(s, peer)) return s;
  const mesh: Record<string, readonly string[]> = {};
  for (const [t, ps] of Object.entries(s.mesh)) mesh[t] = ps.filter((p) => p !== peer);
  const wanted: Record<string, GossipState['wanted'][string]> = {};
  for (const [id, w] of Object.entries(s.wanted)) if (w.peer !== peer) wanted[id] = w;
  return { ...s, peers: without(s.peers, peer), mesh, wanted };
}

/** The peer sank below the graylist threshold. */
export const belowGraylist = (s: GossipState, peer: string): boolean =>
  isTracked(s, peer) && scoreOf(s, peer) < s.params.score.graylistThreshold;

/** Cuts a peer off: asks the transport to close, refuses it for `banFor`, forgets it. */
export function disconnectPeer(s: GossipState, peer: string, reason: string, now: number): Step {
  const banned = { ...s.banned, [peer]: now + s.params.banFor };
  return { state: { ...forgetPeer(s, peer), banned }, effects: { disconnects: [{ peer, reason }] } };
}

/** A penalty for what is the peer's fault; its score drops. */
export function penalise(s: GossipState, peer: string, reason: string): Step {
  const p = s.peers[peer] ?? NEW_PEER;
  return {
    state: { ...s, peers: { ...s.peers, [peer]: { ...p, invalid: p.invalid + 1 } } },
    effects: { penalties: [{ peer, reason }] },
  };
}

/**
 * A peer's FILTER: its key and what it wants. On the first (or a changed) one, offer it what it
 * lacks. The first one is answered with this node's own: the greeting this node sent may have been
 * lost (on a live transport, two peers dialling each other at once lose the frames sent on the
 * connection that turns out the duplicate), and without it the peer sends nothing until the next
 * rebroadcast. Only a first FILTER is answered, so two peers exchange at most two more.
 */
export function learnFilter(
  s: GossipState,
  peer: string,
  node: Uint8Array,
  filter: Filter,
  env: GossipEnv,
): Step {
  const p = s.peers[peer] ?? NEW_PEER;
  const first = p.key === null;
  const next: PeerState = { ...p, key: node, filter };
  let state: GossipState = { ...s, peers: { ...s.peers, [peer]: next } };
  // mesh peers of topics it no longer wants leave those meshes (it will not take them)
  const mesh: Record<string, readonly string[]> = {};
  for (const [t, ps] of Object.entries(state.mesh))
    mesh[t] = wantsTopic(filter, t) ? ps : ps.filter((x) => x !== peer);
  state = { ...state, mesh };
  const offer = Object.values(state.pool)
    .filter((e) => mayGoTo(e, peer, next, true))
    .map((e) => e.id);
  const answer = first ? [send(state, peer, ownFilterMessage(state, env))] : [];
  return {
    state,
    effects: {
      sends: [...answer, ...idMessages(state, peer, 'ihave', offer.slice(0, s.params.maxIHaveLength))],
    },
  };
}

/** This node's filter changed: tell every peer, leave the meshes of topics it no longer wants. */
export function adoptFilter(s: GossipState, filter: Filter, now: number, env: GossipEnv): Step {
  const dropped = Object.keys(s.mesh).filter((t) => !wantsTopic(filter, t));
  const state: GossipState = {
    ...s,
    filter,
    previous: { filter: s.filter, until: now + s.params.filterGrace },
    mesh: Object.fromEntries(Object.entries(s.mesh).filter(([t]) => wantsTopic(filter, t))),
  };
  const sends: NetOut[] = [];
  for (const peer of Object.keys(s.peers)) {
    sends.push(send(state, peer, ownFilterMessage(state, env)));
    const topics = dropped.filter((t) => s.mesh[t]!.includes(peer));
    if (topics.length > 0)
      sends.push(send(state, peer, { tag: 'prune', value: { topics, backoff: s.params.pruneBackoff } }));
  }
  return { state, effects: { sends } };
}

// --- mesh control ------------------------------------------------------------------------------------------

/** GRAFT: the peer joins this node's mesh of each topic this node wants and the peer may graft. */
export function onGraft(s: GossipState, peer: string, topics: readonly string[], now: number): Step {
  const p = s.peers[peer];
  if (p === undefined) return { state: s, effects: {} };
  const mesh = { ...s.mesh };
  const refused: string[] = [];
  for (const t of topics) {
    const ok =
      wantsTopic(s.filter, t) &&
      p.filter !== null &&
      wantsTopic(p.filter, t) &&
      (p.backoff[t] ?? -1) <= now &&
      peerScore(p, s.params.score) >= 0;
    const cur = mesh[t] ?? [];
    if (ok) {
      if (!cur.includes(peer)) mesh[t] = [...cur, peer];
    } else if (wantsTopic(s.filter, t) || cur.includes(peer)) refused.push(t);
  }
  const sends =
    refused.length === 0
      ? []
      : [send(s, peer, { tag: 'prune', value: { topics: refused, backoff: s.params.pruneBackoff } })];
  return { state: { ...s, mesh }, effects: { sends } };
}

/** PRUNE: the peer leaves those meshes and may not be grafted again before its backoff ends. */
export function onPrune(
  s: GossipState,
  peer: string,
  topics: readonly string[],
  backoff: number,
  now: number,
): GossipState {
  const p = s.peers[peer];
  if (p === undefined) return s;
  const mesh = { ...s.mesh };
  const until = now + Math.min(backoff, s.params.pruneBackoff * 2);
  const b: Record<string, number> = { ...p.backoff };
  for (const t of topics) {
    if (mesh[t] !== undefined) mesh[t] = mesh[t]!.filter((x) => x !== peer);
    b[t] = until;
  }
  return { ...s, mesh, peers: { ...s.peers, [peer]: { ...p, backoff: b } } };
}

// --- lazy gossip -------------------------------------------------------------------------------------------

/** IHAVE: ask (IWANT) for the ids not pooled, not seen and not already asked for. */
export function onIHave(s: GossipState, peer: string, ids: readonly Uint8Array[], now: number): Step {
  const p = s.peers[peer];
  if (p === undefined || peerScore(p, s.params.score) < s.params.score.gossipThreshold)
    return { state: s, effects: {} };
  const pool = { ...s.pool };
  const wanted = { ...s.wanted };
  let inflight = Object.keys(wanted).length;
  const ask: Uint8Array[] = [];
  for (const id of ids) {
    const key = toHex(id);
    const e = pool[key];
    if (e !== undefined) {
      if (!e.known.includes(peer)) pool[key] = { ...e, known: [...e.known, peer] };
      continue;
    }
    if (isSeen(s, key) || wanted[key] !== undefined || inflight >= s.params.maxWanted) continue;
    wanted[key] = { peer, at: now };
    inflight++;
    ask.push(id);
  }
  return {
    state: { ...s, pool, wanted },
    effects: { sends: ask.length === 0 ? [] : idMessages(s, peer, 'iwant', ask) },
  };
}

/** IWANT: send the asked intents this node holds and may send that peer. */
export function onIWant(s: GossipState, peer: string, ids: readonly Uint8Array[], env: GossipEnv): Step {
  const p = s.peers[peer];
  if (p === undefined || peerScore(p, s.params.score) < s.params.score.gossipThreshold)
    return { state: s, effects: {} };
  const entries: Pooled[] = [];
  const picked = new Set<string>();
  for (const id of ids) {
    const key = toHex(id);
    const e = s.pool[key];
    if (e === undefined || picked.has(key) || !mayGoTo({ ...e, known: [], sent: [] }, peer, p)) continue;
    picked.add(key);
    entries.push(e);
  }
  const pool = { ...s.pool };
  const sends = sendIntents(s, pool, peer, entries, env);
  return { state: { ...s, pool }, effects: { sends } };
}

// --- the pool -----------------------------------------------------------------------------------------------

/** Eviction order: lower fee first, then sooner expiry, then id (a total order, so runs agree). */
function lessWorth(a: Pooled, b: Pooled): boolean {
  const fa = a.intent.body.fee ?? 0n;
  const fb = b.intent.body.fee ?? 0n;
  if (fa !== fb) return fa < fb;
  if (a.intent.body.expiry !== b.intent.body.expiry) return a.intent.body.expiry < b.intent.body.expiry;
  return toHex(a.id) < toHex(b.id);
}

/** The pooled intents to evict to make room for `e`, or null when `e` is not worth more than them. */
function evictionsFor(s: GossipState, e: Pooled): Pooled[] | null {
  let count = s.poolCount + 1;
  let bytes = s.poolBytes + e.size;
  if (count <= s.params.maxIntents && bytes <= s.params.maxPoolBytes) return [];
  const candidates = Object.values(s.pool)
    .filter((x) => !x.local)
    .sort((a, b) => (lessWorth(a, b) ? -1 : lessWorth(b, a) ? 1 : 0));
  const out: Pooled[] = [];
  for (const victim of candidates) {
    if (count <= s.params.maxIntents && bytes <= s.params.maxPoolBytes) break;
    if (!e.local && !lessWorth(victim, e)) return null;
    out.push(victim);
    count--;
    bytes -= victim.size;
  }
  return count <= s.params.maxIntents && bytes <= s.params.maxPoolBytes ? out : null;
}

/** Why an intent cannot be pooled by what this node knows (never the sender's fault). */
export type DeadReason = 'expired' | 'expiry-too-far' | 'spent' | 'no-longer-valid' | 'oversize';

/** Whether an intent's time limit has passed at `now` (this node's clock). */
const expiredAt = (body: IntentBody, now: number): boolean =>
  body.expiresAt !== null && body.expiresAt <= BigInt(Math.floor(now));

function deadReason(s: GossipState, body: IntentBody, now: number, env: GossipEnv): DeadReason | null {
  if (body.payload.length > s.params.maxPayloadBytes) return 'oversize';
  if (body.expiry <= s.height || expiredAt(body, now)) return 'expired';
  if (body.expiry > s.height + s.params.maxExpiryHorizon) return 'expiry-too-far';
  if (body.expiresAt !== null && body.expiresAt > BigInt(Math.floor(now + s.params.maxExpiryTimeHorizon)))
    return 'expiry-too-far';
  if (spendsSpent(s, body)) return 'spent';
  if (env.stillValid !== undefined && !env.stillValid(body)) return 'no-longer-valid';
  return null;
}

/** Pools `e` (evicting `victims`), records it seen and in this heartbeat's window. */
function pooled(
  s: GossipState,
  e: Pooled,
  victims: readonly Pooled[],
): { state: GossipState; gone: IntentsGone[] } {
  const key = toHex(e.id);
  let pool: Rec<Pooled> = { ...s.pool, [key]: e };
  let count = s.poolCount + 1;
  let bytes = s.poolBytes + e.size;
  for (const v of victims) {
    pool = without(pool, toHex(v.id));
    count--;
    bytes -= v.size;
  }
  const state = markSeen(
    {
      ...s,
      pool,
      poolCount: count,
      poolBytes: bytes,
      wanted: without(s.wanted, key),
      mcache: [[...s.mcache[0]!, key], ...s.mcache.slice(1)],
    },
    [key],
  );
  return { state, gone: victims.length === 0 ? [] : [{ ids: victims.map((v) => v.id), reason: 'evicted' }] };
}

/** Peers to push a new intent to right away: for a relayed one, the topic's mesh that wants it. */
/**
 * Peers to push a new intent to at once: a directed one to its chosen peers; this node's own to
 * every peer that wants it (gossipsub v1.1's flood publish); a relayed one to the topic's mesh.
 */
function pushTargets(s: GossipState, e: Pooled): string[] {
  const eligible = (peer: string) => {
    const p = s.peers[peer];
    return p !== undefined && mayGoTo(e, peer, p);
  };
  if (e.directed !== null) return e.directed.filter(eligible);
  if (e.local) return Object.keys(s.peers).filter((p) => eligible(p) && scoreOf(s, p) >= 0);
  return (s.mesh[e.intent.body.topic] ?? []).filter(eligible);
}

function pushIntent(s: GossipState, e: Pooled, env: GossipEnv): Step {
  const pool = { ...s.pool };
  const sends = pushTargets(s, e).flatMap((peer) =>
    sendIntents(s, pool, peer, [pool[toHex(e.id)] ?? e], env),
  );
  return { state: { ...s, pool }, effects: { sends } };
}

const deliveredOf = (e: Pooled): DeliveredIntent => ({
  id: e.id,
  body: e.intent.body,
  route: e.intent.route,
});

// --- a client's intent -----------------------------------------------------------------------------------------

export type Submission =
  | { readonly ok: true; readonly entry: Pooled; readonly victims: readonly Pooled[] }
  | { readonly ok: false; readonly id: Uint8Array; readonly reason: string };

/** Every check on a local intent (nothing changes yet). */
export function checkSubmission(s: GossipState, msg: SubmitIntent, now: number, env: GossipEnv): Submission {
  const body = msg.body;
  const id = intentId(body);
  const key = toHex(id);
  if (body.maxHops < 1) return { ok: false, id, reason: 'no-hops' };
  if (s.pool[key] !== undefined || isSeen(s, key)) return { ok: false, id, reason: 'duplicate' };
  const dead = deadReason(s, body, now, env);
  if (dead !== null) return { ok: false, id, reason: dead };
  if (msg.to.some((p) => !isTracked(s, p))) return { ok: false, id, reason: 'unknown-peer' };
  const entry: Pooled = {
    id,
    intent: { body, route: [] },
    size: body.payload.length,
    local: true,
    directed: msg.to.length === 0 ? null : [...msg.to],
    known: [],
    sent: [],
  };
  const victims = evictionsFor(s, entry);
  if (victims === null) return { ok: false, id, reason: 'pool-full' };
  return { ok: true, entry, victims };
}

/** Pools a local intent that passed every check, pushes it, delivers it here if wanted, replies. */
export function publish(
  s: GossipState,
  requestId: string,
  check: Extract<Submission, { ok: true }>,
  env: GossipEnv,
): Step {
  const { state, gone } = pooled(s, check.entry, check.victims);
  const pushed = pushIntent(state, check.entry, env);
  const mine = matches(s.filter, check.entry.intent.body);
  return {
    state: pushed.state,
    effects: {
      sends: pushed.effects.sends,
      gone,
      delivered: mine ? [deliveredOf(check.entry)] : [],
      replies: [{ id: requestId, ok: true, intent: check.entry.id, reason: null }],
    },
  };
}

export const refusal = (requestId: string, r: Extract<Submission, { ok: false }>): IntentReply => ({
  id: requestId,
  ok: false,
  intent: r.id,
  reason: r.reason,
});

// --- intents from a peer ---------------------------------------------------------------------------------------

/** Whether this node promised the peer (now, or within the grace after a change) to want this body. */
function promised(s: GossipState, body: IntentBody, now: number): boolean {
  if (matches(s.filter, body)) return true;
  return s.previous !== null && now < s.previous.until && matches(s.previous.filter, body);
}

/**
 * Intents from a peer: each is checked (route, hops, the filter this node told it, then what this
 * node knows), pooled, delivered here and pushed on to the topic's mesh. Faults cost the peer
 * score; dead intents are dropped quietly.
 */
export function admitIntents(
  s0: GossipState,
  peer: string,
  intents: readonly Intent[],
  now: number,
  env: GossipEnv,
): Step {
  let s = s0;
  const sends: NetOut[] = [];
  const delivered: DeliveredIntent[] = [];
  const gone: IntentsGone[] = [];
  const penalties: PeerPenalty[] = [];
  const deadIds: string[] = [];
  let invalid = 0;
  let violations = 0;
  let first = 0;
  const self = env.signer?.publicKey;
  const p = s.peers[peer];
  if (p?.key == null || self === undefined) return { state: s, effects: {} };
  for (const intent of intents) {
    const id = intentId(intent.body);
    const key = toHex(id);
    const held = s.pool[key];
    if (held !== undefined) {
      if (!held.known.includes(peer))
        s = { ...s, pool: { ...s.pool, [key]: { ...held, known: [...held.known, peer] } } };
      continue;
    }
    if (isSeen(s, key) || onRoute(intent, self)) continue;
    const route = checkRoute(intent, id, p.key, self, env.verify);
    if (!route.ok) {
      invalid++;
      penalties.push({ peer, reason: route.reason });
      continue;
    }
    if (intent.route.length > intent.body.maxHops) {
      invalid++;
      penalties.push({ peer, reason: 'too-many-hops' });
      continue;
    }
    if (!promised(s, intent.body, now)) {
      violations++;
      penalties.push({ peer, reason: 'outside-filter' });
      continue;
    }
    if (deadReason(s, intent.body, now, env) !== null) {
      deadIds.push(key);
      continue;
    }
    const entry: Pooled = {
      id,
      intent,
      size: intent.body.payload.length,
      local: false,
      directed: null,
      known: [peer],
      sent: [],
    };
    const victims = evictionsFor(s, entry);
    if (victims === null) {
      deadIds.push(key);
      continue;
    }
    const added = pooled(s, entry, victims);
    gone.push(...added.gone);
    first++;
    delivered.push(deliveredOf(entry));
    const pushed = pushIntent(added.state, entry, env);
    s = pushed.state;
    sends.push(...(pushed.effects.sends ?? []));
  }
  s = markSeen(s, deadIds);
  const cur = s.peers[peer];
  if (cur !== undefined && (invalid > 0 || violations > 0 || first > 0)) {
    s = {
      ...s,
      peers: {
        ...s.peers,
        [peer]: {
          ...cur,
          invalid: cur.invalid + invalid,
          violations: cur.violations + violations,
          firstDeliveries: cur.firstDeliveries + first,
        },
      },
    };
  }
  return { state: s, effects: { sends, delivered, gone, penalties } };
}

// --- the chain: height and spent notes -------------------------------------------------------------------------

/** The chain reached `height` and spent `notes`: remember them; expired and spending intents leave. */
export function onChain(s: GossipState, height: bigint, notes: readonly Uint8Array[]): Step {
  let spent = s.spent;
  if (notes.length > 0) {
    const head: Record<string, true> = { ...spent[0] };
    for (const n of notes) head[toHex(n)] = true;
    spent = Object.keys(head).length > s.params.spentMemory / 2 ? [{}, head] : [head, spent[1]];
  }
  const state: GossipState = { ...s, height: height > s.height ? height : s.height, spent };
  const expired: Uint8Array[] = [];
  const spending: Uint8Array[] = [];
  let pool: Rec<Pooled> = state.pool;
  let count = state.poolCount;
  let bytes = state.poolBytes;
  for (const [key, e] of Object.entries(state.pool)) {
    const body = e.intent.body;
    const why = body.expiry <= state.height ? expired : spendsSpent(state, body) ? spending : null;
    if (why === null) continue;
    why.push(e.id);
    pool = without(pool, key);
    count--;
    bytes -= e.size;
  }
  const gone: IntentsGone[] = [];
  if (expired.length > 0) gone.push({ ids: expired, reason: 'expired' });
  if (spending.length > 0) gone.push({ ids: spending, reason: 'spent' });
  return { state: { ...state, pool, poolCount: count, poolBytes: bytes }, effects: { gone } };
}

// --- the heartbeat --------------------------------------------------------------------------------------------

const decayed = (x: number, d: number): number => (x * d < 0.01 ? 0 : x * d);

/**
 * The heartbeat: scores decay; each wanted topic's mesh is kept between Dlo and Dhi (GRAFT to
 * reach D, PRUNE beyond it, peers with a negative score pruned); recent ids
 * are offered (IHAVE) to some non-mesh peers that want them; the caches slide.
 */
export function heartbeat(s0: GossipState, now: number): Step {
  const prm = s0.params;
  let prng = s0.prng;
  const peers: Record<string, PeerState> = {};
  for (const [id, p] of Object.entries(s0.peers)) {
    const backoff = Object.fromEntries(Object.entries(p.backoff).filter(([, until]) => until > now));
    peers[id] = {
      ...p,
      invalid: decayed(p.invalid, prm.score.decay),
      violations: decayed(p.violations, prm.score.decay),
      firstDeliveries: decayed(p.firstDeliveries, prm.score.decay),
      backoff,
    };
  }
  const score = (id: string) => peerScore(peers[id]!, prm.score);
  const grafts = new Map<string, string[]>();
  const prunes = new Map<string, string[]>();
  const add = (m: Map<string, string[]>, peer: string, topic: string) =>
    m.set(peer, [...(m.get(peer) ?? []), topic]);
  const mesh: Record<string, readonly string[]> = {};
  for (const topic of s0.filter.topics) {
    const wants = (id: string) => {
      const p = peers[id];
      return p !== undefined && p.key !== null && p.filter !== null && wantsTopic(p.filter, topic);
    };
    let members = (s0.mesh[topic] ?? []).filter(wants);
    for (const m of members.filter((x) => score(x) < 0)) add(prunes, m, topic);
    members = members.filter((x) => score(x) >= 0);
    if (members.length < prm.Dlo) {
      const candidates = Object.keys(peers).filter(
        (id) =>
          !members.includes(id) && wants(id) && score(id) >= 0 && (peers[id]!.backoff[topic] ?? -1) <= now,
      );
      const [mixed, next] = shuffled(prng, candidates);
      prng = next;
      const joining = mixed.slice(0, prm.D - members.length);
      for (const j of joining) add(grafts, j, topic);
      members = [...members, ...joining];
    }
    if (members.length > prm.Dhi) {
      const [mixed, next] = shuffled(prng, members);
      prng = next;
      const ranked = mixed
        .map((id, i) => ({ id, i, sc: score(id) }))
        .sort((a, b) => b.sc - a.sc || a.i - b.i);
      const keep = ranked.slice(0, prm.D).map((x) => x.id);
      for (const x of ranked.slice(prm.D)) {
        add(prunes, x.id, topic);
        peers[x.id] = {
          ...peers[x.id]!,
          backoff: { ...peers[x.id]!.backoff, [topic]: now + prm.pruneBackoff },
        };
      }
      members = keep;
    }
    mesh[topic] = members;
  }
  let s: GossipState = { ...s0, peers, mesh, prng };
  const sends: NetOut[] = [];
  for (const [peer, topics] of grafts) sends.push(send(s, peer, { tag: 'graft', value: { topics } }));
  for (const [peer, topics] of prunes)
    sends.push(send(s, peer, { tag: 'prune', value: { topics, backoff: prm.pruneBackoff } }));
  // lazy gossip of the recent windows' ids, by topic, to non-mesh peers that want them
  const recent = s.mcache
    .slice(0, prm.gossipWindows)
    .flat()
    .map((k) => s.pool[k])
    .filter((e): e is Pooled => e !== undefined);
  const byTopic = new Map<string, Pooled[]>();
  for (const e of recent) byTopic.set(e.intent.body.topic, [...(byTopic.get(e.intent.body.topic) ?? []), e]);
  const offers = new Map<string, Uint8Array[]>();
  for (const [topic, entries] of byTopic) {
    const inMesh = new Set(s.mesh[topic] ?? []);
    const eligible = Object.keys(peers).filter((id) => {
      const p = peers[id]!;
      return (
        !inMesh.has(id) &&
        p.filter !== null &&
        wantsTopic(p.filter, topic) &&
        score(id) >= prm.score.gossipThreshold
      );
    });
    const n = Math.max(prm.Dlazy, Math.ceil(prm.gossipFactor * eligible.length));
    const [mixed, next] = shuffled(prng, eligible);
    prng = next;
    for (const peer of mixed.slice(0, n)) {
      const ids = entries.filter((e) => mayGoTo(e, peer, peers[peer]!)).map((e) => e.id);
      if (ids.length > 0) offers.set(peer, [...(offers.get(peer) ?? []), ...ids]);
    }
  }
  for (const [peer, ids] of offers)
    sends.push(...idMessages(s, peer, 'ihave', ids.slice(0, prm.maxIHaveLength)));
  // intents past their time limit leave the pool
  const timedOut = Object.entries(s.pool).filter(([, e]) => expiredAt(e.intent.body, now));
  const gone: IntentsGone[] = [];
  if (timedOut.length > 0) {
    let pool: Rec<Pooled> = s.pool;
    let bytes = s.poolBytes;
    for (const [key, e] of timedOut) {
      pool = without(pool, key);
      bytes -= e.size;
    }
    s = { ...s, pool, poolCount: s.poolCount - timedOut.length, poolBytes: bytes };
    gone.push({ ids: timedOut.map(([, e]) => e.id), reason: 'expired' });
  }
  // slide the windows; forget IWANTs gone unanswered
  const rotateSeen = now >= s.seenRotateAt;
  s = {
    ...s,
    prng,
    mcache: [[], ...s.mcache.slice(0, prm.mcacheWindows - 1)],
    seen: rotateSeen ? [{}, ...s.seen.slice(0, SEEN_WINDOWS - 1)] : s.seen,
    seenRotateAt: rotateSeen ? now + prm.seenTtl / SEEN_WINDOWS : s.seenRotateAt,
    wanted: Object.fromEntries(Object.entries(s.wanted).filter(([, w]) => w.at + prm.iwantTimeout > now)),
    banned: Object.fromEntries(Object.entries(s.banned).filter(([, until]) => until > now)),
    previous: s.previous !== null && s.previous.until <= now ? null : s.previous,
    heartbeatAt: now + prm.heartbeat,
  };
  return { state: s, effects: { sends, gone } };
}

/** The rebroadcast interval is over. */
export const rebroadcastDue = (s: GossipState, now: number): boolean => now >= s.rebroadcastAt;

/**
 * Rebroadcast: every peer hears this node's filter again and is offered (IHAVE) every live intent
 * it wants and is not known to have, so intents reach peers that joined late or missed a push.
 */
export function rebroadcast(s: GossipState, now: number, env: GossipEnv): Step {
  const sends: NetOut[] = [];
  const live = Object.values(s.pool);
  for (const [peer, p] of Object.entries(s.peers)) {
    sends.push(send(s, peer, ownFilterMessage(s, env)));
    if (peerScore(p, s.params.score) < s.params.score.gossipThreshold) continue;
    const ids = live.filter((e) => mayGoTo(e, peer, p, true)).map((e) => e.id);
    if (ids.length > 0) sends.push(...idMessages(s, peer, 'ihave', ids.slice(0, s.params.maxIHaveLength)));
  }
  return { state: { ...s, rebroadcastAt: now + s.params.rebroadcastInterval }, effects: { sends } };
}

/** The timers this state wants armed. */
export const deadlinesOf = (s: GossipState): Deadlines => ({ heartbeat: s.heartbeatAt });
