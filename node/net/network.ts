/**
 * PeerNetwork: authenticated, encrypted WebSocket links between Fractal nodes (see README.md).
 *
 * One `Conn` per WebSocket; a `Session` per proven peer identity (at most one live connection per
 * identity: duplicates collapse deterministically). Everything a peer can trigger runs inside a
 * guard: a throw ends that connection with `internal-error`, never the process.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type Observable, Subject } from 'rxjs';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { fromHex, toHex } from '../../wire/commit.ts';
import { createSigner, type Signer } from '../../wire/sign.ts';
import { listenOn } from '../listen.ts';
import {
  hostOfRemote,
  normaliseAddress,
  type PeerEntry,
  parsePeerEntry,
  resolveAdvertised,
} from './address.ts';
import { type BackoffPolicy, backoffDelay, HandshakeSlots, shareKeyOf, TokenBucket } from './limits.ts';
import {
  CONTROL_CHANNEL,
  type Control,
  decodeControl,
  encodeControl,
  FRAME_OVERHEAD,
  Handshake,
  type HandshakeResult,
  MAX_APP_CHANNEL,
  MAX_INSTANCE_BYTES,
  MAX_PEX_ENTRIES,
  PROTOCOL_VERSION,
  type SecureChannel,
} from './protocol.ts';
import { DEFAULT_SCORING, Scoreboard, type ScoringPolicy } from './scores.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

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

/** Offences: the identity (if proven) loses OFFENCE_WEIGHT and is banned; the host gets a strike. */
const OFFENCES: ReadonlySet<DisconnectReason> = new Set([
  'oversize-frame',
  'undecodable',
  'replay',
  'flood',
  'protocol',
  'bad-signature',
]);
export const OFFENCE_WEIGHT = 100;
export const DEFAULT_PENALTY_WEIGHT = 10;

export interface PeerNetworkOptions {
  instance: string;
  /** default PROTOCOL_VERSION */
  protocolVersion?: number;
  /** 32-byte ed25519 seed: the node identity */
  secretKey: Uint8Array;
  /** port 0 = ephemeral; absent = dial only */
  listen?: { host: string; port: number };
  /** the address peers should dial us at, sent in the handshake and passed on by peer exchange
   * (default `ws://<listen.host>:<port>`; an unspecified host such as 0.0.0.0 is replaced by the
   * address each peer sees us connect from) */
  advertise?: string;
  /** addresses to keep dialled: `ws://host:port`, optionally `#<hex public key>` to pin the identity */
  peers?: readonly (string | { address: string; publicKey?: string })[];
  /** largest frame payload accepted and sent (default 8 MiB) */
  maxFrameBytes?: number;
  /** sessions beyond which inbound connections and peer-exchange dials are refused (default 32);
   * configured peers are always accepted */
  maxPeers?: number;
  /** per-peer token buckets, one second of burst (defaults 5000 frames/s, 64 MiB/s) */
  limits?: { framesPerSecond?: number; bytesPerSecond?: number };
  /** default true */
  peerExchange?: boolean;
  log?: Log;
  /** a handshake (including the TCP connect) must finish within this (default 5000 ms) */
  handshakeTimeoutMs?: number;
  /** reconnection to configured peers (defaults 500 ms doubling to 30 s, with jitter) */
  backoff?: { initialMs?: number; maxMs?: number };
  /** score threshold, ban length, recovery, host strikes (see scores.ts) */
  scoring?: Partial<ScoringPolicy>;
  /** control-channel ping period (default 10 s); a peer silent for `idleTimeoutMs` (default 3
   * pings) is dropped with `timeout` */
  pingIntervalMs?: number;
  idleTimeoutMs?: number;
  /** how often the full peer list is re-sent to every peer (default 30 s) */
  pexIntervalMs?: number;
  /** frames for a peer whose socket has more than this unsent are dropped (default max(64 MiB,
   * 4 × maxFrameBytes)) */
  maxBufferedBytes?: number;
  /** inbound connections not yet authenticated (from the TCP accept to the end of the handshake)
   * beyond which new ones are refused (default 64) */
  maxPendingHandshakes?: number;
  /** of those, the most one remote host (an IPv4 address, an IPv6 /64) may hold (default 16);
   * when all are taken, a host holding fewer than the largest holder takes that holder's oldest */
  maxPendingHandshakesPerHost?: number;
  /** an inbound TCP connection must send its WebSocket upgrade request within this (default
   * 5000 ms); the handshake then has `handshakeTimeoutMs` */
  upgradeTimeoutMs?: number;
  /** a source of uniform numbers in [0, 1) for backoff jitter (default Math.random) */
  random?: () => number;
}

export interface PeerInfo {
  /** hex ed25519 public key */
  id: string;
  /** where the peer can be dialled: the address we dialled, or the one it advertised */
  address?: string;
  direction: 'in' | 'out';
  /** 0 is clean; penalties lower it, it recovers slowly; at -100 (default) the peer is banned */
  score: number;
  connectedAt: number;
  /** application frames (channels 0..254) and their payload bytes */
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
}

export type PeerEvent =
  | { type: 'up'; peer: PeerInfo }
  | { type: 'down'; peer: string; reason: string; detail?: string };

/** A connection refused or ended by this node, with its reason. */
export interface Rejection {
  reason: DisconnectReason;
  /** the peer's identity, when it was proven before the end */
  peer?: string;
  address?: string;
  direction: 'in' | 'out';
  detail?: string;
  at: number;
}

export interface NetworkStats {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** connections this node refused or ended, by reason */
  rejected: Record<string, number>;
  /** outgoing frames not sent: `backpressure` (slow peer), `oversize` (above the peer's limit) */
  dropped: Record<string, number>;
}

export type FrameHandler = (peer: string, channel: number, bytes: Uint8Array) => void;

const MiB = 1024 * 1024;
const CLOSE_CODE_REJECT = 4000;
const CLOSE_CODE_SHUTDOWN = 1001;
const KILL_AFTER_MS = 1000;
const MAX_PEX_CANDIDATES = 256;
const PEX_MAX_FAILURES = 3;

interface Resolved {
  instance: string;
  version: number;
  maxFrameBytes: number;
  maxPeers: number;
  framesPerSecond: number;
  bytesPerSecond: number;
  peerExchange: boolean;
  handshakeTimeoutMs: number;
  backoff: BackoffPolicy;
  scoring: ScoringPolicy;
  pingIntervalMs: number;
  idleTimeoutMs: number;
  pexIntervalMs: number;
  maxBufferedBytes: number;
  maxPendingHandshakes: number;
  maxPendingHandshakesPerHost: number;
  upgradeTimeoutMs: number;
  random: () => number;
}

