/**
 * The peer session machine: one connection's life (or, for an address we keep dialled, one link's
 * run of connections), as an XState machine whose states are the protocol's phases:
 *
 *   idle -> dialing -> handshaking (hello -> auth -> admitting) -> open -> retiring | banned
 *   an inbound connection starts in handshaking; a dialled address that lost its connection goes
 *   through backoff (or waits out a ban, or stands by while the peer is connected through another
 *   connection) and dials again; `closed` is the end.
 *
 * It is pure: events bring the time and every fact from outside (a socket opened, bytes arrived,
 * the registry's answer to an admission), and its effects are values (send these bytes, close
 * the socket with a reason, arm a timer, report the session up or down, score an offence). The
 * decisions are the pure cores' (the handshake and the channel a transport brings, peer/limits.ts's
 * token buckets and backoff, the rank of duplicate connections); the machine says which applies
 * in which phase. peer/host.ts runs one per connection for the live transport (node/net) and for
 * the simulator's sessions (sim/sessions.ts), so the same session logic runs under both.
 *
 * Guards read a message through `reading` (rate limits, then the handshake or the channel); it is a
 * pure function of the connection and the event, computed once per event (a weak cache), so that a
 * handshake's crypto runs once however many guards ask.
 */
import { assign, setup } from 'xstate';
import { stateToString } from '../runtime/engine.ts';
import { pureMachine } from '../runtime/pure-machine.ts';
import { nextU32, type PrngState } from '../runtime/random.ts';
import { CONTROL_CHANNEL, decodeControl, encodeControl, type PeerAddress } from './control.ts';
import { type BackoffPolicy, type Bucket, backoffDelay, fullBucket, takeTokens } from './limits.ts';

/** Why a connection ended (or was refused). */
export type DisconnectReason =
  // handshake
  | 'wrong-instance'
  | 'wrong-version'
  | 'bad-signature'
  | 'wrong-identity'
  | 'handshake-timeout'
  | 'self'
  | 'banned'
  | 'duplicate'
  | 'too-many-peers'
  // misbehaviour
  | 'oversize-frame'
  | 'undecodable'
  | 'replay'
  | 'flood'
  | 'protocol'
  | 'penalised'
  // the rest
  | 'timeout'
  | 'closed-by-peer'
  | 'connection-lost'
  | 'shutdown'
  | 'internal-error';

/** Offences: the identity (if proven) loses score and is banned; before that, the host is struck. */
export const OFFENCES: ReadonlySet<DisconnectReason> = new Set([
  'oversize-frame',
  'undecodable',
  'replay',
  'flood',
  'protocol',
  'bad-signature',
]);

/** Why a handshake can fail. */
export type HandshakeFailure =
  | 'undecodable'
  | 'oversize-frame'
  | 'wrong-version'
  | 'wrong-instance'
  | 'protocol'
  | 'bad-signature';

// --- what a transport brings: its handshake and its channel, as values ---------------------------

/** An established channel: a value; sealing or opening a frame gives the next one (counters). */
export interface SessionChannel {
  seal(channel: number, payload: Uint8Array): { readonly next: SessionChannel; readonly wire: Uint8Array };
  open(wire: Uint8Array):
    | {
        readonly ok: true;
        readonly next: SessionChannel;
        readonly channel: number;
        readonly payload: Uint8Array;
      }
    | { readonly ok: false; readonly reason: 'undecodable' | 'replay'; readonly detail: string };
}

/** What a completed handshake proved. */
export interface ProvenPeer {
  /** the peer's identity: its public key in hex */
  readonly peerId: string;
  /** the listen address it advertised, as sent */
  readonly listen: string | null;
  /** the largest frame payload it accepts */
  readonly peerMaxFrameBytes: number;
  /** the transcript hash (hex), the same at both ends: it ranks duplicate connections */
  readonly transcript: string;
  readonly channel: SessionChannel;
}

/** What one handshake message did. With `proven`, `send` is the responder's answer: sent only on
 * admission, before anything else. */
export type HandshakeReply =
  | { readonly kind: 'continue'; readonly next: SessionHandshake; readonly send?: Uint8Array }
  | { readonly kind: 'proven'; readonly proven: ProvenPeer; readonly send?: Uint8Array }
  | { readonly kind: 'refused'; readonly reason: HandshakeFailure; readonly detail: string };

/** One side of a handshake in progress, as a value. */
export interface SessionHandshake {
  receive(msg: Uint8Array): HandshakeReply;
}

// --- the policy, events and effects ----------------------------------------------------------------

export interface PeerPolicy {
  /** from the dial (or the inbound connection) to an admitted peer */
  readonly handshakeTimeoutMs: number;
  /** a session silent for longer is dropped at the next ping */
  readonly idleTimeoutMs: number;
  /** the largest frame payload accepted */
  readonly maxFrameBytes: number;
  readonly framesPerSecond: number;
  readonly bytesPerSecond: number;
  /** the bytes bucket's capacity (at least one largest frame on the wire) */
  readonly bytesBurst: number;
  readonly backoff: BackoffPolicy;
  /** how long an offending address is not dialled */
  readonly banMs: number;
  /** a learned (peer-exchange) address is forgotten after this many failed dials in a row */
  readonly learnedMaxFailures: number;
}

/** The address an outbound link keeps dialled. */
export interface LinkTarget {
  readonly address: string;
  /** the identity the peer must prove there (hex), when pinned */
  readonly pinned?: string;
  /** configured (redialled forever) or learned by peer exchange (forgotten after failures) */
  readonly persistent: boolean;
}

export interface PeerInput {
  /** our identity (hex public key) */
  readonly self: string;
  readonly policy: PeerPolicy;
  /** an outbound link's address; absent for an inbound connection */
  readonly target?: LinkTarget;
  /** the backoff jitter's seed (an outbound link's) */
  readonly seed?: PrngState;
}

