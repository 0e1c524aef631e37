/**
 * Test helpers for node/net: networks on 127.0.0.1 with ephemeral ports, captured logs, polling
 * waits, and a raw WebSocket client that can speak the handshake by hand (to misbehave after it).
 */
import { createServer, type Server, Socket } from 'node:net';
import { WebSocket } from 'ws';
import { sha256 } from '../../wire/commit.ts';
import { keyPairFromSeed } from '../../wire/sign.ts';
import { type LogLevel, PeerNetwork, type PeerNetworkOptions } from './network.ts';
import { Handshake, PROTOCOL_VERSION, type SecureChannel } from './protocol.ts';

export const INSTANCE = 'fractal-test';

export interface LogLine {
  level: LogLevel;
  msg: string;
  fields?: Record<string, unknown>;
}

/** A deterministic 32-byte seed per label. */
export function seed(label: string): Uint8Array {
  return sha256(new TextEncoder().encode(`net-test/${label}`));
}

export function idOf(label: string): string {
  return Buffer.from(keyPairFromSeed(seed(label)).publicKey).toString('hex');
}

export interface TestNode {
  net: PeerNetwork;
  logs: LogLine[];
  /** frames received: [peer, channel, bytes] */
  frames: [string, number, Uint8Array][];
  url: string;
}

/** Tracks everything a test opens, so that `cleanup` closes it. */
export class Harness {
  readonly nodes: TestNode[] = [];
  readonly sockets: WebSocket[] = [];
  readonly servers: Server[] = [];
  readonly #proxySockets: Socket[][] = [];

  /** A started network listening on 127.0.0.1:0 (or `port`), with test-friendly timings. */
  async node(label: string, o: Partial<PeerNetworkOptions> = {}, port = 0): Promise<TestNode> {
    const node = this.create(label, o, port);
    await node.net.start();
    node.url = node.net.port === undefined ? '' : `ws://127.0.0.1:${node.net.port}`;
    return node;
  }

  /** The same, not started yet (`url` is set by `node`, or set it yourself). */
  create(label: string, o: Partial<PeerNetworkOptions> = {}, port = 0): TestNode {
    const logs: LogLine[] = [];
    const net = new PeerNetwork({
      instance: INSTANCE,
      secretKey: seed(label),
      listen: { host: '127.0.0.1', port },
      handshakeTimeoutMs: 2000,
      backoff: { initialMs: 20, maxMs: 200 },
      log: (level, msg, fields) => {
        logs.push(fields === undefined ? { level, msg } : { level, msg, fields });
      },
      ...o,
    });
    const frames: [string, number, Uint8Array][] = [];
    net.onFrame((peer, channel, bytes) => frames.push([peer, channel, bytes.slice()]));
    const node = { net, logs, frames, url: port === 0 ? '' : `ws://127.0.0.1:${port}` };
    this.nodes.push(node);
    return node;
  }

  /** A plain WebSocket client (no protocol), recording messages and the close; `from` is the
   * local address to connect from (any of 127.0.0.0/8 on loopback: another "host"). */
  async raw(url: string, from?: string): Promise<RawClient> {
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      ...(from === undefined ? {} : { localAddress: from }),
    });
    this.sockets.push(ws);
    const client = new RawClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  /** A TCP proxy to `port` on 127.0.0.1 that records the bytes in each direction. */
  async proxy(port: number, tamper?: (chunk: Buffer, dir: 'up' | 'down') => Buffer): Promise<Proxy> {
    const proxy: Proxy = { port: 0, up: [], down: [] };
    const sockets: Socket[] = [];
    const server = createServer((client) => {
      const upstream = new Socket();
      sockets.push(client, upstream);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      upstream.connect(port, '127.0.0.1');
      client.on('data', (c: Buffer) => {
        proxy.up.push(Buffer.from(c));
        upstream.write(tamper ? tamper(c, 'up') : c);
      });
      upstream.on('data', (c: Buffer) => {
        proxy.down.push(Buffer.from(c));
        client.write(tamper ? tamper(c, 'down') : c);
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    this.servers.push(server);
    this.#proxySockets.push(sockets);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const a = server.address();
    proxy.port = typeof a === 'object' && a !== null ? a.port : 0;
    return proxy;
  }

  async cleanup(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    for (const list of this.#proxySockets) for (const sock of list) sock.destroy();
    this.#proxySockets.length = 0;
    await Promise.all([
      ...this.nodes.map((n) => n.net.close()),
      ...this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    ]);
    this.nodes.length = 0;
    this.sockets.length = 0;
    this.servers.length = 0;
  }
}

export interface Proxy {
  port: number;
  /** client → server chunks */
  up: Buffer[];
  /** server → client chunks */
  down: Buffer[];
}

export class RawClient {
  readonly messages: Uint8Array[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('error', () => {});
    ws.on('message', (data: Buffer) => {
      this.messages.push(new Uint8Array(data));
      for (const w of this.#waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code: number, reason: Buffer) => {
        for (const w of this.#waiters.splice(0)) w();
        resolve({ code, reason: reason.toString() });
      });
    });
  }

  send(bytes: Uint8Array | string): void {
    this.ws.send(bytes, { binary: typeof bytes !== 'string' });
  }

  /** The next message (by index), waiting for it. */
  async message(index: number, timeoutMs = 3000): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length <= index) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('closed before the message');
      if (Date.now() > deadline) throw new Error(`no message ${index} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 20);
      });
    }
    return this.messages[index]!;
  }

  /**
   * Runs the handshake as the initiator with identity `label`; returns the secure channel.
   * Throws when the node ends the handshake.
   */
  async handshake(
    label: string,
    o: { instance?: string; version?: number; maxFrameBytes?: number } = {},
  ): Promise<{ channel: SecureChannel; peerId: string }> {
    const hs = new Handshake({
      role: 'initiator',
      identity: seed(label),
      instance: o.instance ?? INSTANCE,
      version: o.version ?? PROTOCOL_VERSION,
      listen: null,
      maxFrameBytes: o.maxFrameBytes ?? 8 * 1024 * 1024,
    });
    this.send(hs.hello);
    let i = 0;
    for (;;) {
      const step = hs.receive(await this.message(i++));
      if (!step.ok) throw new Error(`handshake failed: ${step.reason} ${step.detail}`);
      if (step.send !== undefined) this.send(step.send);
      if (step.done !== undefined) return { channel: step.done.channel, peerId: step.done.peerId };
    }
  }
}

/** Polls `pred` every 5 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(pred: () => boolean, what: string, timeoutMs = 4000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function isConnected(a: TestNode, b: TestNode): boolean {
  return a.net.peers().some((p) => p.id === b.net.id) && b.net.peers().some((p) => p.id === a.net.id);
}

export async function connected(a: TestNode, b: TestNode, timeoutMs?: number): Promise<void> {
  await waitFor(() => isConnected(a, b), `${a.net.id.slice(0, 8)} <-> ${b.net.id.slice(0, 8)}`, timeoutMs);
}

export function rejected(n: TestNode, reason: string): number {
  return n.net.stats().rejected[reason] ?? 0;
}

export function logged(n: TestNode, text: string): boolean {
  return n.logs.some((l) => l.msg.includes(text) || l.fields?.reason === text);
}

export function bytes(n: number, fill: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (fill + i * 31) & 0xff;
  return b;
}
