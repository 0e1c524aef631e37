/**
 * PeerNetwork: authenticated, encrypted WebSocket links between Fractal nodes (see README.md).
 *
 * The session logic is the peer session machine's (peer/machine.ts), run for every connection by
 * the peer host (peer/host.ts) as it is in the simulator; this file is the live transport under
 * it: the HTTP server and its upgrade (pending-handshake slots, host bans, the upgrade deadline),
 * WebSocket dialling, sockets and their close, the handshake's real crypto (protocol.ts), and the
 * wall clock. Everything a peer can trigger runs inside a guard: a throw ends that connection with
 * `internal-error`, never the process.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Observable } from 'rxjs';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import {
  CLOSE_CODE_SHUTDOWN,
  DEFAULT_PENALTY_WEIGHT,
  type FrameHandler,
  type HostConn,
  type Log,
  type NetworkStats,
  OFFENCE_WEIGHT,
  type PeerEvent,
  PeerHost,
  type PeerInfo,
  type Rejection,
} from '../../peer/host.ts';
import type { DisconnectReason } from '../../peer/machine.ts';
import { seedState } from '../../runtime/random.ts';
import { toHex } from '../../wire/commit.ts';
import { createSigner, type Signer } from '../../wire/sign.ts';
import { listenOn } from '../listen.ts';
import {
  hostOfRemote,
  normaliseAddress,
  type PeerEntry,
  parsePeerEntry,
  resolveAdvertised,
} from './address.ts';
import { HandshakeSlots, shareKeyOf } from './limits.ts';
import {
  CONTROL_CHANNEL,
  FRAME_OVERHEAD,
  LiveHandshake,
  MAX_APP_CHANNEL,
  MAX_INSTANCE_BYTES,
  PROTOCOL_VERSION,
} from './protocol.ts';
import { DEFAULT_SCORING, type ScoringPolicy } from './scores.ts';

export type { LogLevel } from '../../peer/host.ts';
export type { DisconnectReason, FrameHandler, Log, NetworkStats, PeerEvent, PeerInfo, Rejection };
export { DEFAULT_PENALTY_WEIGHT, OFFENCE_WEIGHT };

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

const MiB = 1024 * 1024;

const KILL_AFTER_MS = 1000;
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
  backoff: { initialMs: number; maxMs: number };
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
  conn: HostConn<Ws> | undefined;
}

/** A WebSocket as the host sees it. */
interface Ws {
  readonly ws: WebSocket;
  /** an inbound connection holding a pending-handshake slot */
  inbound: Inbound | undefined;
  killTimer: NodeJS.Timeout | undefined;
  readonly closed: Promise<void>;
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

/** A PRNG seed drawn from a `random` source (the backoff jitter of one dialled address). */
function seedFrom(random: () => number, address: string): readonly [number, number, number, number] {
  return seedState(address, ...[0, 1, 2, 3].map(() => Math.floor(random() * 0x1_0000_0000)));
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
  readonly #host: PeerHost<Ws>;
  readonly #sockets = new Set<Ws>();
  #server: Server | undefined;
  #wss: WebSocketServer | undefined;
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
    const r = this.#o;
    this.#host = new PeerHost<Ws>(
      {
        self: this.id,
        policy: {
          handshakeTimeoutMs: r.handshakeTimeoutMs,
          idleTimeoutMs: r.idleTimeoutMs,
          maxFrameBytes: r.maxFrameBytes,
          framesPerSecond: r.framesPerSecond,
          bytesPerSecond: r.bytesPerSecond,
          bytesBurst: Math.max(r.bytesPerSecond, r.maxFrameBytes + FRAME_OVERHEAD),
          backoff: r.backoff,
          banMs: r.scoring.banMs,
          learnedMaxFailures: PEX_MAX_FAILURES,
        },
        scoring: r.scoring,
        maxPeers: r.maxPeers,
        peerExchange: r.peerExchange,
        pingIntervalMs: r.pingIntervalMs,
        pexIntervalMs: r.pexIntervalMs,
        maxBufferedBytes: r.maxBufferedBytes,
        log: this.#log,
        seed: (address) => seedFrom(r.random, address),
      },
      this.#io(),
    );
    for (const raw of o.peers ?? []) {
      const entry: PeerEntry = parsePeerEntry(raw);
      if (entry.publicKey === this.id) continue; // ourselves
      this.#host.addTarget(entry.address, entry.publicKey, true);
    }
    this.events$ = this.#host.events$;
    this.rejections$ = this.#host.rejections$;
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
    this.#host.start();
    this.#log('info', 'network started', { id: this.id, port: this.port, peers: this.#host.targets });
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
    return this.#host.onFrame(handler);
  }

  /**
   * Sends `bytes` on `channel` (0..254) to `peer`. False when the peer is not connected, or the
   * frame was dropped: larger than the peer accepts, or the peer's socket has too much unsent
   * (see `stats().dropped`).
   */
  send(peer: string, channel: number, bytes: Uint8Array): boolean {
    checkChannel(channel);
    if (!(bytes instanceof Uint8Array)) throw new TypeError('frame bytes must be a Uint8Array');
    return this.#host.send(peer, channel, bytes);
  }

  /** Sends to every connected peer; returns how many it was sent to. */
  broadcast(channel: number, bytes: Uint8Array): number {
    checkChannel(channel);
    return this.#host.broadcast(channel, bytes);
  }

  /**
   * Lowers `peer`'s score by `weight` (default 10) for `reason`. At the ban threshold (default
   * -100) the peer is disconnected with `penalised` and banned for the ban duration.
   */
  penalise(peer: string, reason: string, weight: number = DEFAULT_PENALTY_WEIGHT): void {
    this.#host.penalise(peer, reason, weight);
  }

  /** The connected peers. */
  peers(): PeerInfo[] {
    return this.#host.peers();
  }

  /** A peer's current score (0 when unknown). */
  score(peer: string): number {
    return this.#host.scores.score(peer, Date.now());
  }

  isBanned(peer: string): boolean {
    return this.#host.scores.isBanned(peer, Date.now());
  }

  /** Current bans: identities and hosts, each with the time (ms since epoch) its ban ends. */
  bans(): { ids: Record<string, number>; hosts: Record<string, number> } {
    return this.#host.scores.bans(Date.now());
  }

  stats(): NetworkStats {
    return this.#host.stats();
  }

  /** Closes the server and every connection (peers see `shutdown`), stops redialling. */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    this.#closing = this.#shutdown();
    return this.#closing;
  }

  // --- the transport under the peer host --------------------------------------------------------------

  #io() {
    return {
      now: () => Date.now(),
      connect: (address: string, conn: HostConn<Ws>) => this.#dial(address, conn),
      send: (s: Ws, bytes: Uint8Array) => this.#rawSend(s, bytes),
      buffered: (s: Ws) => s.ws.bufferedAmount,
      close: (s: Ws, code: number, reason: string) => this.#closeWs(s, code, reason),
      handshakeOver: (conn: HostConn<Ws>) => {
        const inbound = conn.socket?.inbound;
        if (conn.socket === undefined || inbound === undefined) return;
        conn.socket.inbound = undefined;
        this.#slots.release(inbound.share, inbound);
      },
      handshake: (role: 'initiator' | 'responder') =>
        LiveHandshake.start({
          role,
          identity: this.#signer,
          instance: this.#o.instance,
          version: this.#o.version,
          listen: this.advertisedAddress,
          maxFrameBytes: this.#o.maxFrameBytes,
        }),
      setTimer: (fn: () => void, ms: number) => setTimeout(fn, ms),
      clearTimer: (t: unknown) => {
        if (t !== undefined) clearTimeout(t as NodeJS.Timeout);
      },
      dialAddress: (listen: string, remoteHost: string | undefined) => resolveAdvertised(listen, remoteHost),
      normalise: (address: string) => normaliseAddress(address),
    };
  }

  // --- server and upgrade ----------------------------------------------------------------------

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
      this.#host.reject({
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
      this.#host.reject({
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
    if (victim.conn !== undefined) {
      this.#host.evict(victim.conn);
      return;
    }
    this.#host.reject({
      reason: 'too-many-peers',
      direction: 'in',
      ...(victim.host !== undefined ? { address: victim.host } : {}),
      detail: 'pending handshake evicted: another host needed the slot',
    });
    victim.socket.destroy();
  }

  #onUpgrade(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const inbound = this.#inbound.get(socket);
    const host = hostOfRemote(req.socket.remoteAddress);
    const refuse = (status: string, reason: DisconnectReason) => {
      this.#host.reject({
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
    if (host !== undefined && this.#host.scores.isHostBanned(host, Date.now())) {
      refuse('403 Forbidden', 'banned');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const s = this.#socket(ws);
      s.inbound = inbound;
      const conn = this.#host.accept(s, host);
      inbound.conn = conn;
      this.#wire(s, conn);
    });
  }

  /** A WebSocket to `address` for the host's connection `conn` (undefined when it cannot be made). */
  #dial(address: string, conn: HostConn<Ws>): Ws | undefined {
    let ws: WebSocket;
    try {
      ws = new WebSocket(address, {
        perMessageDeflate: false,
        maxPayload: this.#o.maxFrameBytes + FRAME_OVERHEAD,
        handshakeTimeout: this.#o.handshakeTimeoutMs,
        followRedirects: false,
        skipUTF8Validation: true,
      });
    } catch (e) {
      this.#log('warn', 'cannot dial', { address, error: errorMessage(e) });
      return undefined;
    }
    const s = this.#socket(ws);
    this.#wire(s, conn);
    ws.on('open', () => this.#host.opened(conn));
    return s;
  }

  #socket(ws: WebSocket): Ws {
    ws.binaryType = 'nodebuffer';
    let resolveClosed!: () => void;
    const closed = new Promise<void>((resolve) => {
      resolveClosed = resolve;
    });
    const s: Ws = { ws, inbound: undefined, killTimer: undefined, closed };
    this.#sockets.add(s);
    ws.on('close', () => {
      if (s.killTimer !== undefined) clearTimeout(s.killTimer);
      this.#sockets.delete(s);
      resolveClosed();
    });
    return s;
  }

  /** Reports a socket's events to the host. */
  #wire(s: Ws, conn: HostConn<Ws>): void {
    const ws = s.ws;
    ws.on('message', (data: RawData, isBinary: boolean) =>
      this.#host.received(conn, bytesOf(data), isBinary),
    );
    ws.on('error', (err: Error) => {
      const code = (err as { code?: unknown }).code;
      if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')
        this.#host.socketError(conn, 'oversize-frame', err.message);
      else if (typeof code === 'string' && code.startsWith('WS_ERR_'))
        this.#host.socketError(conn, 'protocol', err.message);
      else this.#host.socketError(conn, undefined, err.message);
    });
    ws.on('close', (code: number, reason: Buffer) => {
      const inbound = s.inbound;
      if (inbound !== undefined) {
        s.inbound = undefined;
        this.#slots.release(inbound.share, inbound);
      }
      this.#host.closedSocket(conn, code, reason.toString('utf8'));
    });
  }

  #closeWs(s: Ws, code: number, reason: string): void {
    const ws = s.ws;
    try {
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else if (ws.readyState === WebSocket.OPEN) ws.close(code, reason.slice(0, 120));
    } catch {
      ws.terminate();
    }
    if (s.killTimer === undefined && ws.readyState !== WebSocket.CLOSED) {
      s.killTimer = setTimeout(() => ws.terminate(), KILL_AFTER_MS);
    }
  }

  #rawSend(s: Ws, bytes: Uint8Array): boolean {
    if (s.ws.readyState !== WebSocket.OPEN) return false;
    try {
      s.ws.send(bytes, { binary: true });
      return true;
    } catch (e) {
      this.#log('debug', 'send failed', { error: errorMessage(e) });
      return false;
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
    this.#host.shutdown();
    const sockets = [...this.#sockets];
    for (const s of sockets) this.#closeWs(s, CLOSE_CODE_SHUTDOWN, 'shutdown');
    // every socket is closed or terminated within KILL_AFTER_MS; the race is a belt and braces
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(sockets.map((s) => s.closed)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, KILL_AFTER_MS * 2);
      }),
    ]);
    clearTimeout(timer);
    await this.#closeServer();
  }
}

function checkChannel(channel: number): void {
  if (!Number.isInteger(channel) || channel < 0 || channel > MAX_APP_CHANNEL) {
    throw new RangeError(
      `channel must be an integer in 0..${MAX_APP_CHANNEL} (${CONTROL_CHANNEL} is the transport's)`,
    );
  }
}