/** What the session registry knows about the proven identity, asked by `authenticated`. */
export type Existing =
  | { readonly kind: 'none' }
  /** a session whose connection the peer replaced; the replacement is awaited */
  | { readonly kind: 'orphan' }
  /** a session on another open connection, with that connection's rank */
  | { readonly kind: 'open'; readonly rank: string };

export type PeerMachineEvent =
  /** (re)dial the link's address now; `bannedUntil` is the identity's ban known at the address,
   * `room` whether a learned address may take a peer slot */
  | { readonly type: 'dial'; readonly now: number; readonly bannedUntil: number; readonly room: boolean }
  /** an inbound connection: start the handshake as the responder */
  | {
      readonly type: 'accept';
      readonly now: number;
      readonly handshake: SessionHandshake;
      readonly hello: Uint8Array;
    }
  /** the dialled socket connected: start the handshake as the initiator */
  | {
      readonly type: 'socket-opened';
      readonly now: number;
      readonly handshake: SessionHandshake;
      readonly hello: Uint8Array;
    }
  | { readonly type: 'message'; readonly now: number; readonly bytes: Uint8Array; readonly binary: boolean }
  /** the registry's facts about the identity just proven */
  | {
      readonly type: 'admission';
      readonly now: number;
      readonly banned: boolean;
      readonly existing: Existing;
      readonly room: boolean;
    }
  /** a frame to send on `channel` */
  | { readonly type: 'send'; readonly now: number; readonly channel: number; readonly payload: Uint8Array }
  | { readonly type: 'ping-due'; readonly now: number }
  /** the identity's score fell to the ban threshold: banned until `until` */
  | { readonly type: 'penalised'; readonly now: number; readonly reason: string; readonly until: number }
  /** a better connection to the same peer took the session */
  | { readonly type: 'replaced'; readonly now: number }
  /** the node needed this pending handshake's slot for another host */
  | { readonly type: 'evicted'; readonly now: number }
  /** this connection's hello is one of our own dials': we are talking to ourselves */
  | { readonly type: 'ourselves'; readonly now: number }
  /** the link's peer has (or lost) a session through another connection */
  | { readonly type: 'peer-up'; readonly now: number }
  | { readonly type: 'peer-down'; readonly now: number }
  /** the socket broke the protocol below the frames (oversize message, WebSocket protocol error) */
  | {
      readonly type: 'socket-error';
      readonly now: number;
      readonly reason: 'oversize-frame' | 'protocol';
      readonly detail: string;
    }
  /** the socket closed: `clean` with the peer's `peerReason`, or lost */
  | {
      readonly type: 'socket-closed';
      readonly now: number;
      readonly clean: boolean;
      readonly peerReason: string;
      readonly detail: string;
    }
  | { readonly type: 'handshake-timeout'; readonly now: number }
  | { readonly type: 'shutdown'; readonly now: number };

export type PeerMachineEventType = PeerMachineEvent['type'];

export type PeerTimer = 'handshake' | 'redial';

export type PeerEffect =
  /** open a socket to the link's address */
  | { readonly type: 'connect'; readonly address: string; readonly attempt: number }
  | { readonly type: 'send'; readonly bytes: Uint8Array }
  /** close the socket for `reason` (logged, counted, and published unless it is `shutdown`) */
  | {
      readonly type: 'close';
      readonly reason: DisconnectReason;
      readonly detail?: string;
      readonly peer?: string;
    }
  /** the socket was replaced by a better connection to the same peer: close it as `duplicate` */
  | { readonly type: 'retire'; readonly peer?: string }
  /** score an offence: the identity when proven, else the remote host */
  | { readonly type: 'offence'; readonly reason: DisconnectReason; readonly peer?: string }
  | { readonly type: 'arm'; readonly timer: PeerTimer; readonly at: number }
  /** `handshake`: the connection no longer counts as a pending handshake */
  | { readonly type: 'disarm'; readonly timer: PeerTimer }
  /** the peer proved `peerId`: answer with `admission` */
  | { readonly type: 'authenticated'; readonly peerId: string; readonly listen: string | null }
  /** the session is open on this connection (`replaces`: what the registry had for the identity) */
  | {
      readonly type: 'up';
      readonly peerId: string;
      readonly listen: string | null;
      readonly peerMaxFrameBytes: number;
      readonly replaces: Existing['kind'];
    }
  /** the session on this connection ended; `orphan`: the peer replaced it, a successor is due */
  | {
      readonly type: 'down';
      readonly reason: DisconnectReason;
      readonly detail?: string;
      readonly orphan: boolean;
    }
  | { readonly type: 'deliver'; readonly channel: number; readonly payload: Uint8Array }
  | { readonly type: 'peers'; readonly entries: readonly PeerAddress[] }
  | { readonly type: 'dropped'; readonly reason: 'oversize'; readonly limit: number }
  /** the link gives its address up: it is ourselves, or a learned address that failed */
  | { readonly type: 'forget'; readonly reason: 'self' | 'failed' };

// --- the context -----------------------------------------------------------------------------------

/** An outbound link's state across its connections. */
export interface Link extends LinkTarget {
  /** redials since the last stable session (the backoff's exponent) */
  readonly attempts: number;
  /** failed dials in a row (a learned address gives up after `learnedMaxFailures`) */
  readonly failures: number;
  /** when the peer's session last came up (a long one resets the backoff) */
  readonly upSince: number | undefined;
  /** the address is not dialled before this (an offence there, or the identity's ban) */
  readonly bannedUntil: number;
  /** the peer has a session through another connection */
  readonly elsewhere: boolean;
  readonly prng: PrngState;
}

