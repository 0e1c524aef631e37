/**
 * The peer host: runs the peer session machine (machine.ts) for every connection of one node,
 * over a transport it is handed (`PeerHostIO`: sockets, timers, the clock, the handshake), and keeps
 * what is the node's rather than one connection's: the sessions by identity (at most one live
 * connection each; a duplicate is collapsed by rank, a connection the peer replaced is given a
 * grace period), the addresses it keeps dialled (one machine each, across its connections), peer
 * scores and bans, peer exchange, statistics and the up/down events.
 *
 * The live transport (node/net/network.ts) drives it with WebSockets and the wall clock, the
 * simulator (sim/sessions.ts) with simulated sockets and the virtual clock; both run the same
 * machines and the same registry, so the session logic the simulator tests is the live one.
 *
 * Every machine step's effects are applied in order; an answer the machine asked for (`admission`
 * after `authenticated`) or a failure found while applying them is fed back once they are all
 * applied. A throw while handling a connection ends that connection only (`internal-error`).
 */
import { type Observable, Subject } from 'rxjs';
import type { PrngState } from '../runtime/random.ts';
import { fromHex, toHex } from '../wire/commit.ts';
import {
  CONTROL_CHANNEL,
  encodeControl,
  MAX_APP_CHANNEL,
  MAX_PEX_ENTRIES,
  type PeerAddress,
} from './control.ts';
import {
  type DisconnectReason,
  type Existing,
  OFFENCES,
  type PeerEffect,
  type PeerMachineEvent,
  type PeerPolicy,
  type PeerSnapshot,
  type PeerTimer,
  peerStateOf,
  type SessionHandshake,
  startPeer,
  stepPeer,
} from './machine.ts';
import { Scoreboard, type ScoringPolicy } from './scores.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

export const OFFENCE_WEIGHT = 100;
export const DEFAULT_PENALTY_WEIGHT = 10;
/** WebSocket close codes the transport uses (the simulator's sockets carry them too). */
export const CLOSE_CODE_REJECT = 4000;
export const CLOSE_CODE_SHUTDOWN = 1001;
const MAX_PEX_CANDIDATES = 256;

export interface PeerInfo {
  /** hex public key */
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

/** What the host needs from a transport. `S` is its socket. */
export interface PeerHostIO<S> {
  now(): number;
  /** Opens a socket to `address` for `conn`; the transport then reports on it through the host's
   * `opened`, `received`, `socketError` and `closed`. Undefined when it cannot even try. */
  connect(address: string, conn: HostConn<S>): S | undefined;
  send(socket: S, bytes: Uint8Array): boolean;
  /** bytes accepted by `send` and not yet written (backpressure) */
  buffered(socket: S): number;
  close(socket: S, code: number, reason: string): void;
  /** the connection no longer counts as a pending handshake */
  handshakeOver(conn: HostConn<S>): void;
  /** a fresh side of the handshake (new randomness) and its hello */
  handshake(role: 'initiator' | 'responder'): { handshake: SessionHandshake; hello: Uint8Array };
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
  /** where an inbound peer can be dialled, from the address it advertised and where it came from */
  dialAddress(listen: string, remoteHost: string | undefined): string | undefined;
  /** a peer-exchange address in canonical form, or undefined when unusable */
  normalise(address: string): string | undefined;
}

export interface PeerHostOptions {
  /** our identity (hex public key) */
  readonly self: string;
  readonly policy: PeerPolicy;
  readonly scoring: ScoringPolicy;
  /** sessions beyond which inbound connections and peer-exchange dials are refused */
  readonly maxPeers: number;
  readonly peerExchange: boolean;
  readonly pingIntervalMs: number;
  readonly pexIntervalMs: number;
  /** frames for a peer with more than this unsent are dropped */
  readonly maxBufferedBytes: number;
  readonly log: Log;
  /** the backoff jitter's seed for the link to `address` */
  seed(address: string): PrngState;
  /** Every step of a machine that changed its state (the simulator records them). */
  onTransition?(t: SessionTransition): void;
}

/** A step of a peer machine that changed its state. */
export interface SessionTransition {
  /** the link's address (outbound) or the remote host (inbound) */
  readonly where: string;
  readonly direction: 'in' | 'out';
  readonly event: PeerMachineEvent['type'];
  readonly from: string;
  readonly to: string;
  readonly taken: readonly string[];
}

/** One machine: an outbound link (across its connections) or one inbound connection. */
class Runner<S> {
  conn: HostConn<S> | undefined;
  readonly timers = new Map<PeerTimer, unknown>();
  /** events to feed once the step in progress has applied its effects */
  readonly pending: (() => PeerMachineEvent | undefined)[] = [];
  stepping = false;

