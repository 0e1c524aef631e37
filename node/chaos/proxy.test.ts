/**
 * The fault proxy on loopback: bytes pass, are held, vanish or the link breaks as its mode says,
 * and the encrypted peer transport through it sees only network faults (disconnects, silence),
 * never a corrupted stream, so no peer is penalised or banned for what the proxy did.
 */
import { createServer, type Server, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connected, Harness, isConnected, waitFor } from '../net/testing.ts';
import { FaultProxy, OPEN } from './proxy.ts';

/** A target that records what each connection sent and echoes it back. */
interface Target {
  server: Server;
  port: number;
  received: Buffer[][];
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function target(): Promise<Target> {
  const t: Target = { server: createServer(), port: 0, received: [] };
  const sockets: Socket[] = [];
  t.server.on('connection', (s) => {
    sockets.push(s);
    const mine: Buffer[] = [];
    t.received.push(mine);
    s.on('error', () => {});
    s.on('data', (c: Buffer) => {
      mine.push(c);
      s.write(c);
    });
  });
  await new Promise<void>((r) => t.server.listen(0, '127.0.0.1', () => r()));
  const a = t.server.address();
  t.port = typeof a === 'object' && a !== null ? a.port : 0;
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => t.server.close(() => r()));
  });
  return t;
}

async function proxyTo(t: Target): Promise<FaultProxy> {
  const p = new FaultProxy({
    listen: { host: '127.0.0.1', port: 0 },
    target: { host: '127.0.0.1', port: t.port },
  });
  await p.start();
  cleanups.push(() => p.close());
  return p;
}

/** A client connection recording what comes back and whether it was closed. */
interface Client {
  socket: Socket;
  got: () => string;
  closed: () => boolean;
}

async function dial(port: number): Promise<Client> {
  const socket = new Socket();
  let got = '';
  let closed = false;
  socket.on('data', (c: Buffer) => {
    got += c.toString();
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    closed = true;
  });
  await new Promise<void>((r) => socket.connect(port, '127.0.0.1', () => r()));
  cleanups.push(() => {
    socket.destroy();
  });
  return { socket, got: () => got, closed: () => closed };
}

const text = (bufs: Buffer[] | undefined) => Buffer.concat(bufs ?? []).toString();
/** Gives the event loop time to deliver anything that is on its way (to see that nothing came). */
const settle = () => new Promise((r) => setTimeout(r, 150));

describe('FaultProxy', () => {
  it('open: bytes pass both ways and are counted', async () => {
    const t = await target();
    const p = await proxyTo(t);
    const c = await dial(p.port);
    c.socket.write('hello');
    await waitFor(() => c.got() === 'hello', 'the echo');
    expect(text(t.received[0])).toBe('hello');
    expect(p.stats).toMatchObject({ accepted: 1, up: 5, down: 5, dropped: 0, closed: 0 });
  });

  it('delay: holds bytes until released, in order; leaving the delay releases them', async () => {
    const t = await target();
    const p = await proxyTo(t);
    const c = await dial(p.port);
    p.set({ kind: 'delay', ms: 60_000 });
    c.socket.write('one,');
    c.socket.write('two');
    await settle();
    expect(t.received[0] ?? []).toEqual([]);
    expect(p.stats.up).toBe(0);
    p.set(OPEN);
    await waitFor(() => c.got() === 'one,two', 'the released bytes, echoed');
    expect(text(t.received[0])).toBe('one,two');
    expect(c.closed()).toBe(false);
  });

  it('cut: closes the connections and refuses new ones until opened again', async () => {
    const t = await target();
    const p = await proxyTo(t);
    const before = await dial(p.port);
    await waitFor(() => t.received.length === 1, 'the target sees the first connection');
    p.set({ kind: 'cut' });
    await waitFor(() => before.closed(), 'the open connection closed');
    const during = await dial(p.port);
    during.socket.write('lost');
    await waitFor(() => during.closed(), 'the new connection closed at once');
    expect(t.received.length).toBe(1);
    expect(p.stats).toMatchObject({ refused: 1, closed: 1 });
    p.set(OPEN);
    const after = await dial(p.port);
    after.socket.write('back');
    await waitFor(() => after.got() === 'back', 'a connection after the cut');
  });

  it('drop: nothing passes; a stream that lost bytes is reset after, an idle one lives on', async () => {
    const t = await target();
    const p = await proxyTo(t);
    const talker = await dial(p.port);
    const quiet = await dial(p.port);
    await waitFor(() => t.received.length === 2, 'both connections reach the target');
    p.set({ kind: 'drop' });
    talker.socket.write('into the void');
    const held = await dial(p.port);
    await settle();
    expect(t.received.length).toBe(2); // the connection made during the drop was not passed on
    expect(text(t.received[0])).toBe('');
    expect(talker.closed()).toBe(false); // silence, not a close
    expect(p.stats.dropped).toBe('into the void'.length);
    p.set(OPEN);
    await waitFor(() => talker.closed(), 'the stream with a hole is reset');
    quiet.socket.write('still here');
    await waitFor(() => quiet.got() === 'still here', 'the idle connection carries bytes');
    held.socket.write('late');
    await waitFor(() => held.got() === 'late', 'the held connection reaches the target once open');
    expect(talker.got()).toBe('');
  });

  it('an unreachable target closes the client connection', async () => {
    const t = await target();
    const p = await proxyTo(t);
    await new Promise<void>((r) => t.server.close(() => r()));
    const c = await dial(p.port);
    await waitFor(() => c.closed(), 'the client closed');
  });
});

describe('the peer transport through the fault proxy', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it('a cut and a black hole disconnect the peers, who reconnect afterwards with no penalty', async () => {
    const timings = { pingIntervalMs: 100, idleTimeoutMs: 600, peerExchange: false };
    const b = await h.node('b', timings);
    const p = new FaultProxy({
      listen: { host: '127.0.0.1', port: 0 },
      target: { host: '127.0.0.1', port: b.net.port! },
    });
    await p.start();
    cleanups.push(() => p.close());
    const a = await h.node('a', { ...timings, peers: [`ws://127.0.0.1:${p.port}`] });
    await connected(a, b);

    p.set({ kind: 'cut' });
    await waitFor(() => !isConnected(a, b) && !isConnected(b, a), 'the cut disconnects both');
    p.set({ kind: 'delay', ms: 50 });
    await connected(a, b, 10_000);
    expect(a.net.send(b.net.id, 3, Uint8Array.of(1, 2, 3))).toBe(true);
    await waitFor(() => b.frames.some(([, ch]) => ch === 3), 'a frame through the delayed link');

    p.set({ kind: 'drop' });
    await waitFor(() => !isConnected(a, b) && !isConnected(b, a), 'silence times both out', 10_000);
    p.set(OPEN);
    await connected(a, b, 10_000);
    for (const n of [a, b]) {
      const r = n.net.stats().rejected;
      for (const offence of ['undecodable', 'replay', 'protocol', 'banned']) expect(r[offence] ?? 0).toBe(0);
      for (const peer of n.net.peers()) expect(peer.score).toBe(0);
    }
  });
});