/** The connection in progress. */
export interface Conn {
  readonly hs: SessionHandshake | undefined;
  readonly channel: SessionChannel | undefined;
  readonly proven: ProvenPeer | undefined;
  /** the responder's answer, sent on admission */
  readonly reply: Uint8Array | undefined;
  /** set once the peer is admitted */
  readonly peerId: string | undefined;
  /** `initiator:transcript`: the smaller wins between two connections to one peer */
  readonly rank: string | undefined;
  readonly frames: Bucket;
  readonly bytes: Bucket;
  readonly lastSeen: number;
}

export interface PeerContext {
  readonly self: string;
  readonly direction: 'in' | 'out';
  readonly policy: PeerPolicy;
  readonly link: Link | undefined;
  readonly conn: Conn | undefined;
  /** how the last connection ended (what `ended` decides on) */
  readonly ended: { readonly reason: DisconnectReason; readonly wasOpen: boolean } | undefined;
  /** the effects of the step in progress */
  readonly effects: readonly PeerEffect[];
}

/** The rank of a connection between `initiator` and the other end: equal at both ends. */
export function connectionRank(initiator: string, transcript: string): string {
  return `${initiator}:${transcript}`;
}

// --- reading a message -------------------------------------------------------------------------------

type Reading =
  | {
      readonly kind: 'offence';
      readonly reason: DisconnectReason;
      readonly detail: string;
      readonly conn: Conn;
    }
  | {
      readonly kind: 'mismatch';
      readonly reason: 'wrong-version' | 'wrong-instance';
      readonly detail: string;
      readonly conn: Conn;
    }
  | { readonly kind: 'hello'; readonly send: Uint8Array | undefined; readonly conn: Conn }
  | {
      readonly kind: 'proven';
      readonly proven: ProvenPeer;
      readonly send: Uint8Array | undefined;
      readonly conn: Conn;
    }
  | { readonly kind: 'ping'; readonly value: number; readonly conn: Conn }
  | { readonly kind: 'pong'; readonly conn: Conn }
  | { readonly kind: 'peers'; readonly entries: readonly PeerAddress[]; readonly conn: Conn }
  | { readonly kind: 'frame'; readonly channel: number; readonly payload: Uint8Array; readonly conn: Conn };

type MessageEvent = Extract<PeerMachineEvent, { type: 'message' }>;

function readFrame(policy: PeerPolicy, conn: Conn, channel: SessionChannel, bytes: Uint8Array): Reading {
  const o = channel.open(bytes);
  if (!o.ok) return { kind: 'offence', reason: o.reason, detail: o.detail, conn };
  const next = { ...conn, channel: o.next };
  if (o.payload.length > policy.maxFrameBytes) {
    const detail = `${o.payload.length} bytes > ${policy.maxFrameBytes}`;
    return { kind: 'offence', reason: 'oversize-frame', detail, conn: next };
  }
  if (o.channel !== CONTROL_CHANNEL)
    return { kind: 'frame', channel: o.channel, payload: o.payload, conn: next };
  const msg = decodeControl(o.payload);
  if (msg === undefined)
    return { kind: 'offence', reason: 'undecodable', detail: 'control message', conn: next };
  switch (msg.tag) {
    case 'ping':
      return { kind: 'ping', value: msg.value, conn: next };
    case 'pong':
      return { kind: 'pong', conn: next };
    case 'peers':
      return { kind: 'peers', entries: msg.value, conn: next };
  }
}

function readHandshake(conn: Conn, hs: SessionHandshake, bytes: Uint8Array): Reading {
  const r = hs.receive(bytes);
  switch (r.kind) {
    case 'refused':
      if (r.reason === 'wrong-version' || r.reason === 'wrong-instance')
        return { kind: 'mismatch', reason: r.reason, detail: r.detail, conn };
      return { kind: 'offence', reason: r.reason, detail: r.detail, conn };
    case 'continue':
      return { kind: 'hello', send: r.send, conn: { ...conn, hs: r.next } };
    case 'proven':
      return { kind: 'proven', proven: r.proven, send: r.send, conn: { ...conn, hs: undefined } };
  }
}

/** What a message is, in this connection's phase, and the connection after it: rate limits first,
 * then the handshake (before a channel) or the channel. */
function read(c: PeerContext, e: MessageEvent): Reading {
  const conn = c.conn;
  if (conn === undefined) throw new Error('peer machine: a message without a connection');
  const frames = takeTokens(conn.frames, 1, e.now);
  if (!frames.ok) {
    const detail = `more than ${c.policy.framesPerSecond} frames/s`;
    return { kind: 'offence', reason: 'flood', detail, conn: { ...conn, frames: frames.bucket } };
  }
  const bytes = takeTokens(conn.bytes, e.bytes.length, e.now);
  const limited = { ...conn, frames: frames.bucket, bytes: bytes.bucket };
  if (!bytes.ok) {
    const detail = `more than ${c.policy.bytesPerSecond} bytes/s`;
    return { kind: 'offence', reason: 'flood', detail, conn: limited };
  }
  if (!e.binary) return { kind: 'offence', reason: 'protocol', detail: 'text message', conn: limited };
  const seen = { ...limited, lastSeen: e.now };
  if (conn.channel !== undefined) return readFrame(c.policy, seen, conn.channel, e.bytes);
  if (conn.hs !== undefined) return readHandshake(seen, conn.hs, e.bytes);
  return {
    kind: 'offence',
    reason: 'protocol',
    detail: 'a message while the peer is being admitted',
    conn: seen,
  };
}

// a reading is a pure function of (connection, event): cached per event, for the guards and the action
const readings = new WeakMap<object, { conn: Conn | undefined; reading: Reading }>();

function reading(c: PeerContext, e: PeerMachineEvent): Reading {
  const known = readings.get(e);
  if (known !== undefined && known.conn === c.conn) return known.reading;
  const r = read(c, e as MessageEvent);
  readings.set(e, { conn: c.conn, reading: r });
  return r;
}