  constructor(
    public snapshot: PeerSnapshot,
    readonly link: Link<S> | undefined,
  ) {}

  get state(): string {
    return peerStateOf(this.snapshot);
  }
}

interface Link<S> {
  readonly address: string;
  /** pinned identity */
  readonly publicKey?: string;
  readonly persistent: boolean;
  /** the identity found at this address by the last handshake */
  learnedId?: string;
  runner: Runner<S>;
}

/** One socket, dialled or accepted. */
export class HostConn<S> {
  socket: S | undefined;
  /** set once the peer is admitted */
  peerId: string | undefined;
  /** where the peer can be dialled */
  address: string | undefined;
  /** our hello, on a dialled connection (to spot our own coming back) */
  hello: Uint8Array | undefined;
  /** we closed it (or are closing it) */
  closing = false;
  closed = false;
  lastError: string | undefined;

  constructor(
    readonly direction: 'in' | 'out',
    readonly runner: Runner<S>,
    readonly remoteHost: string | undefined,
  ) {
    if (runner.link !== undefined) this.address = runner.link.address;
  }
}

interface Session<S> {
  readonly id: string;
  /** undefined briefly while a duplicate connection is being replaced by the peer */
  conn: HostConn<S> | undefined;
  direction: 'in' | 'out';
  address?: string;
  readonly connectedAt: number;
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  peerMaxFrameBytes: number;
  orphanTimer?: unknown;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const SOCKET_STATES = new Set(['dialing', 'open', 'retiring']);
const hasSocket = (state: string) => SOCKET_STATES.has(state) || state.startsWith('handshaking');

export class PeerHost<S> {
  readonly events$: Observable<PeerEvent>;
  readonly rejections$: Observable<Rejection>;
  readonly scores: Scoreboard;

  readonly #o: PeerHostOptions;
  readonly #io: PeerHostIO<S>;
  readonly #log: Log;
  readonly #events = new Subject<PeerEvent>();
  readonly #rejections = new Subject<Rejection>();
  readonly #handlers = new Set<FrameHandler>();
  readonly #links = new Map<string, Link<S>>();
  readonly #inbound = new Set<Runner<S>>();
  readonly #sessions = new Map<string, Session<S>>();
  readonly #conns = new Set<HostConn<S>>();
  readonly #totals = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0 };
  readonly #rejected: Record<string, number> = {};
  readonly #dropped: Record<string, number> = {};
  #pingTimer: unknown;
  #pexTimer: unknown;
  #started = false;
  #closed = false;

  constructor(o: PeerHostOptions, io: PeerHostIO<S>) {
    this.#o = o;
    this.#io = io;
    this.#log = o.log;
    this.scores = new Scoreboard(o.scoring);
    this.events$ = this.#events.asObservable();
    this.rejections$ = this.#rejections.asObservable();
  }

  // --- configuration and life ----------------------------------------------------------------------

