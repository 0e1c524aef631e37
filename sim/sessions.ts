/**
 * Peer sessions in the simulator: every node runs the live transport's session logic (a
 * peer/host.ts `PeerHost`, one peer/machine.ts machine per connection) over simulated connections,
 * with the simulator's handshake (sim/handshake-lite.ts: the live protocol's shape, signed by the
 * node's own signer, without encryption). Every node keeps every other node dialled (pinned to
 * its key), so connection loss, partitions and crashes in the fault plan go through dialing,
 * handshaking, open, retiring and banned with backoff, by seed, like a live network's sessions.
 *
 * A connection behaves as TCP under WebSocket does: each direction is a FIFO stream, never
 * duplicated; a segment the plan's links drop is sent again a retransmission timeout later, and one
 * a partition cuts is delivered after the partition heals (a long enough partition ends the session
 * by its idle timeout first); a crashed process's sockets are reset by its (living) host, and a
 * node that is down answers a dial with a reset. Application messages travel only on an open
 * session: sent to a peer without one, they are dropped (`stats.dropped`).
 *
 * `SimSessions` offers the cluster the surface of `SimNetwork` (sim/network.ts), so a cluster runs
 * on either; sessions are opt-in (`ClusterOptions.sessions`), as they change every trace. Every
 * state change of a session machine is recorded on the inspector as a `transition` of the engine
 * `peer:<in|out>:<peer node>`, with the statechart ids of the transitions taken.
 */
import { type HostConn, type LogLevel, PeerHost } from '../peer/host.ts';
import { DEFAULT_SCORING, engineOffenceWeight } from '../peer/scores.ts';
import type { Inspector } from '../runtime/inspect.ts';
import { type Random, seedState } from '../runtime/random.ts';
import type { SimScheduler, TimerHandle } from '../runtime/scheduler.ts';
import { toHex } from '../wire/commit.ts';
import type { Signer, Verifier } from '../wire/sign.ts';
import { canReach, type FaultPlan } from './faults.ts';
import { liteHandshake } from './handshake-lite.ts';
import type { Deliver, NetworkStats, SimTransport } from './network.ts';

/** The session machine's timings in the simulator (virtual ms). */
export interface SimSessionOptions {
  /** from the dial to an admitted peer (default 1000) */
  readonly handshakeTimeoutMs?: number;
  /** pings every (default 250); a session silent for `idleTimeoutMs` (default 1000) is dropped */
  readonly pingIntervalMs?: number;
  readonly idleTimeoutMs?: number;
  /** redial backoff (default 25 ms doubling to 800 ms) */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** how long an offence or a ban bars a peer (default 10 s) */
  readonly banMs?: number;
  /** a lost segment is sent again this much later (default 100) */
  readonly retransmitMs?: number;
}

const INSTANCE = 'fractal-sim';
const VERSION = 1;
const MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** a socket we closed that the peer never acknowledged is dropped after this */
const KILL_AFTER_MS = 1000;
/** the frames the cluster sends ride on one application channel */
const CHANNEL = 0;

/** What travels on a simulated connection: TCP's segments, as far as sessions need them. */
type Segment =
  | { readonly kind: 'syn' | 'synack' | 'rst'; readonly conn: number }
  | { readonly kind: 'data'; readonly conn: number; readonly bytes: Uint8Array; readonly lamport: number }
  | { readonly kind: 'fin'; readonly conn: number; readonly code: number; readonly reason: string };

/** One end of a simulated connection. */
interface SimSocket {
  readonly id: number;
  readonly node: string;
  /** the node at the other end */
  readonly peer: string;
  conn: HostConn<SimSocket> | undefined;
  state: 'connecting' | 'open' | 'closing' | 'closed';
  killTimer: TimerHandle | undefined;
}

/** A node that is up: its host, its sockets, where its frames go. */
interface End {
  readonly node: string;
  readonly host: PeerHost<SimSocket>;
  readonly deliver: Deliver;
  readonly sockets: Map<number, SimSocket>;
}