// --- helpers for the actions ------------------------------------------------------------------------

type Arg = { context: PeerContext; event: PeerMachineEvent };
type Change = Partial<Omit<PeerContext, 'effects'>>;

/** An action: a change to the context and the effects it asks for. */
function act(
  f: (c: PeerContext, e: PeerMachineEvent) => { change?: Change; effects?: readonly PeerEffect[] },
) {
  return assign<PeerContext, PeerMachineEvent, undefined, PeerMachineEvent, never>(
    ({ context, event }): Partial<PeerContext> => {
      const { change = {}, effects = [] } = f(context, event);
      return { ...change, effects: [...context.effects, ...effects] };
    },
  );
}

function freshConn(c: PeerContext, now: number): Conn {
  const p = c.policy;
  return {
    hs: undefined,
    channel: undefined,
    proven: undefined,
    reply: undefined,
    peerId: undefined,
    rank: undefined,
    frames: fullBucket(p.framesPerSecond, p.framesPerSecond, now),
    bytes: fullBucket(p.bytesPerSecond, p.bytesBurst, now),
    lastSeen: now,
  };
}

function withLink(c: PeerContext, f: (l: Link) => Partial<Link>): Change {
  return c.link === undefined ? {} : { link: { ...c.link, ...f(c.link) } };
}

/** How a connection ends: close the socket, score an offence, report the session down, and note
 * it for the link (an offence bars the address for `banMs`; a failed dial counts). */
function ending(
  c: PeerContext,
  e: PeerMachineEvent,
  reason: DisconnectReason,
  detail: string | undefined,
  how: { open?: boolean; handshake?: boolean; peer?: string; orphan?: boolean; closed?: 'by-peer' },
): { change: Change; effects: PeerEffect[] } {
  const effects: PeerEffect[] = [];
  const peer = how.peer ?? c.conn?.peerId;
  const offence = OFFENCES.has(reason);
  if (how.handshake) effects.push({ type: 'disarm', timer: 'handshake' });
  if (offence) effects.push({ type: 'offence', reason, ...(peer !== undefined ? { peer } : {}) });
  if (how.closed === undefined) {
    effects.push({
      type: 'close',
      reason,
      ...(detail !== undefined ? { detail } : {}),
      ...(peer !== undefined ? { peer } : {}),
    });
  }
  if (how.open) {
    effects.push({
      type: 'down',
      reason,
      ...(detail !== undefined ? { detail } : {}),
      orphan: how.orphan ?? false,
    });
  }
  const wasOpen = how.open ?? false;
  // an offence bars a dialled address for a while: its redial waits for the ban's end
  if (offence && c.link !== undefined)
    effects.push({ type: 'arm', timer: 'redial', at: e.now + c.policy.banMs });
  const change: Change = {
    ended: { reason, wasOpen },
    ...withLink(c, (l) => ({
      failures: !wasOpen && reason !== 'duplicate' ? l.failures + 1 : l.failures,
      bannedUntil: offence ? Math.max(l.bannedUntil, e.now + c.policy.banMs) : l.bannedUntil,
      elsewhere: how.orphan ? true : l.elsewhere,
    })),
  };
  return { change, effects };
}

/** `end the handshake (<reason>)`: a refusal or failure before the session opened. */
function endHandshake(
  reason: DisconnectReason,
  detail: (c: PeerContext, e: PeerMachineEvent) => string | undefined,
) {
  return act((c, e) => ending(c, e, reason, detail(c, e), { handshake: true }));
}

/** `end the session (<reason>)`: an open session ends. */
function endSession(
  reason: DisconnectReason,
  detail: (c: PeerContext, e: PeerMachineEvent) => string | undefined,
) {
  return act((c, e) => ending(c, e, reason, detail(c, e), { open: true }));
}

const ev = <T extends PeerMachineEventType>(e: PeerMachineEvent, _type: T) =>
  e as Extract<PeerMachineEvent, { type: T }>;

/** The effects and connection change of a message the reading says is an offence or a mismatch. */
function endOnReading(phase: 'handshake' | 'session' | 'retired') {
  return act((c, e) => {
    const r = reading(c, e);
    if (r.kind !== 'offence' && r.kind !== 'mismatch')
      throw new Error(`peer machine: ${r.kind} is no refusal`);
    const end = ending(
      { ...c, conn: r.conn },
      e,
      r.reason,
      r.detail,
      phase === 'session' ? { open: true } : phase === 'handshake' ? { handshake: true } : {},
    );
    return { change: { conn: r.conn, ...end.change }, effects: end.effects };
  });
}

/** The socket closed under us: `closed-by-peer` (clean) or `connection-lost`. */
function socketClosed(
  c: PeerContext,
  e: PeerMachineEvent,
  how: { open?: boolean; handshake?: boolean; orphan?: boolean },
) {
  const s = ev(e, 'socket-closed');
  return ending(c, e, s.clean ? 'closed-by-peer' : 'connection-lost', s.detail, {
    ...how,
    closed: 'by-peer',
  });
}

/** The redial delay: backoff from the link's attempts (reset by a long enough session), jittered
 * from its seeded stream. */
function scheduleRedial(c: PeerContext, now: number): { change: Change; effects: PeerEffect[] } {
  const l = c.link!;
  const stableMs = Math.max(5000, c.policy.backoff.initialMs * 4);
  const attempts = l.upSince !== undefined && now - l.upSince >= stableMs ? 0 : l.attempts;
  let prng = l.prng;
  const random = () => {
    const [v, next] = nextU32(prng);
    prng = next;
    return v / 0x1_0000_0000;
  };
  const delay = backoffDelay(c.policy.backoff, attempts, random);
  return {
    change: { link: { ...l, attempts: attempts + 1, upSince: undefined, prng }, conn: undefined },
    effects: [{ type: 'arm', timer: 'redial', at: now + delay }],
  };
}