  /** An address to keep dialled (configured: forever; learned: until it fails). */
  addTarget(address: string, publicKey: string | undefined, persistent: boolean): void {
    if (this.#links.has(address)) return;
    const target = { address, persistent, ...(publicKey !== undefined ? { pinned: publicKey } : {}) };
    const runner = new Runner<S>(
      startPeer({ self: this.#o.self, policy: this.#o.policy, target, seed: this.#o.seed(address) }),
      undefined,
    );
    const link: Link<S> = {
      address,
      persistent,
      ...(publicKey !== undefined ? { publicKey } : {}),
      runner,
    };
    (runner as { link: Link<S> | undefined }).link = link;
    this.#links.set(address, link);
  }

  get targets(): number {
    return this.#links.size;
  }

  /** Starts the ping and peer-exchange timers and dials every configured address. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    const every = (ms: number, what: string, fn: () => void): unknown => {
      const tick = (): void => {
        if (this.#closed) return;
        this.#safely(what, fn);
        if (what === 'ping') this.#pingTimer = this.#io.setTimer(tick, ms);
        else this.#pexTimer = this.#io.setTimer(tick, ms);
      };
      return this.#io.setTimer(tick, ms);
    };
    this.#pingTimer = every(this.#o.pingIntervalMs, 'ping', () => this.#pingTick());
    this.#pexTimer = every(this.#o.pexIntervalMs, 'pex', () => this.#pexTick());
    for (const l of [...this.#links.values()]) this.#dial(l);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Ends every session (peers see `shutdown`), stops dialling, closes every socket. */
  shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#io.clearTimer(this.#pingTimer);
    this.#io.clearTimer(this.#pexTimer);
    for (const s of [...this.#sessions.values()]) {
      if (s.conn === undefined) this.#sessionLost(s, 'shutdown', undefined);
    }
    const runners = [...[...this.#links.values()].map((l) => l.runner), ...this.#inbound];
    for (const r of runners) {
      this.#guardRunner(r, () => this.#step(r, { type: 'shutdown', now: this.#io.now() }));
      for (const t of r.timers.values()) this.#io.clearTimer(t);
      r.timers.clear();
    }
    for (const c of this.#conns) {
      if (c.socket !== undefined && !c.closing) this.#io.close(c.socket, CLOSE_CODE_SHUTDOWN, 'shutdown');
    }
    this.#log('info', 'network closed', { id: this.#o.self });
    this.#events.complete();
    this.#rejections.complete();
  }

  // --- the transport's reports ---------------------------------------------------------------------

  /** An inbound socket ready for the handshake (after the transport's own checks). */
  accept(socket: S, remoteHost: string | undefined): HostConn<S> {
    const runner = new Runner<S>(startPeer({ self: this.#o.self, policy: this.#o.policy }), undefined);
    const conn = new HostConn<S>('in', runner, remoteHost);
    conn.socket = socket;
    runner.conn = conn;
    this.#conns.add(conn);
    this.#inbound.add(runner);
    if (this.#closed) {
      conn.closing = true;
      this.#io.close(socket, CLOSE_CODE_SHUTDOWN, 'shutdown');
      return conn;
    }
    this.#guard(conn, () => {
      const { handshake, hello } = this.#io.handshake('responder');
      this.#step(runner, { type: 'accept', now: this.#io.now(), handshake, hello });
    });
    return conn;
  }

  /** A dialled socket connected. */
  opened(conn: HostConn<S>): void {
    this.#guard(conn, () => {
      if (!this.#current(conn)) return;
      const { handshake, hello } = this.#io.handshake('initiator');
      conn.hello = hello;
      this.#step(conn.runner, { type: 'socket-opened', now: this.#io.now(), handshake, hello });
    });
  }

  /** A message arrived on a socket. */
  received(conn: HostConn<S>, bytes: Uint8Array, binary: boolean): void {
    this.#guard(conn, () => {
      if (!this.#current(conn)) return;
      const r = conn.runner;
      if (conn.direction === 'in' && r.state === 'handshaking.hello' && this.#selfDial(conn, bytes)) return;
      this.#step(r, { type: 'message', now: this.#io.now(), bytes, binary });
    });
  }

  /** The socket broke the protocol below the frames; `reason` undefined: only worth noting. */
  socketError(conn: HostConn<S>, reason: 'oversize-frame' | 'protocol' | undefined, detail: string): void {
    this.#guard(conn, () => {
      if (reason === undefined) {
        conn.lastError = detail;
        this.#log('debug', 'socket error', { address: conn.address ?? conn.remoteHost, error: detail });
        return;
      }
      if (!this.#current(conn)) return;
      this.#step(conn.runner, { type: 'socket-error', now: this.#io.now(), reason, detail });
    });
  }

  /** The transport needs this pending handshake's slot for another host. */
  evict(conn: HostConn<S>): void {
    this.#guard(conn, () => {
      if (this.#current(conn)) this.#step(conn.runner, { type: 'evicted', now: this.#io.now() });
    });
  }

  /** The socket closed (`code` and `reason` as the close frame said, 1006 when lost). */
  closedSocket(conn: HostConn<S>, code: number, reason: string): void {
    if (conn.closed) return;
    conn.closed = true;
    this.#conns.delete(conn);
    const r = conn.runner;
    try {
      if (!this.#current(conn)) return;
      const state = r.state;
      const clean = code === CLOSE_CODE_REJECT || code === CLOSE_CODE_SHUTDOWN || code === 1000;
      const detail = clean ? reason || String(code) : (conn.lastError ?? `close code ${code}`);
      if (!conn.closing && hasSocket(state) && state !== 'retiring') {
        const open = state === 'open';
        this.#log(
          open ? 'info' : 'debug',
          `${clean ? 'connection closed by the peer' : 'connection lost'} during the ${open ? 'session' : 'handshake'}`,
          { peer: conn.peerId, address: conn.address ?? conn.remoteHost, code, detail },
        );
        if (code === CLOSE_CODE_REJECT && reason === 'self' && state.startsWith('handshaking')) {
          // another process with our identity (a misconfiguration): it is redialled at the slowest pace
          this.#log('warn', 'the peer has our identity', { address: conn.address });
        }
      }
      this.#step(r, {
        type: 'socket-closed',
        now: this.#io.now(),
        clean,
        peerReason: clean ? reason : '',
        detail,
      });
    } catch (e) {
      this.#log('error', 'internal error closing a connection', { error: errorMessage(e) });
    } finally {
      if (r.conn === conn) r.conn = undefined;
      if (r.link === undefined) this.#dropInbound(r);
    }
  }

  // --- the API the node uses -----------------------------------------------------------------------

  onFrame(handler: FrameHandler): () => void {
    this.#handlers.add(handler);
    return () => {
      this.#handlers.delete(handler);
    };
  }

  /** Sends `bytes` on `channel` to `peer`: false when not connected or the frame was dropped. */
  send(peer: string, channel: number, bytes: Uint8Array): boolean {
    const session = this.#sessions.get(peer);
    const conn = session?.conn;
    if (session === undefined || conn === undefined || conn.socket === undefined) return false;
    if (conn.runner.state !== 'open') return false;
    if (this.#io.buffered(conn.socket) > this.#o.maxBufferedBytes) {
      this.#drop('backpressure');
      return false;
    }
    let sent = false;
    this.#guard(conn, () => {
      const effects = this.#step(conn.runner, { type: 'send', now: this.#io.now(), channel, payload: bytes });
      sent = effects.some((e) => e.type === 'send');
    });
    if (!sent) return false;
    if (channel <= MAX_APP_CHANNEL) {
      session.framesOut++;
      session.bytesOut += bytes.length;
      this.#totals.framesOut++;
      this.#totals.bytesOut += bytes.length;
    }
    return true;
  }