export interface SimSessionsConfig {
  /** every node of the cluster, up or not (each keeps the others dialled) */
  readonly nodes: () => readonly string[];
  /** a node's signer: its identity in the handshake */
  readonly signerOf: (node: string) => Signer;
  readonly verify: Verifier;
  /** records every session state change, when it is active */
  readonly inspector?: Inspector;
  readonly options?: SimSessionOptions;
  /** each node's session log (the live transport's lines), for debugging a run */
  readonly log?: (node: string, level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;
}

export class SimSessions implements SimTransport {
  readonly stats: NetworkStats = {
    sent: 0,
    delivered: 0,
    dropped: 0,
    duplicated: 0,
    partitioned: 0,
    toDownNode: 0,
    bytes: 0,
  };
  private readonly ends = new Map<string, End>();
  private readonly known: string[] = [];
  /** each stream's segments in flight, in order: a direction of a connection is FIFO */
  private readonly streams = new Map<string, { last: number; queue: Segment[] }>();
  private nextConn = 1;
  /** the Lamport time of the frame being sent or delivered (it rides with its segment) */
  private lamport = 0;
  /** the node a frame being delivered came from */
  private from = '';
  private readonly o: Required<SimSessionOptions>;

  constructor(
    private readonly scheduler: SimScheduler,
    private readonly random: Random,
    private readonly plan: FaultPlan,
    private readonly config: SimSessionsConfig,
  ) {
    const o = config.options ?? {};
    this.o = {
      handshakeTimeoutMs: o.handshakeTimeoutMs ?? 1000,
      pingIntervalMs: o.pingIntervalMs ?? 250,
      idleTimeoutMs: o.idleTimeoutMs ?? 1000,
      backoff: o.backoff ?? { initialMs: 25, maxMs: 800 },
      banMs: o.banMs ?? 10_000,
      retransmitMs: o.retransmitMs ?? 100,
    };
  }

  /** A node (re)started: its host dials every other node and accepts their dials. */
  attach(node: string, deliver: Deliver): void {
    if (!this.known.includes(node)) this.known.push(node);
    this.ends.get(node)?.host.shutdown();
    const sockets = new Map<number, SimSocket>();
    const host = this.hostFor(node, sockets);
    const end: End = { node, host, deliver, sockets };
    host.onFrame((_peer, channel, payload) => {
      if (channel !== CHANNEL || this.ends.get(node) !== end) return;
      this.stats.delivered++;
      end.deliver(this.from, payload, this.lamport);
    });
    for (const other of this.config.nodes()) {
      if (other === node) continue;
      host.addTarget(other, toHex(this.config.signerOf(other).publicKey), true);
    }
    this.ends.set(node, end);
    host.start();
  }

  /** A node crashed: its sessions vanish with it; its host resets every connection it had. */
  detach(node: string): void {
    const end = this.ends.get(node);
    if (end === undefined) return;
    this.ends.delete(node);
    for (const s of end.sockets.values()) {
      if (s.state !== 'closed') this.transmit(node, s.peer, { kind: 'rst', conn: s.id });
      s.state = 'closed';
    }
    end.sockets.clear();
  }

  isUp(node: string): boolean {
    return this.ends.has(node);
  }

  nodes(): readonly string[] {
    return this.known;
  }

  /** Sends a frame on `from`'s session with `to` (dropped without one). */
  send(from: string, to: string, bytes: Uint8Array, lamport = 0): void {
    this.stats.sent++;
    this.stats.bytes += bytes.length;
    const end = this.ends.get(from);
    const sent =
      end !== undefined && this.withLamport(lamport, () => end.host.send(this.keyOf(to), CHANNEL, bytes));
    if (!sent) this.stats.dropped++;
  }

  /** Sends a frame on every session `from` has. */
  broadcast(from: string, bytes: Uint8Array, lamport = 0): void {
    const end = this.ends.get(from);
    if (end === undefined) return;
    const n = this.withLamport(lamport, () => end.host.broadcast(CHANNEL, bytes));
    this.stats.sent += n;
    this.stats.bytes += n * bytes.length;
  }

  /** An engine at `node` found `peer`'s message bad: proven misbehaviour costs transport score. */
  penalise(node: string, peer: string, reason: string): void {
    const weight = engineOffenceWeight(reason);
    const end = this.ends.get(node);
    if (weight > 0 && end !== undefined && this.known.includes(peer))
      end.host.penalise(this.keyOf(peer), `consensus:${reason}`, weight);
  }

  /** Every session machine's state at `node` (for tests). */
  machines(node: string): { where: string; direction: 'in' | 'out'; state: string }[] {
    return this.ends.get(node)?.host.machineStates() ?? [];
  }