const sealed = (c: PeerContext, channel: number, payload: Uint8Array) => {
  const s = c.conn!.channel!.seal(channel, payload);
  return { conn: { ...c.conn!, channel: s.next }, wire: s.wire };
};

const control = (tag: 'ping' | 'pong', value: number): Uint8Array => encodeControl({ tag, value });

// --- the machine -------------------------------------------------------------------------------------

const guardOf =
  (kind: Reading['kind']) =>
  ({ context, event }: Arg): boolean =>
    reading(context, event).kind === kind;

/** The rate limits and the text check, ahead of what a message means (its reading's offences). */
const IN_HANDSHAKE_REFUSALS = [
  { guard: 'an offence', target: '#peer.banned', actions: 'end the handshake (the offence)' },
  { guard: 'a mismatch', target: '#peer.ended', actions: 'end the handshake (the mismatch)' },
] as const;

/** How the socket closing ends a handshake (the peer may refuse us as its own identity). */
const HANDSHAKE_SOCKET_CLOSED = [
  {
    guard: 'refused as its own identity',
    target: '#peer.ended',
    actions: ['end the handshake (the socket closed)', 'back off to the slowest pace'],
  },
  { target: '#peer.ended', actions: 'end the handshake (the socket closed)' },
] as const;

/** (re)dialling: a banned address waits, a learned one waits for room, else a socket is opened. */
const DIAL = [
  { guard: 'the address or identity is banned', target: '#peer.banned', actions: 'wait out the ban' },
  { guard: 'no room for a learned address', target: '#peer.idle', actions: 'stand by for room' },
  { target: '#peer.dialing', actions: 'open a socket' },
] as const;