/** An inbound TCP connection until it has proven an identity: it holds a handshake slot. */
interface Inbound {
  readonly socket: Socket;
  readonly host: string | undefined;
  /** the key its host's share is counted under */
  readonly share: string;
  /** until the upgrade request */
  timer: NodeJS.Timeout | undefined;
  /** once upgraded */
  conn: Conn | undefined;
}

interface DialTarget {
  readonly address: string;
  /** pinned identity */
  readonly publicKey?: string;
  /** configured (redialled forever) or learned by peer exchange (forgotten after failures) */
  readonly persistent: boolean;
  /** the identity found at this address by the last handshake */
  learnedId?: string;
  attempts: number;
  failures: number;
  timer?: NodeJS.Timeout;
  conn?: Conn;
  upSince?: number;
  bannedUntil: number;
  self: boolean;
}

interface Session {
  readonly id: string;
  /** undefined briefly while a duplicate connection is being replaced by the peer */
  conn: Conn | undefined;
  direction: 'in' | 'out';
  address?: string;
  readonly connectedAt: number;
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  peerMaxFrameBytes: number;
  orphanTimer?: NodeJS.Timeout;
}

type ConnState = 'connecting' | 'handshake' | 'open' | 'retiring' | 'closed';

class Conn {
  state: ConnState = 'connecting';
  hs: Handshake | undefined;
  channel: SecureChannel | undefined;
  result: HandshakeResult | undefined;
  /** set once the peer proved its identity */
  peerId: string | undefined;
  /** where the peer can be dialled */
  address: string | undefined;
  session: Session | undefined;
  hsTimer: NodeJS.Timeout | undefined;
  killTimer: NodeJS.Timeout | undefined;
  lastSeen = Date.now();
  /** an inbound connection holding a pending-handshake slot */
  inbound: Inbound | undefined;
  lastError: string | undefined;
  readonly frames: TokenBucket;
  readonly bytes: TokenBucket;
  readonly closed: Promise<void>;
  resolveClosed!: () => void;

  constructor(
    readonly ws: WebSocket,
    readonly direction: 'in' | 'out',
    readonly target: DialTarget | undefined,
    readonly remoteHost: string | undefined,
    o: Resolved,
  ) {
    const now = performance.now();
    this.frames = new TokenBucket(o.framesPerSecond, o.framesPerSecond, now);
    this.bytes = new TokenBucket(
      o.bytesPerSecond,
      Math.max(o.bytesPerSecond, o.maxFrameBytes + FRAME_OVERHEAD),
      now,
    );
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    if (target !== undefined) this.address = target.address;
  }
}