  broadcast(channel: number, bytes: Uint8Array): number {
    let n = 0;
    for (const id of [...this.#sessions.keys()]) if (this.send(id, channel, bytes)) n++;
    return n;
  }

  /** Lowers `peer`'s score; at the ban threshold the peer is disconnected (`penalised`) and banned. */
  penalise(peer: string, reason: string, weight: number = DEFAULT_PENALTY_WEIGHT): void {
    if (typeof peer !== 'string' || this.#closed) return;
    this.#safely('penalise', () => {
      const now = this.#io.now();
      const { score, banned } = this.scores.penalise(peer, weight, now);
      this.#log(banned ? 'warn' : 'info', 'peer penalised', { peer, reason, weight, score, banned });
      if (!banned) return;
      const session = this.#sessions.get(peer);
      if (session === undefined) return;
      const until = this.scores.bannedUntil(peer) ?? now + this.#o.scoring.banMs;
      const conn = session.conn;
      if (conn !== undefined)
        this.#guard(conn, () => this.#step(conn.runner, { type: 'penalised', now, reason, until }));
      else this.#sessionLost(session, 'penalised', reason);
    });
  }

  peers(): PeerInfo[] {
    return [...this.#sessions.values()].map((s) => this.#info(s));
  }

  stats(): NetworkStats {
    return { ...this.#totals, rejected: { ...this.#rejected }, dropped: { ...this.#dropped } };
  }

  /** Records a connection the transport refused before it reached a machine. */
  reject(r: Omit<Rejection, 'at'>): void {
    this.#rejected[r.reason] = (this.#rejected[r.reason] ?? 0) + 1;
    this.#rejections.next({ ...r, at: this.#io.now() });
  }

  /** The state of every machine (for tests and the simulator's checks): `address`/`in:<host>` → state. */
  machineStates(): { where: string; direction: 'in' | 'out'; state: string }[] {
    const out: { where: string; direction: 'in' | 'out'; state: string }[] = [];
    for (const l of this.#links.values())
      out.push({ where: l.address, direction: 'out', state: l.runner.state });
    for (const r of this.#inbound)
      out.push({ where: r.conn?.remoteHost ?? '', direction: 'in', state: r.state });
    return out;
  }

  // --- stepping machines ---------------------------------------------------------------------------

  /** Whether `conn` is the socket its machine is on (events from an earlier one are stale). */
  #current(conn: HostConn<S>): boolean {
    return conn.runner.conn === conn;
  }

  /** One event through a runner's machine, then its effects, then what they fed back. */
  #step(r: Runner<S>, event: PeerMachineEvent): readonly PeerEffect[] {
    const from = r.state;
    const step = stepPeer(r.snapshot, event);
    r.snapshot = step.snapshot;
    const to = r.state;
    if (from !== to && this.#o.onTransition !== undefined) {
      this.#o.onTransition({
        where: r.link?.address ?? r.conn?.remoteHost ?? '',
        direction: r.link === undefined ? 'in' : 'out',
        event: event.type,
        from,
        to,
        taken: step.taken,
      });
    }
    const outer = r.stepping;
    r.stepping = true;
    try {
      for (const e of step.effects) this.#apply(r, e);
    } finally {
      r.stepping = outer;
    }
    if (!outer) {
      while (r.pending.length > 0) {
        const next = r.pending.shift()!();
        if (next !== undefined) this.#step(r, next);
      }
    }
    return step.effects;
  }

  #apply(r: Runner<S>, e: PeerEffect): void {
    const conn = r.conn;
    switch (e.type) {
      case 'connect':
        this.#connect(r, e.address, e.attempt);
        return;
      case 'send':
        if (conn?.socket !== undefined) this.#io.send(conn.socket, e.bytes);
        return;
      case 'close':
        if (conn !== undefined) this.#close(conn, e.reason, e.detail, e.peer);
        return;
      case 'retire':
        if (conn !== undefined) this.#retire(conn, e.peer);
        return;
      case 'offence':
        if (conn !== undefined) this.#offence(conn, e.peer);
        return;
      case 'arm': {
        const old = r.timers.get(e.timer);
        if (old !== undefined) this.#io.clearTimer(old);
        const delay = Math.max(0, e.at - this.#io.now());
        r.timers.set(
          e.timer,
          this.#io.setTimer(() => {
            r.timers.delete(e.timer);
            this.#safely(e.timer, () => this.#fire(r, e.timer));
          }, delay),
        );
        return;
      }
      case 'disarm': {
        const t = r.timers.get(e.timer);
        if (t !== undefined) this.#io.clearTimer(t);
        r.timers.delete(e.timer);
        if (e.timer === 'handshake' && conn !== undefined) this.#io.handshakeOver(conn);
        return;
      }
      case 'authenticated':
        if (conn === undefined) return;
        if (conn.direction === 'in' && e.listen !== null) {
          const a = this.#io.dialAddress(e.listen, conn.remoteHost);
          if (a !== undefined) conn.address = a;
        }
        if (r.link !== undefined && r.link.publicKey === undefined && e.peerId !== this.#o.self)
          r.link.learnedId = e.peerId;
        r.pending.push(() => this.#admission(conn, e.peerId));
        return;
      case 'up':
        if (conn !== undefined) this.#up(conn, e);
        return;
      case 'down':
        if (conn !== undefined) this.#down(conn, e.reason, e.detail, e.orphan);
        return;
      case 'deliver':
        if (conn !== undefined) this.#deliver(conn, e.channel, e.payload);
        return;
      case 'peers':
        if (conn !== undefined && this.#o.peerExchange) this.#onPeers(conn, e.entries);
        return;
      case 'dropped':
        this.#drop('oversize');
        this.#log('warn', 'frame larger than the peer accepts: dropped', {
          peer: conn?.peerId,
          limit: e.limit,
        });
        return;
      case 'forget': {
        const l = r.link;
        if (l === undefined) return;
        if (e.reason === 'self')
          this.#log('info', 'address is ourselves: not dialling it again', { address: l.address });
        if (!l.persistent) this.#links.delete(l.address);
        return;
      }
    }
  }