export const peerMachine = setup({
  types: {} as { context: PeerContext; events: PeerMachineEvent; input: PeerInput },
  guards: {
    // what a message is (its reading)
    'an offence': guardOf('offence'),
    'a mismatch': guardOf('mismatch'),
    'takes the hello': guardOf('hello'),
    'proves an identity': guardOf('proven'),
    'a ping': guardOf('ping'),
    'a pong': guardOf('pong'),
    'a peer list': guardOf('peers'),
    'an application frame': guardOf('frame'),
    'a control message': ({ context, event }: Arg) => {
      const k = reading(context, event).kind;
      return k === 'ping' || k === 'pong' || k === 'peers';
    },
    // admission, from the registry's facts
    'the peer is ourselves': ({ context }: Arg) => context.conn?.proven?.peerId === context.self,
    'not the pinned identity': ({ context }: Arg) =>
      context.link?.pinned !== undefined && context.link.pinned !== context.conn?.proven?.peerId,
    'the identity is banned': ({ event }: Arg) => ev(event, 'admission').banned,
    'loses to the connection it duplicates': ({ context, event }: Arg) => {
      const existing = ev(event, 'admission').existing;
      return existing.kind === 'open' && !(context.conn!.rank! < existing.rank);
    },
    'no room for another peer': ({ event }: Arg) => {
      const a = ev(event, 'admission');
      return a.existing.kind === 'none' && !a.room;
    },
    // the socket and the session
    'refused as its own identity': ({ event }: Arg) => {
      const s = ev(event, 'socket-closed');
      return s.clean && s.peerReason === 'self';
    },
    'replaced by the peer': ({ event }: Arg) => {
      const s = ev(event, 'socket-closed');
      return s.clean && s.peerReason === 'duplicate';
    },
    'larger than the peer accepts': ({ context, event }: Arg) =>
      ev(event, 'send').payload.length >
      Math.min(context.policy.maxFrameBytes, context.conn!.proven!.peerMaxFrameBytes),
    'silent past the idle timeout': ({ context, event }: Arg) =>
      event.now - context.conn!.lastSeen > context.policy.idleTimeoutMs,
    // the link, between connections
    'an inbound connection': ({ context }: Arg) => context.direction === 'in',
    'a learned address': ({ context }: Arg) => context.link !== undefined && !context.link.persistent,
    'dialled ourselves': ({ context }: Arg) => context.ended?.reason === 'self',
    'a learned address that failed for good': ({ context }: Arg) => {
      const l = context.link;
      const why = context.ended?.reason;
      if (l === undefined || l.persistent || why === undefined) return false;
      const final =
        why === 'wrong-identity' ||
        why === 'wrong-instance' ||
        why === 'wrong-version' ||
        why === 'banned' ||
        OFFENCES.has(why);
      return final || l.failures >= context.policy.learnedMaxFailures;
    },
    'the peer is connected elsewhere': ({ context }: Arg) => context.link?.elsewhere === true,
    'the address or identity is banned': ({ context, event }: Arg) =>
      Math.max(context.link?.bannedUntil ?? 0, ev(event, 'dial').bannedUntil) > event.now,
    'no room for a learned address': ({ context, event }: Arg) =>
      context.link?.persistent === false && !ev(event, 'dial').room,
  },
  actions: {
    // dialling and accepting
    'open a socket': act((c, e) => ({
      change: { conn: freshConn(c, e.now), ended: undefined },
      effects: [
        { type: 'disarm', timer: 'redial' },
        { type: 'connect', address: c.link!.address, attempt: c.link!.attempts },
        { type: 'arm', timer: 'handshake', at: e.now + c.policy.handshakeTimeoutMs },
      ],
    })),
    'wait out the ban': act((c, e) => {
      const until = Math.max(c.link!.bannedUntil, ev(e, 'dial').bannedUntil);
      return {
        change: { link: { ...c.link!, bannedUntil: until } },
        effects: [{ type: 'arm', timer: 'redial', at: until }],
      };
    }),
    'stand by for room': act(() => ({ effects: [{ type: 'disarm', timer: 'redial' }] })),
    'start as responder': act((c, e) => {
      const a = ev(e, 'accept');
      return {
        change: { conn: { ...freshConn(c, a.now), hs: a.handshake } },
        effects: [
          { type: 'arm', timer: 'handshake', at: a.now + c.policy.handshakeTimeoutMs },
          { type: 'send', bytes: a.hello },
        ],
      };
    }),
    'start as initiator': act((c, e) => {
      const o = ev(e, 'socket-opened');
      return {
        change: { conn: { ...c.conn!, hs: o.handshake } },
        effects: [{ type: 'send', bytes: o.hello }],
      };
    }),
    // the handshake
    'take the hello': act((c, e) => {
      const r = reading(c, e) as Extract<Reading, { kind: 'hello' }>;
      return {
        change: { conn: r.conn },
        effects: r.send === undefined ? [] : [{ type: 'send', bytes: r.send }],
      };
    }),
    'ask to admit the peer': act((c, e) => {
      const r = reading(c, e) as Extract<Reading, { kind: 'proven' }>;
      const p = r.proven;
      const initiator = c.direction === 'out' ? c.self : p.peerId;
      return {
        change: {
          conn: { ...r.conn, proven: p, reply: r.send, rank: connectionRank(initiator, p.transcript) },
        },
        effects: [
          { type: 'disarm', timer: 'handshake' },
          { type: 'authenticated', peerId: p.peerId, listen: p.listen },
        ],
      };
    }),
    'end the handshake (the offence)': endOnReading('handshake'),
    'end the handshake (the mismatch)': endOnReading('handshake'),
    'end the handshake (our own hello came back)': act((c, e) => {
      const detail = c.direction === 'in' ? 'a connection from ourselves' : 'dialled our own address';
      return ending(c, e, 'self', detail, { handshake: true });
    }),
    'end the handshake (self)': act((c, e) => ending(c, e, 'self', 'connected to ourselves', {})),
    'end the handshake (wrong-identity)': act((c, e) =>
      ending(c, e, 'wrong-identity', `expected ${c.link?.pinned}, the peer is ${c.conn?.proven?.peerId}`, {}),
    ),
    'end the handshake (banned)': act((c, e) =>
      ending(c, e, 'banned', 'identity is banned', { peer: c.conn!.proven!.peerId }),
    ),
    'end the handshake (duplicate)': act((c, e) => {
      const end = ending(c, e, 'duplicate', 'already connected', { peer: c.conn!.proven!.peerId });
      return { change: { ...end.change, ...withLink(c, () => ({ elsewhere: true })) }, effects: end.effects };
    }),
    'end the handshake (too-many-peers)': act((c, e) =>
      ending(c, e, 'too-many-peers', 'no room for another peer', { peer: c.conn!.proven!.peerId }),
    ),
    'end the handshake (evicted, too-many-peers)': endHandshake(
      'too-many-peers',
      () => 'pending handshake evicted: another host needed the slot',
    ),
    'end the handshake (handshake-timeout)': endHandshake(
      'handshake-timeout',
      (c) => `${c.policy.handshakeTimeoutMs} ms`,
    ),
    'end the handshake (the socket closed)': act((c, e) => socketClosed(c, e, { handshake: true })),
    'end the handshake (the socket broke the protocol)': act((c, e) => {
      const s = ev(e, 'socket-error');
      return ending(c, e, s.reason, s.detail, { handshake: true });
    }),
    'end the handshake (shutdown)': endHandshake('shutdown', () => undefined),
    'back off to the slowest pace': act((c) => ({
      change: withLink(c, (l) => ({ attempts: Math.max(l.attempts, 64) })),
    })),
    // the session
    'open the session': act((c, e) => {
      const a = ev(e, 'admission');
      const conn = c.conn!;
      const p = conn.proven!;
      const effects: PeerEffect[] = [];
      if (conn.reply !== undefined) effects.push({ type: 'send', bytes: conn.reply });
      effects.push({
        type: 'up',
        peerId: p.peerId,
        listen: p.listen,
        peerMaxFrameBytes: p.peerMaxFrameBytes,
        replaces: a.existing.kind,
      });
      return {
        change: {
          conn: { ...conn, channel: p.channel, peerId: p.peerId, reply: undefined, lastSeen: a.now },
          ...withLink(c, () => ({ upSince: a.now, failures: 0, elsewhere: false })),
        },
        effects,
      };
    }),
    'answer the ping': act((c, e) => {
      const r = reading(c, e) as Extract<Reading, { kind: 'ping' }>;
      const s = sealed({ ...c, conn: r.conn }, CONTROL_CHANNEL, control('pong', r.value));
      return { change: { conn: s.conn }, effects: [{ type: 'send', bytes: s.wire }] };
    }),
    'note the pong': act((c, e) => ({ change: { conn: reading(c, e).conn } })),
    'pass the peer list on': act((c, e) => {
      const r = reading(c, e) as Extract<Reading, { kind: 'peers' }>;
      return { change: { conn: r.conn }, effects: [{ type: 'peers', entries: r.entries }] };
    }),
    'deliver the frame': act((c, e) => {
      const r = reading(c, e) as Extract<Reading, { kind: 'frame' }>;
      return {
        change: { conn: r.conn },
        effects: [{ type: 'deliver', channel: r.channel, payload: r.payload }],
      };
    }),
    'read past the control message': act((c, e) => ({ change: { conn: reading(c, e).conn } })),
    'seal and send the frame': act((c, e) => {
      const m = ev(e, 'send');
      const s = sealed(c, m.channel, m.payload);
      return { change: { conn: s.conn }, effects: [{ type: 'send', bytes: s.wire }] };
    }),
    'drop the oversize frame': act((c) => ({
      effects: [
        {
          type: 'dropped',
          reason: 'oversize',
          limit: Math.min(c.policy.maxFrameBytes, c.conn!.proven!.peerMaxFrameBytes),
        },
      ],
    })),
    'send a ping': act((c, e) => {
      const s = sealed(c, CONTROL_CHANNEL, control('ping', e.now >>> 0));
      return { change: { conn: s.conn }, effects: [{ type: 'send', bytes: s.wire }] };
    }),
    'end the session (the offence)': endOnReading('session'),
    'end the session (timeout)': endSession('timeout', (c, e) => `silent for ${e.now - c.conn!.lastSeen} ms`),
    'end the session (penalised)': act((c, e) => {
      const p = ev(e, 'penalised');
      const end = ending(c, e, 'penalised', p.reason, { open: true });
      if (c.link === undefined) return end;
      return {
        change: {
          ...end.change,
          link: { ...end.change.link!, bannedUntil: Math.max(c.link.bannedUntil, p.until) },
        },
        effects: [...end.effects, { type: 'arm', timer: 'redial', at: p.until }],
      };
    }),
    'end the session (the socket closed)': act((c, e) => socketClosed(c, e, { open: true })),
    'end the session (orphaned by the peer)': act((c, e) => socketClosed(c, e, { open: true, orphan: true })),
    'end the session (the socket broke the protocol)': act((c, e) => {
      const s = ev(e, 'socket-error');
      return ending(c, e, s.reason, s.detail, { open: true });
    }),
    'end the session (shutdown)': endSession('shutdown', () => undefined),
    'retire the connection': act((c) => ({
      change: withLink(c, () => ({ elsewhere: true })),
      effects: [{ type: 'retire', ...(c.conn?.peerId !== undefined ? { peer: c.conn.peerId } : {}) }],
    })),
    'end the retired connection (the offence)': endOnReading('retired'),
    'end the retired connection': act(() => ({
      change: { ended: { reason: 'duplicate', wasOpen: true } },
    })),
    'close the retired socket': act(() => ({ effects: [{ type: 'close', reason: 'shutdown' }] })),
    // the link between connections
    'note the peer up elsewhere': act((c, e) => ({
      change: withLink(c, () => ({ elsewhere: true, upSince: e.now, failures: 0 })),
    })),
    'note the peer down elsewhere': act((c) => ({ change: withLink(c, () => ({ elsewhere: false })) })),
    'stand by while connected elsewhere': act((c, e) => ({
      change: withLink(c, () => ({ elsewhere: true, upSince: e.now, failures: 0 })),
      effects: [{ type: 'disarm', timer: 'redial' }],
    })),
    'schedule a redial': act((c, e) => scheduleRedial(c, e.now)),
    'redial after the peer went down': act((c, e) => {
      const r = scheduleRedial({ ...c, link: { ...c.link!, elsewhere: false } }, e.now);
      return r;
    }),
    'forget the address (ourselves)': act(() => ({
      change: { conn: undefined },
      effects: [
        { type: 'disarm', timer: 'redial' },
        { type: 'forget', reason: 'self' },
      ],
    })),
    'forget the address (it failed)': act(() => ({
      change: { conn: undefined },
      effects: [
        { type: 'disarm', timer: 'redial' },
        { type: 'forget', reason: 'failed' },
      ],
    })),
    'let the connection go': act(() => ({ change: { conn: undefined } })),
    stop: act(() => ({
      effects: [
        { type: 'disarm', timer: 'redial' },
        { type: 'disarm', timer: 'handshake' },
      ],
    })),
  },
}).createMachine({
  id: 'peer',
  context: ({ input }) => ({
    self: input.self,
    direction: input.target === undefined ? 'in' : 'out',
    policy: input.policy,
    link:
      input.target === undefined
        ? undefined
        : {
            ...input.target,
            attempts: 0,
            failures: 0,
            upSince: undefined,
            bannedUntil: 0,
            elsewhere: false,
            prng: input.seed ?? [1, 2, 3, 4],
          },
    conn: undefined,
    ended: undefined,
    effects: [],
  }),
  initial: 'idle',
  // in every state: what the registry says of the link's peer, and the network's shutdown
  on: {
    'peer-up': { actions: 'note the peer up elsewhere' },
    'peer-down': { actions: 'note the peer down elsewhere' },
    shutdown: { target: '#peer.closed', actions: 'stop' },
  },
  states: {
    idle: {
      on: {
        dial: [...DIAL],
        accept: { target: 'handshaking', actions: 'start as responder' },
      },
    },
    dialing: {
      on: {
        'socket-opened': { target: 'handshaking', actions: 'start as initiator' },
        'socket-closed': [...HANDSHAKE_SOCKET_CLOSED],
        'handshake-timeout': { target: 'ended', actions: 'end the handshake (handshake-timeout)' },
        shutdown: { target: 'closed', actions: 'end the handshake (shutdown)' },
      },
    },
    handshaking: {
      initial: 'hello',
      on: {
        message: [...IN_HANDSHAKE_REFUSALS],
        ourselves: { target: 'ended', actions: 'end the handshake (our own hello came back)' },
        evicted: { target: 'ended', actions: 'end the handshake (evicted, too-many-peers)' },
        'socket-error': { target: 'banned', actions: 'end the handshake (the socket broke the protocol)' },
        'socket-closed': [...HANDSHAKE_SOCKET_CLOSED],
        'handshake-timeout': { target: 'ended', actions: 'end the handshake (handshake-timeout)' },
        shutdown: { target: 'closed', actions: 'end the handshake (shutdown)' },
      },
      states: {
        hello: {
          on: { message: { guard: 'takes the hello', target: 'auth', actions: 'take the hello' } },
        },
        auth: {
          on: {
            message: { guard: 'proves an identity', target: 'admitting', actions: 'ask to admit the peer' },
          },
        },
        admitting: {
          on: {
            admission: [
              { guard: 'the peer is ourselves', target: '#peer.ended', actions: 'end the handshake (self)' },
              {
                guard: 'not the pinned identity',
                target: '#peer.ended',
                actions: 'end the handshake (wrong-identity)',
              },
              {
                guard: 'the identity is banned',
                target: '#peer.ended',
                actions: 'end the handshake (banned)',
              },
              {
                guard: 'loses to the connection it duplicates',
                target: '#peer.ended',
                actions: 'end the handshake (duplicate)',
              },
              {
                guard: 'no room for another peer',
                target: '#peer.ended',
                actions: 'end the handshake (too-many-peers)',
              },
              { target: '#peer.open', actions: 'open the session' },
            ],
          },
        },
      },
    },
    open: {
      on: {
        message: [
          { guard: 'an offence', target: 'banned', actions: 'end the session (the offence)' },
          { guard: 'a ping', actions: 'answer the ping' },
          { guard: 'a pong', actions: 'note the pong' },
          { guard: 'a peer list', actions: 'pass the peer list on' },
          { guard: 'an application frame', actions: 'deliver the frame' },
        ],
        send: [
          { guard: 'larger than the peer accepts', actions: 'drop the oversize frame' },
          { actions: 'seal and send the frame' },
        ],
        'ping-due': [
          { guard: 'silent past the idle timeout', target: 'ended', actions: 'end the session (timeout)' },
          { actions: 'send a ping' },
        ],
        replaced: { target: 'retiring', actions: 'retire the connection' },
        penalised: { target: 'banned', actions: 'end the session (penalised)' },
        'socket-error': { target: 'banned', actions: 'end the session (the socket broke the protocol)' },
        'socket-closed': [
          {
            guard: 'replaced by the peer',
            target: 'ended',
            actions: 'end the session (orphaned by the peer)',
          },
          { target: 'ended', actions: 'end the session (the socket closed)' },
        ],
        shutdown: { target: 'closed', actions: 'end the session (shutdown)' },
      },
    },
    // replaced by a duplicate: the socket is closing; frames already in flight are still delivered
    retiring: {
      on: {
        message: [
          { guard: 'an offence', target: 'banned', actions: 'end the retired connection (the offence)' },
          { guard: 'an application frame', actions: 'deliver the frame' },
          { guard: 'a control message', actions: 'read past the control message' },
        ],
        'socket-closed': { target: 'ended', actions: 'end the retired connection' },
        shutdown: { target: 'closed', actions: 'close the retired socket' },
      },
    },
    // a connection ended: an inbound one is over; a link redials, unless it should not
    ended: {
      always: [
        { guard: 'an inbound connection', target: 'closed', actions: 'let the connection go' },
        { guard: 'dialled ourselves', target: 'closed', actions: 'forget the address (ourselves)' },
        {
          guard: 'a learned address that failed for good',
          target: 'closed',
          actions: 'forget the address (it failed)',
        },
        { guard: 'the peer is connected elsewhere', target: 'parked', actions: 'let the connection go' },
        { target: 'backoff', actions: 'schedule a redial' },
      ],
    },
    backoff: {
      on: {
        dial: [...DIAL],
        'peer-up': { target: 'parked', actions: 'stand by while connected elsewhere' },
      },
    },
    // the link's peer has a session through another connection: redial when it goes down
    parked: {
      on: {
        'peer-down': { target: 'backoff', actions: 'redial after the peer went down' },
      },
    },
    // ended by an offence or a ban: an inbound connection stays here until dropped; a link waits
    // out the ban (its redial timer) and dials again, a learned address is forgotten
    banned: {
      always: [{ guard: 'a learned address', target: 'closed', actions: 'forget the address (it failed)' }],
      on: { dial: [...DIAL] },
    },
    closed: { type: 'final' },
  },
});