  /** The peers `node` has an open session with (their identities). */
  sessions(node: string): string[] {
    return (this.ends.get(node)?.host.peers() ?? []).map((p) => p.id);
  }

  private keyOf(node: string): string {
    return toHex(this.config.signerOf(node).publicKey);
  }

  private withLamport<T>(lamport: number, fn: () => T): T {
    const before = this.lamport;
    this.lamport = lamport;
    try {
      return fn();
    } finally {
      this.lamport = before;
    }
  }

  private hostFor(node: string, sockets: Map<number, SimSocket>): PeerHost<SimSocket> {
    const o = this.o;
    const signer = this.config.signerOf(node);
    const alive = () => this.ends.get(node)?.sockets === sockets;
    const inspector = this.config.inspector;
    return new PeerHost<SimSocket>(
      {
        self: toHex(signer.publicKey),
        policy: {
          handshakeTimeoutMs: o.handshakeTimeoutMs,
          idleTimeoutMs: o.idleTimeoutMs,
          maxFrameBytes: MAX_FRAME_BYTES,
          framesPerSecond: 1_000_000,
          bytesPerSecond: 1024 * MAX_FRAME_BYTES,
          bytesBurst: 1024 * MAX_FRAME_BYTES,
          backoff: o.backoff,
          banMs: o.banMs,
          learnedMaxFailures: 3,
        },
        scoring: { ...DEFAULT_SCORING, banMs: o.banMs },
        maxPeers: 1024,
        peerExchange: false,
        pingIntervalMs: o.pingIntervalMs,
        pexIntervalMs: 60_000,
        maxBufferedBytes: Number.MAX_SAFE_INTEGER,
        log:
          this.config.log === undefined
            ? () => {}
            : (level, msg, fields) => this.config.log!(node, level, msg, fields),
        seed: (address) => seedState('sim-sessions', node, address, this.random.u32()),
        onTransition: (t) => {
          if (inspector === undefined || !inspector.active) return;
          inspector.record({
            kind: 'transition',
            at: this.scheduler.now(),
            node,
            engine: `peer:${t.direction}:${t.where}`,
            event: t.event,
            from: t.from,
            to: t.to,
            taken: t.taken,
          });
        },
      },
      {
        now: () => this.scheduler.now(),
        connect: (address, conn) => {
          if (!this.known.includes(address) && !this.config.nodes().includes(address)) return undefined;
          const s: SimSocket = {
            id: this.nextConn++,
            node,
            peer: address,
            conn,
            state: 'connecting',
            killTimer: undefined,
          };
          sockets.set(s.id, s);
          this.transmit(node, address, { kind: 'syn', conn: s.id });
          return s;
        },
        send: (s, bytes) => {
          if (s.state !== 'open' || !alive()) return false;
          this.transmit(node, s.peer, { kind: 'data', conn: s.id, bytes, lamport: this.lamport });
          return true;
        },
        buffered: () => 0,
        close: (s, code, reason) => this.close(node, s, code, reason),
        handshakeOver: () => {},
        handshake: (role) =>
          liteHandshake({
            role,
            signer,
            verify: this.config.verify,
            instance: INSTANCE,
            version: VERSION,
            listen: node,
            maxFrameBytes: MAX_FRAME_BYTES,
            nonce: this.random.bytes(16),
          }),
        setTimer: (fn, ms) =>
          this.scheduler.at(this.scheduler.now() + ms, () => {
            if (alive()) fn();
          }),
        clearTimer: (t) => {
          if (t !== undefined) this.scheduler.cancel(t as TimerHandle);
        },
        dialAddress: (listen) => (this.config.nodes().includes(listen) ? listen : undefined),
        normalise: (address) => (this.config.nodes().includes(address) ? address : undefined),
      },
    );
  }

  /** Closes a socket: a connecting one is reset; an open one sends its close and waits for the
   * peer's (frames still arriving are read meanwhile), at most KILL_AFTER_MS. */
  private close(node: string, s: SimSocket, code: number, reason: string): void {
    if (s.state === 'connecting') {
      this.transmit(node, s.peer, { kind: 'rst', conn: s.id });
      s.state = 'closing';
      this.scheduler.at(this.scheduler.now(), () => this.finish(node, s, 1006, ''));
      return;
    }
    if (s.state !== 'open') return;
    s.state = 'closing';
    this.transmit(node, s.peer, { kind: 'fin', conn: s.id, code, reason });
    s.killTimer = this.scheduler.at(this.scheduler.now() + KILL_AFTER_MS, () =>
      this.finish(node, s, 1006, ''),
    );
  }