  #fire(r: Runner<S>, timer: PeerTimer): void {
    const now = this.#io.now();
    if (timer === 'handshake') {
      const conn = r.conn;
      if (conn === undefined) return;
      this.#guard(conn, () => this.#step(r, { type: 'handshake-timeout', now }));
      return;
    }
    if (r.link !== undefined && this.#links.get(r.link.address) === r.link) this.#dial(r.link);
  }

  /** (Re)dials a link now, with what the registry knows: the identity's ban, room for a peer. */
  #dial(l: Link<S>): void {
    if (this.#closed || !this.#started) return;
    const id = this.#targetId(l);
    const room = this.#sessions.size + this.#pendingOutbound() < this.#o.maxPeers;
    const bannedUntil = id === undefined ? 0 : (this.scores.bannedUntil(id) ?? 0);
    this.#guardRunner(l.runner, () =>
      this.#step(l.runner, { type: 'dial', now: this.#io.now(), bannedUntil, room }),
    );
  }

  #connect(r: Runner<S>, address: string, attempt: number): void {
    const conn = new HostConn<S>('out', r, undefined);
    r.conn = conn;
    this.#conns.add(conn);
    this.#log('debug', 'dialling', { address, attempt });
    let socket: S | undefined;
    try {
      socket = this.#io.connect(address, conn);
    } catch (e) {
      this.#log('warn', 'cannot dial', { address, error: errorMessage(e) });
    }
    if (socket !== undefined) {
      conn.socket = socket;
      return;
    }
    // the dial failed at once: the machine hears it once this step's effects are applied
    conn.closed = true;
    this.#conns.delete(conn);
    r.pending.push(() =>
      r.conn === conn
        ? { type: 'socket-closed', now: this.#io.now(), clean: false, peerReason: '', detail: 'cannot dial' }
        : undefined,
    );
  }