// --- running it ----------------------------------------------------------------------------------------

/** A peer machine's snapshot between steps (its context holds no effects). */
export type PeerSnapshot = ReturnType<typeof peerMachine.resolveState>;

export interface PeerStep {
  readonly snapshot: PeerSnapshot;
  readonly effects: readonly PeerEffect[];
  /** the transitions taken (statechart ids), every hop of an eventless chain included */
  readonly taken: readonly string[];
}

const SAMPLE_INPUT: PeerInput = {
  self: '',
  policy: {
    handshakeTimeoutMs: 1,
    idleTimeoutMs: 1,
    maxFrameBytes: 1,
    framesPerSecond: 1,
    bytesPerSecond: 1,
    bytesBurst: 1,
    backoff: { initialMs: 1, maxMs: 1 },
    banMs: 1,
    learnedMaxFailures: 1,
  },
};

const runner = pureMachine<PeerSnapshot, PeerMachineEvent>(peerMachine, SAMPLE_INPUT);

/** A new machine: an outbound link (with `target`), or an inbound connection. */
export function startPeer(input: PeerInput): PeerSnapshot {
  return runner.start(input);
}

/** One event through a peer machine: the next snapshot and the effects it asks for, in order. */
export function stepPeer(snapshot: PeerSnapshot, event: PeerMachineEvent): PeerStep {
  const { snapshot: next, taken } = runner.step(snapshot, event);
  const effects = next.context.effects;
  if (effects.length === 0) return { snapshot: next, effects, taken };
  const clean = runner.resolve(next.value, { ...next.context, effects: [] });
  return { snapshot: clean, effects, taken };
}

/** The dotted state a snapshot is in (`handshaking.auth`, `open`, …). */
export function peerStateOf(snapshot: PeerSnapshot): string {
  return stateToString(snapshot.value);
}
