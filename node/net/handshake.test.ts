import { firstValueFrom } from 'rxjs';
import { filter } from 'rxjs/operators';
import { afterEach, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from './protocol.ts';
import { bytes, connected, Harness, idOf, isConnected, logged, rejected, waitFor } from './testing.ts';

const h = new Harness();
afterEach(() => h.cleanup());

describe('PeerNetwork: handshake failures', () => {
  it('a different instance: no connection, reason recorded on both sides, the node serves others', async () => {
    const b = await h.node('b');
    const c = await h.node('c');
    const wrong = await h.node('w', { instance: 'another-chain', peers: [b.url] });
    await waitFor(
      () => rejected(b, 'wrong-instance') >= 1 && rejected(wrong, 'wrong-instance') >= 1,
      'rejections',
    );
    expect(logged(b, 'wrong-instance')).toBe(true);
    expect(b.net.peers()).toEqual([]);
    expect(wrong.net.peers()).toEqual([]);
    // b still works for an honest peer
    const a = await h.node('a', { peers: [b.url, c.url] });
    await connected(a, b);
    await connected(a, c);
    expect(a.net.send(b.net.id, 0, bytes(4, 4))).toBe(true);
    await waitFor(() => b.frames.length === 1, 'frame');
    // not an offence: nobody is banned for it
    expect(b.net.bans()).toEqual({ ids: {}, hosts: {} });
  });

  it('a different protocol version: no connection', async () => {
    const b = await h.node('b');
    const rej = firstValueFrom(b.net.rejections$.pipe(filter((r) => r.reason === 'wrong-version')));
    const v2 = await h.node('v2', { protocolVersion: PROTOCOL_VERSION + 1, peers: [b.url] });
    const r = await rej;
    expect(r).toMatchObject({ reason: 'wrong-version', direction: 'in', address: '127.0.0.1' });
    expect(r.detail).toContain(`version ${PROTOCOL_VERSION + 1}`);
    await waitFor(() => rejected(v2, 'wrong-version') >= 1, 'the dialler too');
    expect(b.net.peers()).toEqual([]);
  });

  it('a pinned identity that does not match: the dialler refuses it', async () => {
    const b = await h.node('b');
    const c = await h.node('c');
    // a believes c's key lives at b's address
    const a = await h.node('a', { peers: [`${b.url}#${c.net.id}`, { address: c.url, publicKey: c.net.id }] });
    await waitFor(() => rejected(a, 'wrong-identity') >= 1, 'wrong identity');
    await connected(a, c);
    expect(a.net.peers().map((p) => p.id)).toEqual([c.net.id]);
    expect(isConnected(a, b)).toBe(false);
    const rej = a.logs.find((l) => l.fields?.reason === 'wrong-identity');
    expect(String(rej?.fields?.detail)).toContain(b.net.id);
    // b is fine with others
    const d = await h.node('d', { peers: [b.url] });
    await connected(d, b);
  });

  it('a correctly pinned identity connects', async () => {
    const b = await h.node('b');
    const a = await h.node('a', { peers: [`${b.url}#${idOf('b')}`] });
    await connected(a, b);
  });

  it('a client that never completes the handshake is dropped with handshake-timeout', async () => {
    const b = await h.node('b', { handshakeTimeoutMs: 200 });
    const raw = await h.raw(b.url);
    const hello = await raw.message(0); // b speaks first
    expect(hello.length).toBeGreaterThan(64);
    const closed = await raw.closed;
    expect(closed).toEqual({ code: 4000, reason: 'handshake-timeout' });
    expect(rejected(b, 'handshake-timeout')).toBe(1);
  });

  it('an unreachable configured peer is retried with backoff, without crashing', async () => {
    const b = await h.node('b');
    const port = b.net.port!;
    await b.net.close();
    const a = await h.node('a', { peers: [`ws://127.0.0.1:${port}`], backoff: { initialMs: 10, maxMs: 40 } });
    await waitFor(() => a.logs.filter((l) => l.msg === 'dialling').length >= 1, 'dials');
    const before = a.logs.filter((l) => l.msg === 'dialling').length;
    await new Promise((r) => setTimeout(r, 200));
    const after = a.logs.filter((l) => l.msg === 'dialling').length;
    expect(after).toBeGreaterThan(before); // still redialling
    expect(after).toBeLessThan(before + 25); // but backing off (200 ms / >= 20 ms per attempt)
    expect(a.net.peers()).toEqual([]);
  });
});