  /** The registry's facts about an identity a connection just proved. */
  #admission(conn: HostConn<S>, id: string): PeerMachineEvent | undefined {
    if (conn.runner.conn !== conn) return undefined;
    const session = this.#sessions.get(id);
    let existing: Existing = { kind: 'none' };
    if (session !== undefined) {
      const other = session.conn;
      const rank = other?.runner.snapshot.context.conn?.rank;
      existing = other === undefined || rank === undefined ? { kind: 'orphan' } : { kind: 'open', rank };
    }
    return {
      type: 'admission',
      now: this.#io.now(),
      banned: this.scores.isBanned(id, this.#io.now()),
      existing,
      room: this.#sessions.size < this.#o.maxPeers || this.#isConfigured(id, conn),
    };
  }

  // --- sessions ---------------------------------------------------------------------------------------

  #up(conn: HostConn<S>, e: Extract<PeerEffect, { type: 'up' }>): void {
    const id = e.peerId;
    const now = this.#io.now();
    conn.peerId = id;
    const existing = this.#sessions.get(id);
    if (existing !== undefined) {
      const old = existing.conn;
      if (old === undefined) {
        this.#log('debug', 'peer reconnected within the grace period', { peer: id });
      } else if (old !== conn) {
        this.#log('debug', 'duplicate connection: replacing the existing one', { peer: id });
        this.#guard(old, () => this.#step(old.runner, { type: 'replaced', now }));
      }
      this.#attach(existing, conn, e.peerMaxFrameBytes);
      return;
    }
    const session: Session<S> = {
      id,
      conn: undefined,
      direction: conn.direction,
      connectedAt: now,
      framesIn: 0,
      framesOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      peerMaxFrameBytes: e.peerMaxFrameBytes,
    };
    this.#sessions.set(id, session);
    this.#attach(session, conn, e.peerMaxFrameBytes);
    // the peer's other addresses stand by: it is connected
    for (const l of [...this.#links.values()]) {
      if (l.runner !== conn.runner && this.#targetId(l) === id)
        this.#guardRunner(l.runner, () => this.#step(l.runner, { type: 'peer-up', now }));
    }
    const info = this.#info(session);
    this.#log('info', 'peer up', { peer: id, address: info.address, direction: info.direction });
    if (this.#o.peerExchange) this.#announce(session);
    this.#events.next({ type: 'up', peer: info });
  }

  #attach(session: Session<S>, conn: HostConn<S>, peerMaxFrameBytes: number): void {
    if (session.orphanTimer !== undefined) {
      this.#io.clearTimer(session.orphanTimer);
      session.orphanTimer = undefined;
    }
    session.conn = conn;
    session.direction = conn.direction;
    if (conn.address !== undefined) session.address = conn.address;
    session.peerMaxFrameBytes = peerMaxFrameBytes;
  }

  #down(conn: HostConn<S>, reason: DisconnectReason, detail: string | undefined, orphan: boolean): void {
    const session = conn.peerId === undefined ? undefined : this.#sessions.get(conn.peerId);
    if (session === undefined || session.conn !== conn) return;
    session.conn = undefined;
    if (orphan && !this.#closed) {
      // the peer replaced this connection by another one, which should complete here shortly
      session.orphanTimer = this.#io.setTimer(
        () =>
          this.#safely('orphan', () =>
            this.#sessionLost(session, 'closed-by-peer', 'duplicate not replaced'),
          ),
        Math.min(this.#o.policy.handshakeTimeoutMs, 2000),
      );
      return;
    }
    this.#sessionLost(session, reason, detail);
  }

  #sessionLost(session: Session<S>, reason: DisconnectReason, detail: string | undefined): void {
    if (this.#sessions.get(session.id) !== session) return;
    if (session.orphanTimer !== undefined) {
      this.#io.clearTimer(session.orphanTimer);
      session.orphanTimer = undefined;
    }
    this.#sessions.delete(session.id);
    this.#log('info', 'peer down', { peer: session.id, reason, detail });
    this.#events.next(
      detail === undefined
        ? { type: 'down', peer: session.id, reason }
        : { type: 'down', peer: session.id, reason, detail },
    );
    if (this.#closed) return;
    // the peer's addresses are dialled again
    const now = this.#io.now();
    for (const l of [...this.#links.values()]) {
      if (this.#targetId(l) === session.id && (l.persistent || this.#o.peerExchange))
        this.#guardRunner(l.runner, () => this.#step(l.runner, { type: 'peer-down', now }));
    }
  }

  #deliver(conn: HostConn<S>, channel: number, payload: Uint8Array): void {
    const session = conn.peerId === undefined ? undefined : this.#sessions.get(conn.peerId);
    if (session === undefined) return;
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

  // --- ending connections -------------------------------------------------------------------------------

  /** Closes a connection the machine ended for `reason`: logs it, records it (but a shutdown). */
  #close(
    conn: HostConn<S>,
    reason: DisconnectReason,
    detail: string | undefined,
    peer: string | undefined,
  ): void {
    const offence = OFFENCES.has(reason);
    const level = offence || reason === 'penalised' ? 'warn' : reason === 'shutdown' ? 'debug' : 'info';
    this.#log(level, `disconnecting: ${reason}`, {
      reason,
      detail,
      peer,
      address: conn.address ?? conn.remoteHost,
      direction: conn.direction,
    });
    if (reason !== 'shutdown') {
      const address = conn.address ?? conn.remoteHost;
      this.reject({
        reason,
        direction: conn.direction,
        ...(peer !== undefined ? { peer } : {}),
        ...(address !== undefined ? { address } : {}),
        ...(detail !== undefined ? { detail } : {}),
      });
    }
    this.#closeSocket(conn, reason === 'shutdown' ? CLOSE_CODE_SHUTDOWN : CLOSE_CODE_REJECT, reason);
  }

  /** Closes a connection replaced by a duplicate; frames already in flight on it are still delivered. */
  #retire(conn: HostConn<S>, peer: string | undefined): void {
    this.reject({
      reason: 'duplicate',
      direction: conn.direction,
      ...(peer !== undefined ? { peer } : {}),
      ...(conn.address !== undefined ? { address: conn.address } : {}),
      detail: 'replaced by another connection to the same peer',
    });
    this.#closeSocket(conn, CLOSE_CODE_REJECT, 'duplicate');
  }

  #closeSocket(conn: HostConn<S>, code: number, reason: string): void {
    conn.closing = true;
    if (conn.socket !== undefined && !conn.closed) this.#io.close(conn.socket, code, reason);
  }

  /** Scores an offence: the identity when proven; before that an inbound connection's host. */
  #offence(conn: HostConn<S>, peer: string | undefined): void {
    const now = this.#io.now();
    if (peer !== undefined) {
      this.scores.penalise(peer, OFFENCE_WEIGHT, now);
      this.scores.ban(peer, now);
      return;
    }
    // The host answers only for what was done before an identity was proven: after it, the
    // identity pays (peers sharing an address, such as a devnet on loopback, are not banned with it).
    if (
      conn.direction === 'in' &&
      conn.remoteHost !== undefined &&
      this.scores.strikeHost(conn.remoteHost, now)
    ) {
      this.#log('warn', 'host banned after repeated offences', { host: conn.remoteHost });
    }
  }

  /** An inbound hello that one of our own dials sent: we dialled ourselves. Ends both ends. */
  #selfDial(inbound: HostConn<S>, hello: Uint8Array): boolean {
    for (const c of this.#conns) {
      if (c.direction !== 'out' || c.hello === undefined || !c.runner.state.startsWith('handshaking'))
        continue;
      if (!sameBytes(c.hello, hello)) continue;
      const now = this.#io.now();
      this.#step(inbound.runner, { type: 'ourselves', now });
      this.#guard(c, () => this.#step(c.runner, { type: 'ourselves', now }));
      return true;
    }
    return false;
  }

  #dropInbound(r: Runner<S>): void {
    for (const t of r.timers.values()) this.#io.clearTimer(t);
    r.timers.clear();
    this.#inbound.delete(r);
  }

  // --- peer exchange and maintenance ----------------------------------------------------------------

  /** Listen addresses of connected peers (other than `except`), at most MAX_PEX_ENTRIES. */
  #peerList(except: string): PeerAddress[] {
    const out: PeerAddress[] = [];
    for (const s of this.#sessions.values()) {
      if (out.length >= MAX_PEX_ENTRIES) break;
      if (s.id === except || s.address === undefined || s.conn === undefined) continue;
      out.push({ address: s.address, publicKey: fromHex(s.id) });
    }
    return out;
  }

  #sendPeers(session: Session<S>, entries: PeerAddress[]): void {
    const conn = session.conn;
    if (conn?.socket === undefined || conn.runner.state !== 'open') return;
    if (this.#io.buffered(conn.socket) > this.#o.maxBufferedBytes) {
      this.#drop('backpressure');
      return;
    }
    const payload = encodeControl({ tag: 'peers', value: entries });
    this.#guard(conn, () =>
      this.#step(conn.runner, { type: 'send', now: this.#io.now(), channel: CONTROL_CHANNEL, payload }),
    );
  }

  /** Tells a new peer about our peers, and our other peers about it. */
  #announce(session: Session<S>): void {
    const list = this.#peerList(session.id);
    if (list.length > 0) this.#sendPeers(session, list);
    if (session.address === undefined) return;
    const entry = [{ address: session.address, publicKey: fromHex(session.id) }];
    for (const other of [...this.#sessions.values()]) if (other !== session) this.#sendPeers(other, entry);
  }

  #onPeers(from: HostConn<S>, entries: readonly PeerAddress[]): void {
    const now = this.#io.now();
    let learned = 0;
    for (const e of entries) {
      const id = toHex(e.publicKey);
      if (id === this.#o.self || this.#sessions.has(id) || this.scores.isBanned(id, now)) continue;
      const address = this.#io.normalise(e.address);
      if (address === undefined || this.#links.has(address)) continue;
      let candidates = 0;
      for (const l of this.#links.values()) if (!l.persistent) candidates++;
      if (candidates >= MAX_PEX_CANDIDATES) break;
      this.addTarget(address, id, false);
      learned++;
    }
    if (learned > 0) {
      this.#log('debug', 'peer exchange: learned addresses', { from: from.peerId, learned });
      this.#dialCandidates();
    }
  }

  #dialCandidates(): void {
    if (!this.#o.peerExchange) return;
    for (const l of [...this.#links.values()]) {
      if (this.#sessions.size + this.#pendingOutbound() >= this.#o.maxPeers) return;
      if (l.persistent || l.runner.state !== 'idle') continue;
      this.#dial(l);
    }
  }

  #pexTick(): void {
    if (!this.#o.peerExchange) return;
    for (const s of [...this.#sessions.values()]) {
      const list = this.#peerList(s.id);
      if (list.length > 0) this.#sendPeers(s, list);
    }
    this.#dialCandidates();
  }

  #pingTick(): void {
    const now = this.#io.now();
    for (const s of [...this.#sessions.values()]) {
      const conn = s.conn;
      if (conn === undefined) continue;
      this.#guard(conn, () => this.#step(conn.runner, { type: 'ping-due', now }));
    }
  }

  // --- helpers ----------------------------------------------------------------------------------------

  #targetId(l: Link<S>): string | undefined {
    return l.publicKey ?? l.learnedId;
  }

  #pendingOutbound(): number {
    let n = 0;
    for (const l of this.#links.values()) {
      const s = l.runner.state;
      if (s === 'dialing' || s.startsWith('handshaking')) n++;
    }
    return n;
  }

  #isConfigured(id: string, conn: HostConn<S>): boolean {
    if (conn.runner.link?.persistent) return true;
    for (const l of this.#links.values()) if (l.persistent && this.#targetId(l) === id) return true;
    return false;
  }

  #info(s: Session<S>): PeerInfo {
    const info: PeerInfo = {
      id: s.id,
      direction: s.direction,
      score: this.scores.score(s.id, this.#io.now()),
      connectedAt: s.connectedAt,
      framesIn: s.framesIn,
      framesOut: s.framesOut,
      bytesIn: s.bytesIn,
      bytesOut: s.bytesOut,
    };
    if (s.address !== undefined) info.address = s.address;
    return info;
  }

  #drop(reason: string): void {
    this.#dropped[reason] = (this.#dropped[reason] ?? 0) + 1;
  }

  /** Runs `fn` for a connection; an unexpected throw ends that connection only. */
  #guard(conn: HostConn<S>, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#log('error', 'internal error handling a connection', {
        peer: conn.peerId,
        error: errorMessage(e),
        stack: e instanceof Error ? e.stack : undefined,
      });
      this.#internalError(conn, errorMessage(e));
    }
  }

  #guardRunner(r: Runner<S>, fn: () => void): void {
    const conn = r.conn;
    if (conn !== undefined) {
      this.#guard(conn, fn);
      return;
    }
    this.#safely('a peer machine', fn);
  }

  /** Ends a connection whose handling threw: closed as `internal-error`, its machine told the
   * socket is gone. */
  #internalError(conn: HostConn<S>, detail: string): void {
    try {
      if (!conn.closing) {
        const address = conn.address ?? conn.remoteHost;
        this.reject({
          reason: 'internal-error',
          direction: conn.direction,
          ...(conn.peerId !== undefined ? { peer: conn.peerId } : {}),
          ...(address !== undefined ? { address } : {}),
          detail,
        });
        this.#closeSocket(conn, CLOSE_CODE_REJECT, 'internal-error');
      }
      if (this.#current(conn)) {
        const r = conn.runner;
        // what the failed step asked to feed back is moot now
        r.pending.length = 0;
        this.#step(r, { type: 'socket-closed', now: this.#io.now(), clean: false, peerReason: '', detail });
      }
    } catch (e) {
      this.#log('error', 'internal error ending a connection', { error: errorMessage(e) });
    }
  }

  #safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#log('error', `internal error in ${what}`, { error: errorMessage(e) });
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
