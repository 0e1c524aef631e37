import { firstValueFrom } from 'rxjs';
import { filter, take, toArray } from 'rxjs/operators';
import { afterEach, describe, expect, it } from 'vitest';
import { CHANNEL_CONSENSUS, CHANNEL_MEMPOOL } from './index.ts';
import type { PeerEvent } from './network.ts';
import { Handshake, PROTOCOL_VERSION } from './protocol.ts';
import {
  bytes,
  connected,
  Harness,
  INSTANCE,
  idOf,
  isConnected,
  logged,
  rejected,
  seed,
  waitFor,
} from './testing.ts';

const h = new Harness();
afterEach(() => h.cleanup());

function framesFrom(frames: [string, number, Uint8Array][], peer: string, channel: number): Uint8Array[] {
  return frames.filter(([p, c]) => p === peer && c === channel).map(([, , b]) => b);
}

describe('PeerNetwork: connections and frames', () => {
  it('two nodes connect and exchange frames on several channels both ways', async () => {
    const b = await h.node('b');
    const upAtB = firstValueFrom(b.net.events$.pipe(filter((e) => e.type === 'up')));
    const a = await h.node('a', { peers: [b.url] });
    await connected(a, b);
    const up = (await upAtB) as Extract<PeerEvent, { type: 'up' }>;
    expect(up.peer.id).toBe(a.net.id);
    expect(up.peer.direction).toBe('in');
    expect(up.peer.address).toBe(a.url); // the advertised listen address

    const [infoA] = a.net.peers();
    expect(infoA).toMatchObject({ id: b.net.id, direction: 'out', address: b.url, score: 0 });

    for (const ch of [CHANNEL_CONSENSUS, CHANNEL_MEMPOOL, 7, 254]) {
      expect(a.net.send(b.net.id, ch, bytes(100 + ch, ch))).toBe(true);
      expect(b.net.send(a.net.id, ch, bytes(50 + ch, ch + 1))).toBe(true);
    }
    expect(a.net.send(b.net.id, 3, new Uint8Array(0))).toBe(true); // empty frames are fine
    await waitFor(() => b.frames.length === 5 && a.frames.length === 4, 'frames');
    for (const ch of [CHANNEL_CONSENSUS, CHANNEL_MEMPOOL, 7, 254]) {
      expect(framesFrom(b.frames, a.net.id, ch)).toEqual([bytes(100 + ch, ch)]);
      expect(framesFrom(a.frames, b.net.id, ch)).toEqual([bytes(50 + ch, ch + 1)]);
    }
    expect(framesFrom(b.frames, a.net.id, 3)).toEqual([new Uint8Array(0)]);
    expect(a.net.stats()).toMatchObject({ framesOut: 5, framesIn: 4 });
    expect(b.net.peers()[0]).toMatchObject({ framesIn: 5, framesOut: 4, bytesIn: 100 + 101 + 107 + 354 });
  });

  it('three nodes: broadcast reaches all, a 1 MB frame arrives intact', async () => {
    const c = await h.node('c');
    const b = await h.node('b', { peers: [c.url] });
    const a = await h.node('a', { peers: [b.url, c.url], peerExchange: false });
    await connected(a, b);
    await connected(a, c);
    await connected(b, c);
    expect(a.net.broadcast(CHANNEL_CONSENSUS, bytes(10, 1))).toBe(2);
    expect(b.net.broadcast(CHANNEL_MEMPOOL, bytes(10, 2))).toBe(2);
    const big = bytes(1024 * 1024, 5);
    expect(c.net.send(a.net.id, 9, big)).toBe(true);
    await waitFor(
      () => framesFrom(a.frames, c.net.id, 9).length === 1 && b.frames.length === 1 && c.frames.length === 2,
      'broadcasts and the big frame',
    );
    expect(framesFrom(b.frames, a.net.id, CHANNEL_CONSENSUS)).toEqual([bytes(10, 1)]);
    expect(framesFrom(c.frames, a.net.id, CHANNEL_CONSENSUS)).toEqual([bytes(10, 1)]);
    expect(framesFrom(a.frames, b.net.id, CHANNEL_MEMPOOL)).toEqual([bytes(10, 2)]);
    expect(framesFrom(c.frames, b.net.id, CHANNEL_MEMPOOL)).toEqual([bytes(10, 2)]);
    const got = framesFrom(a.frames, c.net.id, 9)[0]!;
    expect(got.length).toBe(big.length);
    expect(Buffer.from(got).equals(Buffer.from(big))).toBe(true);
  });

  it('reconnects after a peer is closed and restarted on the same port', async () => {
    const b1 = await h.node('b');
    const port = b1.net.port!;
    const a = await h.node('a', { peers: [b1.url] });
    await connected(a, b1);
    const down = firstValueFrom(a.net.events$.pipe(filter((e) => e.type === 'down')));
    await b1.net.close();
    expect(await down).toMatchObject({
      type: 'down',
      peer: b1.net.id,
      reason: 'closed-by-peer',
      detail: 'shutdown',
    });
    expect(a.net.peers()).toEqual([]);
    expect(a.net.send(b1.net.id, 0, bytes(1, 1))).toBe(false);
    // a redials with backoff while b is down (connection refused), then b comes back
    await new Promise((r) => setTimeout(r, 100));
    const b2 = await h.node('b', {}, port);
    await connected(a, b2);
    expect(a.net.send(b2.net.id, 0, bytes(8, 3))).toBe(true);
    await waitFor(() => b2.frames.length === 1, 'frame after the reconnect');
  });

  it('two nodes dialling each other end up with one connection, the same on both sides', async () => {
    // a and b dial each other at once, several times over
    for (let round = 0; round < 3; round++) {
      const x = await h.node(`x${round}`);
      const y = await h.node(`y${round}`, { peers: [x.url] });
      // restart x dialling y too: stop the first x and start one with y as a peer on the same port
      await connected(x, y);
      const port = x.net.port!;
      await x.net.close();
      const x2 = await h.node(`x${round}`, { peers: [y.url] }, port);
      await connected(x2, y);
      await new Promise((r) => setTimeout(r, 150));
      expect(x2.net.peers()).toHaveLength(1);
      expect(y.net.peers()).toHaveLength(1);
      const dx = x2.net.peers()[0]!.direction;
      const dy = y.net.peers()[0]!.direction;
      expect(dx).not.toBe(dy);
      // the connection kept is the one dialled by the smaller public key
      const dialler = dx === 'out' ? x2.net.id : y.net.id;
      expect(dialler).toBe([x2.net.id, y.net.id].sort()[0]);
      expect(x2.net.send(y.net.id, 2, bytes(3, 3))).toBe(true);
      expect(y.net.send(x2.net.id, 2, bytes(4, 4))).toBe(true);
      await waitFor(() => y.frames.length === 1 && x2.frames.length === 1, 'frames over the kept connection');
    }
  });

  it('nodes that start together dialling each other collapse to one session without down events', async () => {
    for (let round = 0; round < 3; round++) {
      // reserve two ports, then start both nodes at once, each configured with the other
      const px = (await h.node(`x${round}`)).net;
      const py = (await h.node(`y${round}`)).net;
      const [portX, portY] = [px.port!, py.port!];
      await Promise.all([px.close(), py.close()]);
      const x = h.create(`x${round}`, { peers: [`ws://127.0.0.1:${portY}`] }, portX);
      const y = h.create(`y${round}`, { peers: [`ws://127.0.0.1:${portX}`] }, portY);
      const events: PeerEvent[] = [];
      x.net.events$.subscribe((e) => events.push(e));
      y.net.events$.subscribe((e) => events.push(e));
      await Promise.all([x.net.start(), y.net.start()]);
      await connected(x, y);
      await new Promise((r) => setTimeout(r, 150));
      expect(events.map((e) => e.type)).toEqual(['up', 'up']);
      expect(x.net.peers()).toHaveLength(1);
      expect(y.net.peers()).toHaveLength(1);
      expect(x.net.send(y.net.id, 0, bytes(3, 3))).toBe(true);
      await waitFor(() => y.frames.length === 1, 'a frame');
    }
  });

  it('a connection the peer replaces by a duplicate is swapped silently (grace period)', async () => {
    const y = await h.node('y', { handshakeTimeoutMs: 1000 });
    const events: PeerEvent[] = [];
    y.net.events$.subscribe((e) => events.push(e));
    // x's first connection, registered at y
    const first = await h.raw(y.url);
    await first.handshake('x');
    await waitFor(() => y.net.peers().length === 1, 'x up');
    // x's second connection: hellos exchanged, x's auth held back
    const second = await h.raw(y.url);
    const hs = new Handshake({
      role: 'initiator',
      identity: seed('x'),
      instance: INSTANCE,
      version: PROTOCOL_VERSION,
      maxFrameBytes: 1 << 20,
    });
    second.send(hs.hello);
    const step = hs.receive(await second.message(0));
    if (!step.ok || step.send === undefined) throw new Error('no auth');
    // x drops the first as a duplicate of the second, then completes the second
    first.ws.close(4000, 'duplicate');
    await first.closed;
    await new Promise((r) => setTimeout(r, 50));
    expect(y.net.peers()).toHaveLength(1); // still there: waiting for the replacement
    expect(y.net.send(idOf('x'), 0, bytes(1, 1))).toBe(false);
    second.send(step.send);
    const done = hs.receive(await second.message(1));
    if (!done.ok || done.done === undefined) throw new Error('handshake did not finish');
    second.send(done.done.channel.sealFrame(4, bytes(10, 4)));
    await waitFor(() => y.frames.length === 1, 'a frame over the replacement');
    expect(events.map((e) => e.type)).toEqual(['up']);
    expect(y.net.send(idOf('x'), 0, bytes(1, 1))).toBe(true);
    // without a replacement, the session ends after the grace period
    second.ws.close(4000, 'duplicate');
    await waitFor(() => events.length === 2, 'down after the grace period');
    expect(events[1]).toEqual({
      type: 'down',
      peer: idOf('x'),
      reason: 'closed-by-peer',
      detail: 'duplicate not replaced',
    });
  });

  it('drops a connection to itself and stops dialling that address', async () => {
    const a = await h.node('a');
    // a node told to dial its own address
    const port = a.net.port!;
    await a.net.close();
    const me = await h.node('a', { peers: [`ws://127.0.0.1:${port}`] }, port);
    await waitFor(() => rejected(me, 'self') >= 1, 'self connection dropped');
    await new Promise((r) => setTimeout(r, 150));
    expect(me.net.peers()).toEqual([]);
    expect(rejected(me, 'self')).toBe(2); // both ends of the one connection
    expect(me.logs.filter((l) => l.msg === 'dialling')).toHaveLength(1);
  });

  it('another node with our identity is refused, and redialled only at the slowest pace', async () => {
    const t1 = await h.node('twin');
    const t2 = await h.node('twin', { peers: [t1.url], backoff: { initialMs: 20, maxMs: 10_000 } });
    await waitFor(() => rejected(t1, 'self') === 1, 'refused by the twin');
    await waitFor(() => logged(t2, 'the peer has our identity'), 'warned');
    await new Promise((r) => setTimeout(r, 100));
    expect(t2.logs.filter((l) => l.msg === 'dialling')).toHaveLength(1);
  });

  it('pings keep a quiet session alive; a silent peer is dropped with timeout', async () => {
    const o = { pingIntervalMs: 50, idleTimeoutMs: 400 };
    const b = await h.node('b', o);
    const a = await h.node('a', { ...o, peers: [b.url] });
    const raw = await h.raw(b.url);
    await raw.handshake('silent');
    raw.ws.pause(); // reads nothing, answers no ping
    await connected(a, b);
    const down = firstValueFrom(b.net.events$.pipe(filter((e) => e.type === 'down')));
    expect(await down).toMatchObject({ reason: 'timeout' });
    expect(rejected(b, 'timeout')).toBe(1);
    await new Promise((r) => setTimeout(r, 600)); // longer than the idle timeout: a and b are still connected
    expect(isConnected(a, b)).toBe(true);
    expect(b.net.stats().rejected.timeout).toBe(1);
  });

  it('a throwing frame handler is logged and the connection goes on', async () => {
    const b = await h.node('b');
    const a = await h.node('a', { peers: [b.url] });
    await connected(a, b);
    b.net.onFrame(() => {
      throw new Error('handler bug');
    });
    a.net.send(b.net.id, 0, bytes(5, 1));
    a.net.send(b.net.id, 0, bytes(5, 2));
    await waitFor(() => b.frames.length === 2, 'both frames');
    expect(b.logs.some((l) => l.msg === 'frame handler threw')).toBe(true);
    expect(isConnected(a, b)).toBe(true);
  });

  it('validates channels and reports unknown peers', async () => {
    const a = await h.node('a');
    expect(a.net.send('ff'.repeat(32), 0, bytes(1, 1))).toBe(false);
    expect(() => a.net.send('x', 255, bytes(1, 1))).toThrow(RangeError);
    expect(() => a.net.send('x', -1, bytes(1, 1))).toThrow(RangeError);
    expect(() => a.net.broadcast(1.5, bytes(1, 1))).toThrow(RangeError);
    expect(a.net.broadcast(0, bytes(1, 1))).toBe(0);
  });

  it('does not send frames larger than the peer accepts', async () => {
    const b = await h.node('b', { maxFrameBytes: 1000 });
    const a = await h.node('a', { peers: [b.url] });
    await connected(a, b);
    expect(a.net.send(b.net.id, 0, bytes(1001, 1))).toBe(false);
    expect(a.net.stats().dropped.oversize).toBe(1);
    expect(a.net.send(b.net.id, 0, bytes(1000, 1))).toBe(true);
    await waitFor(() => b.frames.length === 1, 'the frame that fits');
    expect(isConnected(a, b)).toBe(true);
  });

  it('drops frames for a peer that does not read (backpressure)', async () => {
    const a = await h.node('a', { maxBufferedBytes: 1024 * 1024 });
    const raw = await h.raw(a.url);
    const { peerId } = await raw.handshake('slow');
    expect(peerId).toBe(a.net.id);
    await waitFor(() => a.net.peers().length === 1, 'the raw peer is up');
    raw.ws.pause(); // stops reading its socket
    const id = a.net.peers()[0]!.id;
    const frame = bytes(1024 * 1024, 9);
    let sent = 0;
    for (let i = 0; i < 64; i++) if (a.net.send(id, 0, frame)) sent++;
    expect(sent).toBeLessThan(64);
    expect(a.net.stats().dropped.backpressure).toBe(64 - sent);
    raw.ws.terminate();
  });

  it('close() ends every session with down events and completes the streams', async () => {
    const b = await h.node('b');
    const a = await h.node('a', { peers: [b.url] });
    await connected(a, b);
    const all = firstValueFrom(a.net.events$.pipe(take(10), toArray()));
    await a.net.close();
    expect(await all).toEqual([{ type: 'down', peer: b.net.id, reason: 'shutdown' }]);
    await waitFor(() => b.net.peers().length === 0, 'b sees a leave');
    await expect(a.net.start()).rejects.toThrow(/closed/);
  });
});
