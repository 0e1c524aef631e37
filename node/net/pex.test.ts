import { afterEach, describe, expect, it } from 'vitest';
import { connected, Harness, isConnected, rejected, waitFor } from './testing.ts';

const h = new Harness();
afterEach(() => h.cleanup());

describe('PeerNetwork: peer exchange and the peer cap', () => {
  it('A knows B, B knows C: A connects to C', async () => {
    const c = await h.node('c');
    const b = await h.node('b', { peers: [c.url] });
    const a = await h.node('a', { peers: [b.url] });
    await connected(a, b);
    await connected(b, c);
    await connected(a, c);
    const toC = a.net.peers().find((p) => p.id === c.net.id)!;
    expect(toC.address).toBe(c.url);
    await new Promise((r) => setTimeout(r, 100));
    // one session per pair, whoever dialled
    for (const n of [a, b, c]) expect(n.net.peers()).toHaveLength(2);
  });

  it('a peer that arrives later is announced to the others', async () => {
    const b = await h.node('b');
    const a = await h.node('a', { peers: [b.url] });
    await connected(a, b);
    // c dials b: b knows c's listen address from the handshake, and tells a
    const c = await h.node('c', { peers: [b.url] });
    await connected(c, b);
    await connected(a, c);
  });

  it('peerExchange: false neither tells nor dials', async () => {
    const c = await h.node('c');
    const b = await h.node('b', { peers: [c.url], peerExchange: false });
    const a = await h.node('a', { peers: [b.url] });
    await connected(a, b);
    await connected(b, c);
    await new Promise((r) => setTimeout(r, 150));
    expect(isConnected(a, c)).toBe(false);
  });

  it('the addresses of dial-only peers are not passed on', async () => {
    const b = await h.node('b');
    const dialOnly = h.create('d', { peers: [b.url], listen: undefined });
    await dialOnly.net.start();
    expect(dialOnly.net.port).toBeUndefined();
    await connected(dialOnly, b);
    expect(b.net.peers()[0]!.address).toBeUndefined();
    const a = await h.node('a', { peers: [b.url] });
    await connected(a, b);
    // d may learn a's address and dial it, but nobody can dial d
    await new Promise((r) => setTimeout(r, 100));
    for (const p of a.net.peers()) if (p.id === dialOnly.net.id) expect(p.direction).toBe('in');
    expect(dialOnly.net.peers().every((p) => p.direction === 'out')).toBe(true);
  });

  it('caps inbound peers at maxPeers (configured peers excepted)', async () => {
    const x = await h.node('x');
    const b = await h.node('b', { maxPeers: 1, peers: [x.url] });
    await connected(b, x);
    const a = await h.node('a', { peers: [b.url], peerExchange: false });
    await waitFor(() => rejected(b, 'too-many-peers') >= 1, 'a refused');
    expect(b.net.peers().map((p) => p.id)).toEqual([x.net.id]);
    expect(isConnected(a, b)).toBe(false);
  });
});