function positive(name: string, v: number | undefined, dflt: number, integer = true): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v) || (integer && !Number.isSafeInteger(v))) {
    throw new RangeError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${v}`);
  }
  return v;
}

const defaultLog: Log = (level, msg, fields) => {
  if (level === 'warn' || level === 'error') console.error(`[net] ${level} ${msg}`, fields ?? '');
};

function bytesOf(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class PeerNetwork {
  /** our hex public key */
  readonly id: string;
  readonly events$: Observable<PeerEvent>;
  /** every connection this node refused or ended, with the reason */
  readonly rejections$: Observable<Rejection>;

  readonly #o: Resolved;
  readonly #signer: Signer;
  readonly #log: Log;
  readonly #listen: { host: string; port: number } | undefined;
  readonly #advertiseOption: string | undefined;
  readonly #events = new Subject<PeerEvent>();
  readonly #rejections = new Subject<Rejection>();
  readonly #handlers = new Set<FrameHandler>();
  readonly #scores: Scoreboard;
  readonly #targets = new Map<string, DialTarget>();
  readonly #sessions = new Map<string, Session>();
  readonly #conns = new Set<Conn>();
  readonly #totals = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0 };
  readonly #rejected: Record<string, number> = {};
  readonly #dropped: Record<string, number> = {};
  #server: Server | undefined;
  #wss: WebSocketServer | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #pexTimer: NodeJS.Timeout | undefined;
  #started = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #listening: Promise<void> | undefined;
  /** peers are accepted once `start` runs (`listen` only binds) */
  #accepting = false;
  readonly #slots: HandshakeSlots<Inbound>;
  readonly #inbound = new WeakMap<Duplex, Inbound>();

  constructor(o: PeerNetworkOptions) {
    if (typeof o.instance !== 'string' || o.instance.length === 0)
      throw new TypeError('instance must be a non-empty string');
    if (Buffer.byteLength(o.instance) > MAX_INSTANCE_BYTES) {
      throw new RangeError(`instance must be at most ${MAX_INSTANCE_BYTES} bytes`);
    }
    this.#signer = createSigner(o.secretKey);
    this.id = toHex(this.#signer.publicKey);
    const version = o.protocolVersion ?? PROTOCOL_VERSION;
    if (!Number.isSafeInteger(version) || version < 0 || version > 0xffffffff) {
      throw new RangeError(`protocolVersion must be a u32, got ${version}`);
    }
    const maxFrameBytes = positive('maxFrameBytes', o.maxFrameBytes, 8 * MiB);
    if (maxFrameBytes > 1024 * MiB) throw new RangeError('maxFrameBytes must be at most 1 GiB');
    const pingIntervalMs = positive('pingIntervalMs', o.pingIntervalMs, 10_000);
    const scoring: ScoringPolicy = { ...DEFAULT_SCORING, ...(o.scoring ?? {}) };
    if (!(scoring.banThreshold < 0)) throw new RangeError('scoring.banThreshold must be negative');
    positive('scoring.banMs', scoring.banMs, 1);
    positive('scoring.hostStrikes', scoring.hostStrikes, 1);
    if (!(scoring.recoveryPerSecond >= 0)) throw new RangeError('scoring.recoveryPerSecond must be >= 0');
    const initialMs = positive('backoff.initialMs', o.backoff?.initialMs, 500);
    const maxPendingHandshakes = positive('maxPendingHandshakes', o.maxPendingHandshakes, 64);
    this.#o = {
      instance: o.instance,
      version,
      maxFrameBytes,
      maxPeers: positive('maxPeers', o.maxPeers, 32),
      framesPerSecond: positive('limits.framesPerSecond', o.limits?.framesPerSecond, 5000, false),
      bytesPerSecond: positive('limits.bytesPerSecond', o.limits?.bytesPerSecond, 64 * MiB, false),
      peerExchange: o.peerExchange ?? true,
      handshakeTimeoutMs: positive('handshakeTimeoutMs', o.handshakeTimeoutMs, 5000),
      backoff: { initialMs, maxMs: Math.max(initialMs, positive('backoff.maxMs', o.backoff?.maxMs, 30_000)) },
      scoring,
      pingIntervalMs,
      idleTimeoutMs: positive('idleTimeoutMs', o.idleTimeoutMs, 3 * pingIntervalMs),
      pexIntervalMs: positive('pexIntervalMs', o.pexIntervalMs, 30_000),
      maxBufferedBytes: positive(
        'maxBufferedBytes',
        o.maxBufferedBytes,
        Math.max(64 * MiB, 4 * maxFrameBytes),
      ),
      maxPendingHandshakes,
      maxPendingHandshakesPerHost: Math.min(
        maxPendingHandshakes,
        positive('maxPendingHandshakesPerHost', o.maxPendingHandshakesPerHost, 16),
      ),
      upgradeTimeoutMs: positive('upgradeTimeoutMs', o.upgradeTimeoutMs, 5000),
      random: o.random ?? Math.random,
    };
    this.#log = o.log ?? defaultLog;
    this.#scores = new Scoreboard(scoring);
    this.#slots = new HandshakeSlots(this.#o.maxPendingHandshakes, this.#o.maxPendingHandshakesPerHost);
    if (o.listen !== undefined) {
      const { host, port } = o.listen;
      if (typeof host !== 'string' || !Number.isSafeInteger(port) || port < 0 || port > 65535) {
        throw new RangeError(`listen must be { host, port } with a port in 0..65535`);
      }
      this.#listen = { host, port };
    }
    if (o.advertise !== undefined) {
      const a = normaliseAddress(o.advertise);
      if (a === undefined)
        throw new TypeError(`advertise is not a ws:// or wss:// address: "${o.advertise}"`);
      this.#advertiseOption = a;
    }
    for (const raw of o.peers ?? []) {
      const entry: PeerEntry = parsePeerEntry(raw);
      if (entry.publicKey === this.id) continue; // ourselves
      if (this.#targets.has(entry.address)) continue;
      this.#targets.set(entry.address, this.#newTarget(entry.address, entry.publicKey, true));
    }
    this.events$ = this.#events.asObservable();
    this.rejections$ = this.#rejections.asObservable();
  }

  // --- public API --------------------------------------------------------------------------------

  /**
   * Binds the listen address (if configured) without accepting peers or dialling yet, so that an
   * address the node cannot have fails before anything else starts (rejects with a `ListenError`).
   * `start` calls it when it was not called before.
   */
  listen(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('PeerNetwork is closed'));
    this.#listening ??= this.#listen === undefined ? Promise.resolve() : this.#startServer(this.#listen);
    return this.#listening;
  }

  /** Listens (if configured and not yet), accepts peers and starts dialling the configured ones. */
  async start(): Promise<void> {
    if (this.#closed) throw new Error('PeerNetwork is closed');
    if (this.#started) throw new Error('PeerNetwork already started');
    this.#started = true;
    await this.listen();
    this.#accepting = true;
    if (this.#closed) return; // close() was called while we were binding
    this.#pingTimer = setInterval(() => this.#safely('ping', () => this.#pingTick()), this.#o.pingIntervalMs);
    this.#pexTimer = setInterval(() => this.#safely('pex', () => this.#pexTick()), this.#o.pexIntervalMs);
    for (const t of this.#targets.values()) this.#dial(t);
    this.#log('info', 'network started', { id: this.id, port: this.port, peers: this.#targets.size });
  }

  /** The actual listen port after `start` (undefined when not listening). */
  get port(): number | undefined {
    const a = this.#server?.address();
    return a !== null && typeof a === 'object' ? a.port : undefined;
  }

  /** The address sent to peers in the handshake (null when not listening). */
  get advertisedAddress(): string | null {
    if (this.#advertiseOption !== undefined) return this.#advertiseOption;
    const port = this.port;
    if (this.#listen === undefined || port === undefined) return null;
    const h = this.#listen.host;
    const host = h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
    return `ws://${host}:${port}`;
  }

  /** Registers a handler for application frames; returns a function that removes it. A throwing
   * handler is logged and does not affect the connection. */
  onFrame(handler: FrameHandler): () => void {
    this.#handlers.add(handler);
    return () => {
      this.#handlers.delete(handler);
    };
  }

  /**
   * Sends `bytes` on `channel` (0..254) to `peer`. False when the peer is not connected, or the
   * frame was dropped: larger than the peer accepts, or the peer's socket has too much unsent
   * (see `stats().dropped`).
   */
  send(peer: string, channel: number, bytes: Uint8Array): boolean {
    checkChannel(channel);
    if (!(bytes instanceof Uint8Array)) throw new TypeError('frame bytes must be a Uint8Array');
    const session = this.#sessions.get(peer);
    const conn = session?.conn;
    if (session === undefined || conn === undefined || conn.state !== 'open' || conn.channel === undefined)
      return false;
    const limit = Math.min(this.#o.maxFrameBytes, session.peerMaxFrameBytes);
    if (bytes.length > limit) {
      this.#drop('oversize');
      this.#log('warn', 'frame larger than the peer accepts: dropped', {
        peer,
        channel,
        bytes: bytes.length,
        limit,
      });
      return false;
    }
    if (conn.ws.bufferedAmount > this.#o.maxBufferedBytes) {
      this.#drop('backpressure');
      return false;
    }
    if (!this.#rawSend(conn, conn.channel.sealFrame(channel, bytes))) return false;
    session.framesOut++;
    session.bytesOut += bytes.length;
    this.#totals.framesOut++;
    this.#totals.bytesOut += bytes.length;
    return true;
  }

  /** Sends to every connected peer; returns how many it was sent to. */
  broadcast(channel: number, bytes: Uint8Array): number {
    checkChannel(channel);
    let n = 0;
    for (const id of [...this.#sessions.keys()]) if (this.send(id, channel, bytes)) n++;
    return n;
  }

  /**
   * Lowers `peer`'s score by `weight` (default 10) for `reason`. At the ban threshold (default
   * -100) the peer is disconnected with `penalised` and banned for the ban duration.
   */
  penalise(peer: string, reason: string, weight: number = DEFAULT_PENALTY_WEIGHT): void {
    if (typeof peer !== 'string' || this.#closed) return;
    this.#safely('penalise', () => {
      const { score, banned } = this.#scores.penalise(peer, weight, Date.now());
      this.#log(banned ? 'warn' : 'info', 'peer penalised', { peer, reason, weight, score, banned });
      if (!banned) return;
      const session = this.#sessions.get(peer);
      if (session === undefined) return;
      if (session.conn !== undefined) this.#fail(session.conn, 'penalised', reason);
      else this.#sessionLost(session, 'penalised', reason);
    });
  }

  /** The connected peers. */
  peers(): PeerInfo[] {
    return [...this.#sessions.values()].map((s) => this.#info(s));
  }

  /** A peer's current score (0 when unknown). */
  score(peer: string): number {
    return this.#scores.score(peer, Date.now());
  }

  isBanned(peer: string): boolean {
    return this.#scores.isBanned(peer, Date.now());
  }

  /** Current bans: identities and hosts, each with the time (ms since epoch) its ban ends. */
  bans(): { ids: Record<string, number>; hosts: Record<string, number> } {
    return this.#scores.bans(Date.now());
  }

  stats(): NetworkStats {
    return { ...this.#totals, rejected: { ...this.#rejected }, dropped: { ...this.#dropped } };
  }

  /** Closes the server and every connection (peers see `shutdown`), stops redialling. */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    this.#closing = this.#shutdown();
    return this.#closing;
  }

  // --- server and dialling -----------------------------------------------------------------------

  async #startServer(listen: { host: string; port: number }): Promise<void> {
    const server = createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', connection: 'close' });
      res.end('fractal peer transport: WebSocket only\n');
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    server.on('connection', (socket: Socket) => {
      try {
        this.#onTcp(socket);
      } catch (e) {
        this.#log('error', 'accepting a connection failed', { error: errorMessage(e) });
        socket.destroy();
      }
    });
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.#o.maxFrameBytes + FRAME_OVERHEAD,
      perMessageDeflate: false,
      clientTracking: false,
      skipUTF8Validation: true,
    });
    wss.on('error', (e) => this.#log('warn', 'websocket server error', { error: errorMessage(e) }));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => {}); // errors surface through the WebSocket (or there is nothing to do)
      try {
        this.#onUpgrade(wss, req, socket, head);
      } catch (e) {
        this.#log('error', 'upgrade failed', { error: errorMessage(e) });
        socket.destroy();
      }
    });
    await listenOn(server, 'P2P', listen.host, listen.port);
    server.on('error', (e) => this.#log('error', 'server error', { error: errorMessage(e) }));
    this.#server = server;
    this.#wss = wss;
    // close() was called while we were binding: it did not see the server
    if (this.#closed) await this.#closeServer();
  }

  /** A TCP connection arrived: it needs a handshake slot, and must ask for the upgrade in time. */
  #onTcp(socket: Socket): void {
    if (this.#closed || !this.#accepting) {
      socket.destroy();
      return;
    }
    socket.on('error', () => {}); // errors surface through the WebSocket (or there is nothing to do)
    const host = hostOfRemote(socket.remoteAddress);
    const inbound: Inbound = {
      socket,
      host,
      share: shareKeyOf(host ?? ''),
      timer: undefined,
      conn: undefined,
    };
    const slot = this.#slots.acquire(inbound.share, inbound);
    if (!slot.ok) {
      this.#reject({
        reason: 'too-many-peers',
        direction: 'in',
        ...(host !== undefined ? { address: host } : {}),
        detail:
          slot.refused === 'host'
            ? `this host already holds its ${this.#o.maxPendingHandshakesPerHost} pending handshakes`
            : `all ${this.#o.maxPendingHandshakes} pending handshake slots are taken`,
      });
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', () =>
        socket.destroy(),
      );
      return;
    }
    if (slot.evict !== undefined) this.#evict(slot.evict);
    this.#inbound.set(socket, inbound);
    socket.once('close', () => {
      clearTimeout(inbound.timer);
      this.#slots.release(inbound.share, inbound);
    });
    inbound.timer = setTimeout(() => {
      inbound.timer = undefined;
      if (inbound.conn !== undefined || socket.destroyed) return;
      this.#reject({
        reason: 'handshake-timeout',
        direction: 'in',
        ...(host !== undefined ? { address: host } : {}),
        detail: `no upgrade request within ${this.#o.upgradeTimeoutMs} ms`,
      });
      this.#log('info', 'disconnecting: handshake-timeout', { address: host, detail: 'no upgrade request' });
      socket.destroy();
    }, this.#o.upgradeTimeoutMs);
  }

  /** Another host needed the pending-handshake slot of `victim` (its host holds the most). */
  #evict(victim: Inbound): void {
    const detail = 'pending handshake evicted: another host needed the slot';
    if (victim.conn !== undefined) {
      this.#fail(victim.conn, 'too-many-peers', detail);
      return;
    }
    this.#reject({
      reason: 'too-many-peers',
      direction: 'in',
      ...(victim.host !== undefined ? { address: victim.host } : {}),
      detail,
    });
    victim.socket.destroy();
  }

  #onUpgrade(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const inbound = this.#inbound.get(socket);
    const host = hostOfRemote(req.socket.remoteAddress);
    const refuse = (status: string, reason: DisconnectReason) => {
      this.#reject({
        reason,
        direction: 'in',
        address: host,
        detail: `refused before the upgrade (${status})`,
      });
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroy();
    };
    // no slot: refused or evicted at the accept, or it came before `start`
    if (this.#closed || inbound === undefined || socket.destroyed) {
      socket.destroy();
      return;
    }
    clearTimeout(inbound.timer);
    inbound.timer = undefined;
    if (host !== undefined && this.#scores.isHostBanned(host, Date.now())) {
      refuse('403 Forbidden', 'banned');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new Conn(ws, 'in', undefined, host, this.#o);
      conn.inbound = inbound;
      inbound.conn = conn;
      this.#setup(conn);
      if (this.#closed) {
        this.#fail(conn, 'shutdown');
        return;
      }
      this.#guard(conn, () => this.#beginHandshake(conn));
    });
  }

  #newTarget(address: string, publicKey: string | undefined, persistent: boolean): DialTarget {
    const t: DialTarget = { address, persistent, attempts: 0, failures: 0, bannedUntil: 0, self: false };
    if (publicKey !== undefined) return { ...t, publicKey };
    return t;
  }

  #targetId(t: DialTarget): string | undefined {
    return t.publicKey ?? t.learnedId;
  }

  #dial(t: DialTarget): void {
    if (this.#closed || !this.#started || t.conn !== undefined || t.self) return;
    if (t.timer !== undefined) {
      clearTimeout(t.timer);
      t.timer = undefined;
    }
    const id = this.#targetId(t);
    if (id !== undefined && this.#sessions.has(id)) return; // connected: redialled when it goes down
    const now = Date.now();
    const bannedUntil = Math.max(t.bannedUntil, id === undefined ? 0 : (this.#scores.bannedUntil(id) ?? 0));
    if (bannedUntil > now) {
      this.#schedule(t, bannedUntil - now);
      return;
    }
    if (!t.persistent && this.#sessions.size + this.#pendingOutbound() >= this.#o.maxPeers) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(t.address, {
        perMessageDeflate: false,
        maxPayload: this.#o.maxFrameBytes + FRAME_OVERHEAD,
        handshakeTimeout: this.#o.handshakeTimeoutMs,
        followRedirects: false,
        skipUTF8Validation: true,
      });
    } catch (e) {
      this.#log('warn', 'cannot dial', { address: t.address, error: errorMessage(e) });
      this.#afterDial(t, 'connection-lost', false);
      return;
    }
    const conn = new Conn(ws, 'out', t, undefined, this.#o);
    t.conn = conn;
    this.#setup(conn);
    ws.on('open', () => this.#guard(conn, () => this.#beginHandshake(conn)));
    this.#log('debug', 'dialling', { address: t.address, attempt: t.attempts });
  }

  #pendingOutbound(): number {
    let n = 0;
    for (const t of this.#targets.values()) if (t.conn !== undefined && t.conn.state !== 'open') n++;
    return n;
  }

  /** Dials `t` after its next backoff delay (or `delay`), unless already pending or connected. */
  #schedule(t: DialTarget, delay?: number): void {
    if (this.#closed || t.self || t.conn !== undefined || t.timer !== undefined) return;
    if (!this.#targets.has(t.address)) return;
    const now = Date.now();
    let ms = delay;
    if (ms === undefined) {
      if (t.upSince !== undefined && now - t.upSince >= this.#stableMs()) t.attempts = 0;
      t.upSince = undefined;
      ms = backoffDelay(this.#o.backoff, t.attempts++, this.#o.random);
    }
    t.timer = setTimeout(() => {
      t.timer = undefined;
      this.#safely('dial', () => this.#dial(t));
    }, ms);
  }

  /** A session that lasted this long resets its address's backoff. */
  #stableMs(): number {
    return Math.max(5000, this.#o.backoff.initialMs * 4);
  }

  /** Bookkeeping after a dialled connection ended (whatever the reason). */
  #afterDial(t: DialTarget, reason: DisconnectReason, wasOpen: boolean): void {
    if (this.#closed) return;
    if (reason === 'self') {
      t.self = true;
      this.#log('info', 'address is ourselves: not dialling it again', { address: t.address });
      if (!t.persistent) this.#targets.delete(t.address);
      return;
    }
    if (!t.persistent) {
      const final =
        reason === 'wrong-identity' ||
        reason === 'wrong-instance' ||
        reason === 'wrong-version' ||
        reason === 'banned' ||
        OFFENCES.has(reason);
      if (!wasOpen && reason !== 'duplicate') t.failures++;
      if (final || t.failures >= PEX_MAX_FAILURES) {
        this.#targets.delete(t.address);
        return;
      }
    }
    const id = this.#targetId(t);
    if (id !== undefined && this.#sessions.has(id)) return;
    this.#schedule(t);
  }

  /** Redials the addresses of a peer whose session ended. */
  #redialPeer(id: string): void {
    for (const t of this.#targets.values()) {
      if (this.#targetId(t) === id && t.conn === undefined) {
        if (t.persistent || this.#o.peerExchange) this.#schedule(t);
      }
    }
  }

  // --- connections -------------------------------------------------------------------------------

  #setup(conn: Conn): void {
    const ws = conn.ws;
    ws.binaryType = 'nodebuffer';
    this.#conns.add(conn);
    conn.hsTimer = setTimeout(
      () =>
        this.#guard(conn, () => this.#fail(conn, 'handshake-timeout', `${this.#o.handshakeTimeoutMs} ms`)),
      this.#o.handshakeTimeoutMs,
    );
    ws.on('message', (data: RawData, isBinary: boolean) =>
      this.#guard(conn, () => this.#onMessage(conn, data, isBinary)),
    );
    ws.on('error', (err: Error) => this.#guard(conn, () => this.#onError(conn, err)));
    ws.on('close', (code: number, reason: Buffer) => {
      try {
        this.#onClose(conn, code, reason.toString('utf8'));
      } catch (e) {
        this.#log('error', 'internal error closing a connection', { error: errorMessage(e) });
      } finally {
        if (conn.killTimer !== undefined) clearTimeout(conn.killTimer);
        if (conn.hsTimer !== undefined) clearTimeout(conn.hsTimer);
        this.#conns.delete(conn);
        conn.resolveClosed();
      }
    });
  }

  #beginHandshake(conn: Conn): void {
    if (conn.state !== 'connecting') return;
    conn.state = 'handshake';
    conn.hs = new Handshake({
      role: conn.direction === 'out' ? 'initiator' : 'responder',
      identity: this.#signer,
      instance: this.#o.instance,
      version: this.#o.version,
      listen: this.advertisedAddress,
      maxFrameBytes: this.#o.maxFrameBytes,
    });
    this.#rawSend(conn, conn.hs.hello);
  }

  #onMessage(conn: Conn, data: RawData, isBinary: boolean): void {
    if (conn.state === 'closed' || conn.state === 'connecting') return;
    const bytes = bytesOf(data);
    const now = performance.now();
    if (!conn.frames.take(1, now)) {
      this.#fail(conn, 'flood', `more than ${this.#o.framesPerSecond} frames/s`);
      return;
    }
    if (!conn.bytes.take(bytes.length, now)) {
      this.#fail(conn, 'flood', `more than ${this.#o.bytesPerSecond} bytes/s`);
      return;
    }
    if (!isBinary) {
      this.#fail(conn, 'protocol', 'text message');
      return;
    }
    conn.lastSeen = Date.now();
    if (conn.state === 'handshake') {
      if (conn.direction === 'in' && conn.hs!.state === 'hello' && this.#selfDial(conn, bytes)) return;
      const step = conn.hs!.receive(bytes);
      if (!step.ok) {
        this.#fail(conn, step.reason, step.detail);
        return;
      }
      if (step.done !== undefined) this.#onHandshakeDone(conn, step.done, step.send);
      else if (step.send !== undefined) this.#rawSend(conn, step.send);
      return;
    }
    const opened = conn.channel!.open(bytes);
    if (!opened.ok) {
      this.#fail(
        conn,
        opened.reason,
        opened.reason === 'replay' ? 'counter out of order' : 'frame does not decrypt',
      );
      return;
    }
    const plain = opened.plaintext;
    if (plain.length < 1) {
      this.#fail(conn, 'undecodable', 'empty frame');
      return;
    }
    const channel = plain[0]!;
    const payload = plain.subarray(1);
    if (payload.length > this.#o.maxFrameBytes) {
      this.#fail(conn, 'oversize-frame', `${payload.length} bytes > ${this.#o.maxFrameBytes}`);
      return;
    }
    if (channel === CONTROL_CHANNEL) {
      this.#onControl(conn, payload);
      return;
    }
    this.#deliver(conn, channel, payload);
  }

  /** An inbound hello that one of our own dials sent: we dialled ourselves. Ends both ends. */
  #selfDial(inbound: Conn, hello: Uint8Array): boolean {
    for (const c of this.#conns) {
      if (c.direction !== 'out' || c.hs === undefined || c.state !== 'handshake') continue;
      if (!Buffer.from(c.hs.hello).equals(Buffer.from(hello))) continue;
      if (c.target !== undefined) c.target.self = true;
      this.#fail(inbound, 'self', 'a connection from ourselves');
      this.#fail(c, 'self', 'dialled our own address');
      return true;
    }
    return false;
  }

  #deliver(conn: Conn, channel: number, payload: Uint8Array): void {
    const session = conn.session;
    if (session === undefined || this.#sessions.get(session.id) !== session) return;
    session.framesIn++;
    session.bytesIn += payload.length;
    this.#totals.framesIn++;
    this.#totals.bytesIn += payload.length;
    for (const h of [...this.#handlers]) {
      try {
        h(session.id, channel, payload);
      } catch (e) {
        this.#log('error', 'frame handler threw', { peer: session.id, channel, error: errorMessage(e) });
      }
    }
  }

  #onControl(conn: Conn, payload: Uint8Array): void {
    const msg = decodeControl(payload);
    if (msg === undefined) {
      this.#fail(conn, 'undecodable', 'control message');
      return;
    }
    switch (msg.tag) {
      case 'ping':
        this.#sendControl(conn, { tag: 'pong', value: msg.value });
        return;
      case 'pong':
        return;
      case 'peers':
        if (this.#o.peerExchange) this.#onPeers(conn, msg.value);
        return;
    }
  }

  /** The connection no longer counts as a pending handshake. */
  #handshakeOver(conn: Conn): void {
    if (conn.hsTimer !== undefined) clearTimeout(conn.hsTimer);
    conn.hsTimer = undefined;
    const inbound = conn.inbound;
    if (inbound !== undefined) {
      conn.inbound = undefined;
      this.#slots.release(inbound.share, inbound);
    }
  }

  /** The peer proved its identity: accept it (sending `reply`, the responder's auth, first) or refuse it. */
  #onHandshakeDone(conn: Conn, r: HandshakeResult, reply: Uint8Array | undefined): void {
    this.#handshakeOver(conn);
    conn.channel = r.channel;
    conn.result = r;
    conn.hs = undefined;
    const id = r.peerId;
    if (conn.direction === 'in' && r.listen !== null)
      conn.address = resolveAdvertised(r.listen, conn.remoteHost);
    const t = conn.target;
    if (id === this.id) {
      this.#fail(conn, 'self', 'connected to ourselves');
      return;
    }
    if (t?.publicKey !== undefined && t.publicKey !== id) {
      this.#fail(conn, 'wrong-identity', `expected ${t.publicKey}, the peer is ${id}`);
      return;
    }
    conn.peerId = id;
    if (t !== undefined) t.learnedId = id;
    if (this.#scores.isBanned(id, Date.now())) {
      this.#fail(conn, 'banned', 'identity is banned');
      return;
    }
    const existing = this.#sessions.get(id);
    if (existing !== undefined) {
      const old = existing.conn;
      if (old === undefined) {
        this.#accept(conn, reply);
        this.#attach(existing, conn);
        this.#log('debug', 'peer reconnected within the grace period', { peer: id });
      } else if (this.#rank(conn) < this.#rank(old)) {
        this.#log('debug', 'duplicate connection: replacing the existing one', { peer: id });
        this.#accept(conn, reply);
        this.#retire(old);
        this.#attach(existing, conn);
      } else {
        this.#fail(conn, 'duplicate', 'already connected');
      }
      return;
    }
    if (this.#sessions.size >= this.#o.maxPeers && !this.#isConfigured(id, conn)) {
      this.#fail(conn, 'too-many-peers', `${this.#sessions.size} peers`);
      return;
    }
    const session: Session = {
      id,
      conn: undefined,
      direction: conn.direction,
      connectedAt: Date.now(),
      framesIn: 0,
      framesOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      peerMaxFrameBytes: r.peerMaxFrameBytes,
    };
    this.#accept(conn, reply);
    this.#sessions.set(id, session);
    this.#attach(session, conn);
    for (const tt of this.#targets.values()) {
      if (this.#targetId(tt) === id) {
        tt.upSince = Date.now();
        tt.failures = 0;
        if (tt.timer !== undefined) {
          clearTimeout(tt.timer);
          tt.timer = undefined;
        }
      }
    }
    const info = this.#info(session);
    this.#log('info', 'peer up', { peer: id, address: info.address, direction: info.direction });
    if (this.#o.peerExchange) this.#announce(session);
    this.#events.next({ type: 'up', peer: info });
  }

  /** Completes the handshake on our side: the responder's auth must precede every frame. */
  #accept(conn: Conn, reply: Uint8Array | undefined): void {
    if (reply !== undefined) this.#rawSend(conn, reply);
  }

  /** Orders two connections between the same pair identically on both ends: the one dialled by the
   * smaller public key wins, then the smaller transcript hash. */
  #rank(conn: Conn): string {
    const initiator = conn.direction === 'out' ? this.id : conn.peerId!;
    return `${initiator}:${toHex(conn.result!.transcript)}`;
  }

  #isConfigured(id: string, conn: Conn): boolean {
    if (conn.target?.persistent) return true;
    for (const t of this.#targets.values()) if (t.persistent && this.#targetId(t) === id) return true;
    return false;
  }

  #attach(session: Session, conn: Conn): void {
    if (session.orphanTimer !== undefined) {
      clearTimeout(session.orphanTimer);
      session.orphanTimer = undefined;
    }
    session.conn = conn;
    session.direction = conn.direction;
    if (conn.address !== undefined) session.address = conn.address;
    session.peerMaxFrameBytes = conn.result!.peerMaxFrameBytes;
    conn.session = session;
    conn.state = 'open';
    conn.lastSeen = Date.now();
  }

  /** Closes a connection replaced by a duplicate; frames already in flight on it are still delivered. */
  #retire(conn: Conn): void {
    conn.state = 'retiring';
    this.#reject({
      reason: 'duplicate',
      direction: conn.direction,
      ...(conn.peerId !== undefined ? { peer: conn.peerId } : {}),
      ...(conn.address !== undefined ? { address: conn.address } : {}),
      detail: 'replaced by another connection to the same peer',
    });
    if (conn.target !== undefined && conn.target.conn === conn) conn.target.conn = undefined;
    this.#closeWs(conn, CLOSE_CODE_REJECT, 'duplicate');
  }

  /** Ends a connection for `reason`: records it, scores offences, closes the socket. */
  #fail(conn: Conn, reason: DisconnectReason, detail?: string): void {
    if (conn.state === 'closed') return;
    const now = Date.now();
    const peer = conn.peerId;
    const offence = OFFENCES.has(reason);
    const level = offence || reason === 'penalised' ? 'warn' : reason === 'shutdown' ? 'debug' : 'info';
    this.#log(level, `disconnecting: ${reason}`, {
      reason,
      detail,
      peer,
      address: conn.address ?? conn.remoteHost,
      direction: conn.direction,
    });
    if (offence) {
      if (peer !== undefined) {
        this.#scores.penalise(peer, OFFENCE_WEIGHT, now);
        this.#scores.ban(peer, now);
      }
      if (conn.target !== undefined) conn.target.bannedUntil = now + this.#o.scoring.banMs;
    }
    // The host answers only for what was done before an identity was proven: after it, the
    // identity pays (peers sharing an address, such as a devnet on loopback, are not banned with
    // it). Timeouts are not offences: a slow or paused peer is not banned, and idle connections
    // are bounded by the host's pending-handshake share and the deadlines.
    if (offence && peer === undefined && conn.direction === 'in' && conn.remoteHost !== undefined) {
      if (this.#scores.strikeHost(conn.remoteHost, now)) {
        this.#log('warn', 'host banned after repeated offences', { host: conn.remoteHost });
      }
    }
    if (reason !== 'shutdown') {
      this.#reject({
        reason,
        direction: conn.direction,
        ...(peer !== undefined ? { peer } : {}),
        ...(conn.address !== undefined
          ? { address: conn.address }
          : conn.remoteHost !== undefined
            ? { address: conn.remoteHost }
            : {}),
        ...(detail !== undefined ? { detail } : {}),
      });
    }
    const code = reason === 'shutdown' ? CLOSE_CODE_SHUTDOWN : CLOSE_CODE_REJECT;
    this.#end(conn, reason, detail);
    this.#closeWs(conn, code, reason);
  }

  /** Removes a connection from the node's state (session, dial target); the socket may still be closing. */
  #end(conn: Conn, reason: DisconnectReason, detail: string | undefined, orphan = false): void {
    const prev = conn.state;
    conn.state = 'closed';
    this.#handshakeOver(conn);
    const session = conn.session;
    if (prev === 'open' && session !== undefined && session.conn === conn) {
      session.conn = undefined;
      if (orphan && !this.#closed) {
        // the peer replaced this connection by another one, which should complete here shortly
        session.orphanTimer = setTimeout(
          () =>
            this.#safely('orphan', () =>
              this.#sessionLost(session, 'closed-by-peer', 'duplicate not replaced'),
            ),
          Math.min(this.#o.handshakeTimeoutMs, 2000),
        );
      } else {
        this.#sessionLost(session, reason, detail);
      }
    }
    const t = conn.target;
    if (t !== undefined && t.conn === conn) {
      t.conn = undefined;
      this.#afterDial(t, reason, prev === 'open');
    }
  }

  #sessionLost(session: Session, reason: DisconnectReason, detail: string | undefined): void {
    if (this.#sessions.get(session.id) !== session) return;
    if (session.orphanTimer !== undefined) {
      clearTimeout(session.orphanTimer);
      session.orphanTimer = undefined;
    }
    this.#sessions.delete(session.id);
    this.#log('info', 'peer down', { peer: session.id, reason, detail });
    this.#events.next(
      detail === undefined
        ? { type: 'down', peer: session.id, reason }
        : { type: 'down', peer: session.id, reason, detail },
    );
    if (!this.#closed) this.#redialPeer(session.id);
  }

  #onError(conn: Conn, err: Error): void {
    const code = (err as { code?: unknown }).code;
    if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
      this.#fail(conn, 'oversize-frame', err.message);
      return;
    }
    if (typeof code === 'string' && code.startsWith('WS_ERR_')) {
      this.#fail(conn, 'protocol', err.message);
      return;
    }
    conn.lastError = err.message;
    this.#log('debug', 'socket error', { address: conn.address ?? conn.remoteHost, error: err.message });
  }

  #onClose(conn: Conn, code: number, reason: string): void {
    if (conn.state === 'closed') return;
    if (conn.state === 'retiring') {
      conn.state = 'closed';
      return;
    }
    const clean = code === CLOSE_CODE_REJECT || code === CLOSE_CODE_SHUTDOWN || code === 1000;
    const detail = clean ? reason || String(code) : (conn.lastError ?? `close code ${code}`);
    const during = conn.state === 'open' ? 'session' : 'handshake';
    this.#log(
      conn.state === 'open' ? 'info' : 'debug',
      `${clean ? 'connection closed by the peer' : 'connection lost'} during the ${during}`,
      {
        peer: conn.peerId,
        address: conn.address ?? conn.remoteHost,
        code,
        detail,
      },
    );
    const orphan = code === CLOSE_CODE_REJECT && reason === 'duplicate';
    if (code === CLOSE_CODE_REJECT && reason === 'self' && conn.state === 'handshake') {
      // another process with our identity (a misconfiguration): retry only at the slowest pace
      this.#log('warn', 'the peer has our identity', { address: conn.address });
      if (conn.target !== undefined) conn.target.attempts = Math.max(conn.target.attempts, 64);
    }
    this.#end(conn, clean ? 'closed-by-peer' : 'connection-lost', detail, orphan);
  }

  #closeWs(conn: Conn, code: number, reason: string): void {
    const ws = conn.ws;
    try {
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else if (ws.readyState === WebSocket.OPEN) ws.close(code, reason.slice(0, 120));
    } catch {
      ws.terminate();
    }
    if (conn.killTimer === undefined && ws.readyState !== WebSocket.CLOSED) {
      conn.killTimer = setTimeout(() => ws.terminate(), KILL_AFTER_MS);
    }
  }

  #rawSend(conn: Conn, bytes: Uint8Array): boolean {
    if (conn.ws.readyState !== WebSocket.OPEN) return false;
    try {
      conn.ws.send(bytes, { binary: true });
      return true;
    } catch (e) {
      this.#log('debug', 'send failed', { error: errorMessage(e) });
      return false;
    }
  }

  #sendControl(conn: Conn, msg: Control): void {
    if (conn.state !== 'open' || conn.channel === undefined) return;
    if (conn.ws.bufferedAmount > this.#o.maxBufferedBytes) {
      this.#drop('backpressure');
      return;
    }
    this.#rawSend(conn, conn.channel.sealFrame(CONTROL_CHANNEL, encodeControl(msg)));
  }

  // --- peer exchange and maintenance -------------------------------------------------------------

  /** Listen addresses of connected peers (other than `except`), at most MAX_PEX_ENTRIES. */
  #peerList(except: string): { address: string; publicKey: Uint8Array }[] {
    const out: { address: string; publicKey: Uint8Array }[] = [];
    for (const s of this.#sessions.values()) {
      if (out.length >= MAX_PEX_ENTRIES) break;
      if (s.id === except || s.address === undefined || s.conn === undefined) continue;
      out.push({ address: s.address, publicKey: fromHex(s.id) });
    }
    return out;
  }

  /** Tells a new peer about our peers, and our other peers about it. */
  #announce(session: Session): void {
    const conn = session.conn;
    if (conn === undefined) return;
    const list = this.#peerList(session.id);
    if (list.length > 0) this.#sendControl(conn, { tag: 'peers', value: list });
    if (session.address === undefined) return;
    const entry = [{ address: session.address, publicKey: fromHex(session.id) }];
    for (const other of this.#sessions.values()) {
      if (other !== session && other.conn !== undefined)
        this.#sendControl(other.conn, { tag: 'peers', value: entry });
    }
  }

  #onPeers(from: Conn, entries: readonly { address: string; publicKey: Uint8Array }[]): void {
    const now = Date.now();
    let learned = 0;
    for (const e of entries) {
      const id = toHex(e.publicKey);
      if (id === this.id || this.#sessions.has(id) || this.#scores.isBanned(id, now)) continue;
      const address = normaliseAddress(e.address);
      if (address === undefined || this.#targets.has(address)) continue;
      let candidates = 0;
      for (const t of this.#targets.values()) if (!t.persistent) candidates++;
      if (candidates >= MAX_PEX_CANDIDATES) break;
      this.#targets.set(address, this.#newTarget(address, id, false));
      learned++;
    }
    if (learned > 0) {
      this.#log('debug', 'peer exchange: learned addresses', { from: from.peerId, learned });
      this.#dialCandidates();
    }
  }

  #dialCandidates(): void {
    if (!this.#o.peerExchange) return;
    for (const t of this.#targets.values()) {
      if (this.#sessions.size + this.#pendingOutbound() >= this.#o.maxPeers) return;
      if (t.persistent || t.conn !== undefined || t.timer !== undefined) continue;
      this.#dial(t);
    }
  }

  #pexTick(): void {
    if (!this.#o.peerExchange || this.#closed) return;
    for (const s of this.#sessions.values()) {
      if (s.conn === undefined) continue;
      const list = this.#peerList(s.id);
      if (list.length > 0) this.#sendControl(s.conn, { tag: 'peers', value: list });
    }
    this.#dialCandidates();
  }

  #pingTick(): void {
    if (this.#closed) return;
    const now = Date.now();
    for (const s of [...this.#sessions.values()]) {
      const conn = s.conn;
      if (conn === undefined) continue;
      if (now - conn.lastSeen > this.#o.idleTimeoutMs) {
        this.#fail(conn, 'timeout', `silent for ${now - conn.lastSeen} ms`);
        continue;
      }
      this.#sendControl(conn, { tag: 'ping', value: now >>> 0 });
    }
  }

  // --- helpers ----------------------------------------------------------------------------------

  #info(s: Session): PeerInfo {
    const info: PeerInfo = {
      id: s.id,
      direction: s.direction,
      score: this.#scores.score(s.id, Date.now()),
      connectedAt: s.connectedAt,
      framesIn: s.framesIn,
      framesOut: s.framesOut,
      bytesIn: s.bytesIn,
      bytesOut: s.bytesOut,
    };
    if (s.address !== undefined) info.address = s.address;
    return info;
  }

  #reject(r: Omit<Rejection, 'at'>): void {
    this.#count(r.reason);
    this.#rejections.next({ ...r, at: Date.now() });
  }

  #count(reason: string): void {
    this.#rejected[reason] = (this.#rejected[reason] ?? 0) + 1;
  }

  #drop(reason: string): void {
    this.#dropped[reason] = (this.#dropped[reason] ?? 0) + 1;
  }

  /** Runs `fn` for a connection; an unexpected throw ends that connection only. */
  #guard(conn: Conn, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#log('error', 'internal error handling a connection', {
        peer: conn.peerId,
        error: errorMessage(e),
        stack: e instanceof Error ? e.stack : undefined,
      });
      try {
        this.#fail(conn, 'internal-error', errorMessage(e));
      } catch {
        conn.ws.terminate();
      }
    }
  }

  #safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#log('error', `internal error in ${what}`, { error: errorMessage(e) });
    }
  }

  async #closeServer(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    this.#wss?.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  async #shutdown(): Promise<void> {
    if (this.#pingTimer !== undefined) clearInterval(this.#pingTimer);
    if (this.#pexTimer !== undefined) clearInterval(this.#pexTimer);
    for (const t of this.#targets.values()) {
      if (t.timer !== undefined) clearTimeout(t.timer);
      t.timer = undefined;
    }
    for (const s of [...this.#sessions.values()]) {
      if (s.conn === undefined) this.#sessionLost(s, 'shutdown', undefined);
    }
    const conns = [...this.#conns];
    for (const conn of conns) {
      if (conn.state === 'closed' || conn.state === 'retiring')
        this.#closeWs(conn, CLOSE_CODE_SHUTDOWN, 'shutdown');
      else this.#fail(conn, 'shutdown');
    }
    // every socket is closed or terminated within KILL_AFTER_MS; the race is a belt and braces
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(conns.map((c) => c.closed)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, KILL_AFTER_MS * 2);
      }),
    ]);
    clearTimeout(timer);
    await this.#closeServer();
    this.#log('info', 'network closed', { id: this.id });
    this.#events.complete();
    this.#rejections.complete();
  }
}

function checkChannel(channel: number): void {
  if (!Number.isInteger(channel) || channel < 0 || channel > MAX_APP_CHANNEL) {
    throw new RangeError(
      `channel must be an integer in 0..${MAX_APP_CHANNEL} (${CONTROL_CHANNEL} is the transport's)`,
    );
  }
}
