import { randomBytes } from 'node:crypto';
import { firstValueFrom } from 'rxjs';
import { filter } from 'rxjs/operators';
import { afterEach, describe, expect, it } from 'vitest';
import { type PeerEvent, PeerNetwork } from './network.ts';
import {
  bytes,
  connected,
  type Harness as H,
  Harness,
  INSTANCE,
  idOf,
  rejected,
  type TestNode,
  waitFor,
} from './testing.ts';

const h = new Harness();
afterEach(() => h.cleanup());

/** An honest node can still connect to `n` and exchange a frame with it. */
async function stillServes(harness: H, n: TestNode, label: string): Promise<void> {
  const honest = await harness.node(label, { peers: [n.url] });
  await connected(honest, n);
  const before = n.frames.length;
  expect(honest.net.send(n.net.id, 1, bytes(32, 7))).toBe(true);
  await waitFor(() => n.frames.length === before + 1, 'a frame from the honest peer');
}

describe('PeerNetwork: misbehaving peers', () => {
  it('garbage before the handshake: undecodable, disconnected, the node keeps working', async () => {
    const b = await h.node('b');
    const raw = await h.raw(b.url);
    raw.send(randomBytes(200));
    expect(await raw.closed).toEqual({ code: 4000, reason: 'undecodable' });
    expect(rejected(b, 'undecodable')).toBe(1);
    expect(b.logs.some((l) => l.level === 'warn' && l.fields?.reason === 'undecodable')).toBe(true);
    // a text message is a protocol violation
    const raw2 = await h.raw(b.url);
    raw2.send('hello?');
    expect(await raw2.closed).toEqual({ code: 4000, reason: 'protocol' });
    await stillServes(h, b, 'honest');
  });

  it('garbage after the handshake: undecodable, score dropped, identity banned', async () => {
    const b = await h.node('b');
    const raw = await h.raw(b.url);
    await raw.handshake('mallory');
    const mallory = idOf('mallory');
    await waitFor(() => b.net.peers().some((p) => p.id === mallory), 'mallory is up');
    const down = firstValueFrom(b.net.events$.pipe(filter((e) => e.type === 'down')));
    raw.send(randomBytes(100));
    expect(await raw.closed).toEqual({ code: 4000, reason: 'undecodable' });
    expect(await down).toMatchObject({ type: 'down', peer: mallory, reason: 'undecodable' });
    expect(b.net.score(mallory)).toBeLessThan(-99);
    expect(b.net.isBanned(mallory)).toBe(true);
    expect(Object.keys(b.net.bans().ids)).toEqual([mallory]);
    // the same identity is refused when it comes back
    const again = await h.raw(b.url);
    await again.handshake('mallory').catch(() => undefined);
    expect(await again.closed).toEqual({ code: 4000, reason: 'banned' });
    expect(rejected(b, 'banned')).toBe(1);
    await stillServes(h, b, 'honest');
  });

  it('tampered ciphertext (one flipped bit): undecodable, no crash', async () => {
    const b = await h.node('b');
    const raw = await h.raw(b.url);
    const { channel } = await raw.handshake('mallory');
    await waitFor(() => b.net.peers().length === 1, 'up');
    raw.send(channel.sealFrame(0, bytes(64, 1))); // a good frame first
    await waitFor(() => b.frames.length === 1, 'the good frame');
    const frame = channel.sealFrame(0, bytes(64, 2));
    frame[20]! ^= 0x10;
    raw.send(frame);
    expect(await raw.closed).toEqual({ code: 4000, reason: 'undecodable' });
    expect(b.frames).toHaveLength(1);
    await stillServes(h, b, 'honest');
  });

  it('a replayed frame: replay', async () => {
    const b = await h.node('b');
    const raw = await h.raw(b.url);
    const { channel } = await raw.handshake('mallory');
    const frame = channel.sealFrame(0, bytes(16, 1));
    raw.send(frame);
    raw.send(frame);
    expect(await raw.closed).toEqual({ code: 4000, reason: 'replay' });
    expect(b.frames).toHaveLength(1);
    expect(b.net.isBanned(idOf('mallory'))).toBe(true);
  });

  it('an oversize frame (after and before the handshake): oversize-frame', async () => {
    const b = await h.node('b', { maxFrameBytes: 64 * 1024 });
    // after: a sealed frame bigger than b accepts (but within what it told us it accepts + slack)
    const raw = await h.raw(b.url);
    const { channel } = await raw.handshake('mallory');
    raw.send(channel.sealFrame(0, bytes(100 * 1024, 1)));
    expect(await raw.closed).toMatchObject({ code: 1009 }); // ws refuses the message itself
    await waitFor(() => rejected(b, 'oversize-frame') === 1, 'recorded');
    expect(b.net.isBanned(idOf('mallory'))).toBe(true);
    // before the handshake
    const raw2 = await h.raw(b.url);
    raw2.send(new Uint8Array(200 * 1024));
    await raw2.closed;
    await waitFor(() => rejected(b, 'oversize-frame') === 2, 'recorded');
    await stillServes(h, b, 'honest');
  });

  it('the frame limit is exact: maxFrameBytes passes, one byte more is oversize-frame', async () => {
    const b = await h.node('b', { maxFrameBytes: 1000 });
    const raw = await h.raw(b.url);
    const { channel } = await raw.handshake('mallory');
    raw.send(channel.sealFrame(0, bytes(1000, 1)));
    await waitFor(() => b.frames.length === 1, 'a frame of exactly the limit');
    raw.send(channel.sealFrame(0, bytes(1001, 1)));
    await raw.closed;
    await waitFor(() => rejected(b, 'oversize-frame') === 1, 'recorded');
  });

  it('a flood: disconnected for flood, banned, honest peers unaffected', async () => {
    const b = await h.node('b', { limits: { framesPerSecond: 50 } });
    const a = await h.node('a', { peers: [b.url] });
    await connected(a, b);
    const down = firstValueFrom(
      a.net.events$.pipe(filter((e): e is Extract<PeerEvent, { type: 'down' }> => e.type === 'down')),
    );
    const started = performance.now();
    for (let i = 0; i < 200; i++) a.net.send(b.net.id, 0, bytes(10, i));
    expect(await down).toMatchObject({ peer: b.net.id, reason: 'closed-by-peer', detail: 'flood' });
    await waitFor(() => rejected(b, 'flood') === 1, 'flood recorded');
    // the bucket's burst of 50, and what it refilled (50/s) while the flood was being read
    const refilled = Math.ceil((50 * (performance.now() - started)) / 1000);
    expect(b.frames.length).toBeGreaterThan(0);
    expect(b.frames.length).toBeLessThanOrEqual(50 + refilled);
    expect(b.frames.length).toBeLessThan(200);
    expect(b.net.score(a.net.id)).toBeLessThan(-99);
    expect(b.net.isBanned(a.net.id)).toBe(true);
    // a keeps redialling b, and b keeps refusing it while the ban lasts
    await waitFor(() => rejected(b, 'banned') >= 1, 'a refused as banned');
    await stillServes(h, b, 'honest');
  });

  it('a byte flood is caught by the bytes/s bucket', async () => {
    const b = await h.node('b', { limits: { bytesPerSecond: 256 * 1024 }, maxFrameBytes: 64 * 1024 });
    const a = await h.node('a', { peers: [b.url] });
    await connected(a, b);
    for (let i = 0; i < 20; i++) a.net.send(b.net.id, 0, bytes(60 * 1024, i));
    await waitFor(() => rejected(b, 'flood') === 1, 'flood recorded');
    const rej = b.logs.find((l) => l.fields?.reason === 'flood');
    expect(String(rej?.fields?.detail)).toContain('bytes/s');
  });

  it('penalise() below the threshold disconnects and bans', async () => {
    const b = await h.node('b');
    const a = await h.node('a', { peers: [b.url] });
    await connected(a, b);
    b.net.penalise(a.net.id, 'bad-vote-signature', 60);
    expect(b.net.score(a.net.id)).toBeCloseTo(-60, 0);
    expect(b.net.peers()[0]!.score).toBeCloseTo(-60, 0);
    expect(b.net.peers()).toHaveLength(1); // still connected
    const down = firstValueFrom(b.net.events$.pipe(filter((e) => e.type === 'down')));
    b.net.penalise(a.net.id, 'bad-vote-signature', 60);
    expect(await down).toMatchObject({ peer: a.net.id, reason: 'penalised', detail: 'bad-vote-signature' });
    expect(b.net.isBanned(a.net.id)).toBe(true);
    expect(b.logs.some((l) => l.msg === 'peer penalised' && l.fields?.reason === 'bad-vote-signature')).toBe(
      true,
    );
    await waitFor(() => rejected(b, 'banned') >= 1, 'a refused as banned when it redials');
    expect(b.net.peers()).toEqual([]);
    // default weight and unknown peers do not throw
    b.net.penalise('00'.repeat(32), 'whatever');
    expect(b.net.score('00'.repeat(32))).toBeCloseTo(-10, 0);
  });

  it('repeated offences from one host ban the host', async () => {
    const b = await h.node('b', { scoring: { hostStrikes: 2 } });
    for (let i = 0; i < 2; i++) {
      const raw = await h.raw(b.url);
      raw.send(randomBytes(50));
      await raw.closed;
    }
    expect(Object.keys(b.net.bans().hosts)).toEqual(['127.0.0.1']);
    await expect(h.raw(b.url)).rejects.toThrow(/403/);
    await waitFor(() => rejected(b, 'banned') === 1, 'refused at the upgrade');
  });

  it('what is on the wire is not the plaintext', async () => {
    const b = await h.node('b');
    const proxy = await h.proxy(b.net.port!);
    const a = await h.node('a', { peers: [`ws://127.0.0.1:${proxy.port}#${b.net.id}`] });
    await connected(a, b);
    const secret = new TextEncoder().encode('TOP-SECRET-PAYLOAD-0123456789');
    const payload = new Uint8Array(secret.length * 8);
    for (let i = 0; i < 8; i++) payload.set(secret, i * secret.length);
    expect(b.net.send(a.net.id, 0, payload)).toBe(true); // server → client: WebSocket does not mask
    expect(a.net.send(b.net.id, 0, payload)).toBe(true);
    await waitFor(() => a.frames.length === 1 && b.frames.length === 1, 'delivered');
    const down = Buffer.concat(proxy.down);
    const up = Buffer.concat(proxy.up);
    expect(down.includes(Buffer.from(secret))).toBe(false);
    expect(up.includes(Buffer.from(secret))).toBe(false);
    // the capture does see the cleartext part of the handshake (so it would see a cleartext payload)
    expect(down.includes(Buffer.from(INSTANCE))).toBe(true);
    // and the identities travel encrypted
    expect(down.includes(Buffer.from(b.net.id, 'hex'))).toBe(false);
    expect(up.includes(Buffer.from(a.net.id, 'hex'))).toBe(false);
  });

  it('a bit flipped on the wire by a middlebox: undecodable, then the link recovers', async () => {
    const b = await h.node('b');
    let armed = false;
    const proxy = await h.proxy(b.net.port!, (chunk, dir) => {
      if (armed && dir === 'down' && chunk.length > 1000) {
        armed = false;
        const c = Buffer.from(chunk);
        c[c.length - 1]! ^= 0x01; // the last byte of a server → client frame: its tag
        return c;
      }
      return chunk;
    });
    const a = await h.node('a', { peers: [`ws://127.0.0.1:${proxy.port}#${b.net.id}`] });
    await connected(a, b);
    armed = true;
    const down = firstValueFrom(a.net.events$.pipe(filter((e) => e.type === 'down')));
    b.net.send(a.net.id, 0, bytes(4000, 1));
    expect(await down).toMatchObject({ peer: b.net.id, reason: 'undecodable' });
    expect(a.frames).toHaveLength(0);
    expect(rejected(a, 'undecodable')).toBe(1);
  });

  it('a peer exchange with garbage addresses is ignored without harm', async () => {
    const b = await h.node('b');
    const raw = await h.raw(b.url);
    const { channel } = await raw.handshake('gossip');
    const { encodeControl } = await import('./protocol.ts');
    raw.send(
      channel.sealFrame(
        255,
        encodeControl({
          tag: 'peers',
          value: [
            { address: 'not an address', publicKey: new Uint8Array(32).fill(1) },
            { address: 'http://x:1', publicKey: new Uint8Array(32).fill(2) },
            { address: b.url, publicKey: Buffer.from(b.net.id, 'hex') }, // b itself
          ],
        }),
      ),
    );
    raw.send(channel.sealFrame(0, bytes(8, 1)));
    await waitFor(() => b.frames.length === 1, 'the frame after the pex');
    expect(b.net.peers()).toHaveLength(1);
    // an undecodable control message is an offence
    raw.send(channel.sealFrame(255, new Uint8Array([0xee, 0x01])));
    expect(await raw.closed).toEqual({ code: 4000, reason: 'undecodable' });
  });

  it('seeded random garbage at every stage never crashes the node', async () => {
    const b = await h.node('b', { scoring: { hostStrikes: 1000 }, handshakeTimeoutMs: 500 });
    let x = 0x2545f491;
    const rnd = (n: number) => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x % n;
    };
    const noise = (n: number) => Uint8Array.from({ length: n }, () => rnd(256));
    const reasons = new Set<string>();
    for (let i = 0; i < 24; i++) {
      const raw = await h.raw(b.url);
      const hello = await raw.message(0);
      switch (i % 4) {
        case 0: // noise instead of a hello
          raw.send(noise(rnd(300)));
          break;
        case 1: {
          // b's own hello, mutated, sent back
          const m = hello.slice();
          m[rnd(m.length)]! ^= 1 << rnd(8);
          raw.send(m.subarray(0, rnd(m.length + 1)));
          raw.send(noise(rnd(200)));
          break;
        }
        case 2: {
          // a proper handshake, then a genuine frame with one bit flipped somewhere
          const { channel } = await raw.handshake(`fuzz${i}`);
          const f = channel.sealFrame(rnd(256), noise(rnd(2000)));
          f[rnd(f.length)]! ^= 1 << rnd(8);
          raw.send(f);
          break;
        }
        default: {
          // a proper handshake, then noise
          await raw.handshake(`fuzz${i}`);
          raw.send(noise(rnd(3000)));
        }
      }
      const closed = await raw.closed;
      reasons.add(closed.reason);
    }
    expect(
      [...reasons].every((r) =>
        [
          'undecodable',
          'replay',
          'protocol',
          'wrong-version',
          'wrong-instance',
          'oversize-frame',
          'handshake-timeout',
          '',
        ].includes(r),
      ),
    ).toBe(true);
    expect(reasons.has('undecodable')).toBe(true);
    expect(b.logs.filter((l) => l.level === 'error')).toEqual([]);
    await stillServes(h, b, 'honest');
  });

  it('rejects bad options early', () => {
    expect(() => new PeerNetwork({ instance: '', secretKey: new Uint8Array(32) })).toThrow(TypeError);
    expect(() => new PeerNetwork({ instance: 'x', secretKey: new Uint8Array(5) })).toThrow(TypeError);
    expect(
      () => new PeerNetwork({ instance: 'x', secretKey: new Uint8Array(32), peers: ['http://x'] }),
    ).toThrow(TypeError);
    expect(() => new PeerNetwork({ instance: 'x', secretKey: new Uint8Array(32), maxPeers: 0 })).toThrow(
      RangeError,
    );
  });
});