  /** The socket is gone: its host hears the close. */
  private finish(node: string, s: SimSocket, code: number, reason: string): void {
    if (s.state === 'closed') return;
    s.state = 'closed';
    if (s.killTimer !== undefined) this.scheduler.cancel(s.killTimer);
    const end = this.ends.get(node);
    if (end === undefined || end.sockets.get(s.id) !== s) return;
    end.sockets.delete(s.id);
    if (s.conn !== undefined) end.host.closedSocket(s.conn, code, reason);
  }

  /** Puts a segment on the stream from `from` to `to`: delayed as the plan says, sent again after a
   * loss, held by a partition until it heals, and never ahead of an earlier segment. */
  private transmit(from: string, to: string, seg: Segment): void {
    const links = this.plan.links;
    const span = links.maxDelay - links.minDelay;
    let at = this.scheduler.now() + links.minDelay + (span > 0 ? this.random.int(span + 1) : 0);
    if (links.drop > 0 && this.random.float() < links.drop) at += this.o.retransmitMs;
    const healed = this.reachableFrom(from, to, at);
    if (healed !== at) {
      this.stats.partitioned++;
      at = healed + this.o.retransmitMs;
    }
    const key = `${seg.conn}:${from}`;
    let stream = this.streams.get(key);
    if (stream === undefined) {
      stream = { last: 0, queue: [] };
      this.streams.set(key, stream);
    }
    at = Math.max(at, stream.last);
    stream.last = at;
    stream.queue.push(seg);
    // tasks due at one instant run in a seeded order: each delivers its stream's head, so the
    // stream stays in order whichever of them runs first
    const s = stream;
    this.scheduler.at(at, () => {
      const head = s.queue.shift()!;
      if (s.queue.length === 0) this.streams.delete(key);
      this.arrive(to, from, head);
    });
  }

  /** The first time from `t` at which `from` reaches `to` (partitions heal at known times). */
  private reachableFrom(from: string, to: string, t: number): number {
    let at = t;
    for (let i = 0; i <= this.plan.partitions.length; i++) {
      if (canReach(this.plan, from, to, at)) return at;
      // past the latest end of the partitions that separate them now
      for (const p of this.plan.partitions) {
        if (!canReach({ ...this.plan, partitions: [p] }, from, to, at)) at = Math.max(at, p.until);
      }
    }
    return at;
  }

  /** A segment reaches `node`. */
  private arrive(node: string, from: string, seg: Segment): void {
    const end = this.ends.get(node);
    if (end === undefined) {
      // the process is down; its host answers a dial, or anything but a reset, with a reset
      this.stats.toDownNode++;
      if (seg.kind !== 'rst') this.transmit(node, from, { kind: 'rst', conn: seg.conn });
      return;
    }
    if (seg.kind === 'syn') {
      const s: SimSocket = {
        id: seg.conn,
        node,
        peer: from,
        conn: undefined,
        state: 'open',
        killTimer: undefined,
      };
      end.sockets.set(s.id, s);
      this.transmit(node, from, { kind: 'synack', conn: s.id });
      s.conn = end.host.accept(s, from);
      return;
    }
    const s = end.sockets.get(seg.conn);
    if (s === undefined || s.state === 'closed') {
      if (seg.kind !== 'rst' && seg.kind !== 'fin')
        this.transmit(node, from, { kind: 'rst', conn: seg.conn });
      return;
    }
    switch (seg.kind) {
      case 'synack':
        if (s.state !== 'connecting' || s.conn === undefined) return;
        s.state = 'open';
        end.host.opened(s.conn);
        return;
      case 'data':
        if (s.conn === undefined || s.state === 'connecting') return;
        this.from = from;
        this.withLamport(seg.lamport, () => end.host.received(s.conn!, seg.bytes, true));
        return;
      case 'fin':
        // the peer closed: answer with our close (unless we closed first), and the socket is gone
        if (s.state === 'open')
          this.transmit(node, from, { kind: 'fin', conn: s.id, code: seg.code, reason: seg.reason });
        this.finish(node, s, seg.code, seg.reason);
        return;
      case 'rst':
        if (s.conn !== undefined) end.host.socketError(s.conn, undefined, 'connection reset by peer');
        this.finish(node, s, 1006, '');
        return;
    }
  }
}
