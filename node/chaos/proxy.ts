/**
 * A loopback TCP fault proxy for one directed link between two nodes: node A dials the proxy's
 * port instead of node B's, and the proxy forwards the bytes to B. The peer transport is an
 * encrypted WebSocket, so faults act on the TCP byte stream, never inside it:
 *
 *   open      bytes pass as they come
 *   delay     every chunk is held `ms` before it is passed on (order kept, both directions)
 *   cut       the connections are closed, and new ones are closed as soon as they are accepted
 *   drop      connections stay open but nothing passes (a black hole: the peers see silence and
 *             time out); a connection that lost bytes is closed when the mode changes, because a
 *             byte stream with a hole in it would be garbage to the peer, not a network fault
 *
 * Changing the mode applies to the queued bytes too (leaving `delay` releases what it holds, at
 * most the new delay after now).
 */
import { createServer, type Server, Socket } from 'node:net';

export type LinkMode =
  | { readonly kind: 'open' }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'cut' }
  | { readonly kind: 'drop' };

export const OPEN: LinkMode = Object.freeze({ kind: 'open' });

export interface ProxyStats {
  /** connections accepted */
  accepted: number;
  /** connections closed at once because the link was cut */
  refused: number;
  /** connections closed by the proxy (a cut, or bytes lost to a drop) */
  closed: number;
  /** bytes passed on, per direction (`up`: dialler to target) */
  up: number;
  down: number;
  /** bytes discarded while dropping */
  dropped: number;
}

export interface FaultProxyOptions {
  /** where the proxy listens (port 0: any free port) */
  listen: { host: string; port: number };
  /** where it forwards to */
  target: { host: string; port: number };
}

/** One direction of one connection: chunks wait in order until their release time. */
class Stream {
  private readonly queue: { at: number; chunk: Buffer }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  private draining = false;
  /** bytes were discarded: the stream can no longer be delivered whole */
  lost = false;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly proxy: FaultProxy,
    private readonly direction: 'up' | 'down',
  ) {
    from.on('data', (chunk: Buffer) => this.push(chunk));
    from.on('end', () => {
      this.ended = true;
      this.pump();
    });
  }

  private push(chunk: Buffer): void {
    const mode = this.proxy.mode;
    if (mode.kind === 'drop' || mode.kind === 'cut') {
      this.lost = true;
      this.proxy.stats.dropped += chunk.length;
      return;
    }
    const delay = mode.kind === 'delay' ? mode.ms : 0;
    this.queue.push({ at: Date.now() + delay, chunk });
    this.pump();
  }

  /** The mode changed: queued chunks wait at most the new delay from now. */
  retime(mode: LinkMode): void {
    if (mode.kind === 'drop' || mode.kind === 'cut') return;
    const latest = Date.now() + (mode.kind === 'delay' ? mode.ms : 0);
    for (const q of this.queue) q.at = Math.min(q.at, latest);
    this.pump();
  }

  pump(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.to.destroyed) return;
    const mode = this.proxy.mode;
    // a black hole holds what it has (it counts as lost only if it was discarded)
    if (mode.kind === 'drop' || mode.kind === 'cut') return;
    const now = Date.now();
    while (this.queue.length > 0 && this.queue[0]!.at <= now) {
      const { chunk } = this.queue.shift()!;
      this.proxy.stats[this.direction] += chunk.length;
      if (!this.to.write(chunk) && !this.draining) {
        // the receiver is slow: stop reading until it drains (TCP backpressure end to end)
        this.draining = true;
        this.from.pause();
        this.to.once('drain', () => {
          this.draining = false;
          this.from.resume();
        });
      }
    }
    if (this.queue.length > 0) {
      this.timer = setTimeout(() => this.pump(), Math.max(0, this.queue[0]!.at - now));
    } else if (this.ended) this.to.end();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

interface Connection {
  client: Socket;
  upstream: Socket;
  streams: [Stream, Stream];
  /** the upstream was dialled (a connection accepted into a black hole waits for it) */
  dialled: boolean;
}

export class FaultProxy {
  readonly stats: ProxyStats = { accepted: 0, refused: 0, closed: 0, up: 0, down: 0, dropped: 0 };
  private current: LinkMode = OPEN;
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private bound: number | undefined;

  constructor(private readonly o: FaultProxyOptions) {
    this.server = createServer((client) => this.accept(client));
    this.server.on('error', () => {}); // listen errors are reported by start()
  }

  get mode(): LinkMode {
    return this.current;
  }

  /** The port it listens on (after start). */
  get port(): number {
    if (this.bound === undefined) throw new Error('the proxy is not listening yet');
    return this.bound;
  }

  /** Connections open now. */
  get open(): number {
    return this.connections.size;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      this.server.once('error', onError);
      this.server.listen(this.o.listen.port, this.o.listen.host, () => {
        this.server.off('error', onError);
        const a = this.server.address();
        this.bound = typeof a === 'object' && a !== null ? a.port : this.o.listen.port;
        resolve();
      });
    });
  }

  /** Switches the link's fault (see the module comment). */
  set(mode: LinkMode): void {
    if (mode.kind === 'delay' && !(Number.isFinite(mode.ms) && mode.ms >= 0))
      throw new RangeError(`delay must be a non-negative number of ms, got ${mode.ms}`);
    const before = this.current;
    this.current = mode;
    for (const c of [...this.connections]) {
      const lost = c.streams[0].lost || c.streams[1].lost;
      if (mode.kind === 'cut' || (before.kind === 'drop' && mode.kind !== 'drop' && lost)) {
        this.drop(c);
        continue;
      }
      if (mode.kind !== 'drop') this.dial(c);
      for (const s of c.streams) s.retime(mode);
    }
  }

  private accept(client: Socket): void {
    this.stats.accepted++;
    client.on('error', () => {});
    if (this.current.kind === 'cut') {
      this.stats.refused++;
      client.destroy();
      return;
    }
    const upstream = new Socket();
    upstream.on('error', () => {});
    const c: Connection = {
      client,
      upstream,
      streams: [new Stream(client, upstream, this, 'up'), new Stream(upstream, client, this, 'down')],
      dialled: false,
    };
    this.connections.add(c);
    const close = () => {
      if (!this.connections.delete(c)) return;
      for (const s of c.streams) s.stop();
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close);
    upstream.on('close', close);
    // into a black hole: held without reaching the target, as if the SYN went unanswered
    if (this.current.kind !== 'drop') this.dial(c);
  }

  private dial(c: Connection): void {
    if (c.dialled) return;
    c.dialled = true;
    c.upstream.connect(this.o.target.port, this.o.target.host);
  }

  private drop(c: Connection): void {
    this.stats.closed++;
    // a reset, as a broken link gives, rather than an orderly end
    c.client.resetAndDestroy();
    if (c.dialled) c.upstream.resetAndDestroy();
    else c.upstream.destroy();
  }

  /** Closes every connection and stops listening. */
  async close(): Promise<void> {
    for (const c of [...this.connections]) {
      c.client.destroy();
      c.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
