/**
 * Inbound connections that have not proven an identity are shared fairly between hosts and
 * cannot idle; offences after the handshake ban the identity, not the address it came from (on
 * loopback, 127.0.0.2 is "another host": Linux routes all of 127.0.0.0/8 to the loopback device).
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connected, Harness, idOf, type RawClient, rejected, waitFor } from './testing.ts';

const h = new Harness();
afterEach(() => h.cleanup());

/** Opens `n` WebSockets from `from` that never start the handshake; the ones the node let in. */
async function squat(url: string, n: number, from: string): Promise<RawClient[]> {
  const held: RawClient[] = [];
  for (let i = 0; i < n; i++) {
    const raw = await h.raw(url, from).catch(() => undefined);
    if (raw !== undefined) held.push(raw);
  }
  return held;
}

describe('PeerNetwork: pending handshakes and idle sockets', () => {
  it('one host holding many pending handshakes does not block another host', async () => {
    const b = await h.node('b', { maxPendingHandshakes: 8, maxPendingHandshakesPerHost: 2 });
    const held = await squat(b.url, 8, '127.0.0.1');
    expect(held).toHaveLength(2); // its share; the other six were refused
    expect(rejected(b, 'too-many-peers')).toBe(6);
    const honest = await h.raw(b.url, '127.0.0.2');
    const { peerId } = await honest.handshake('honest');
    expect(peerId).toBe(b.net.id);
    await waitFor(() => b.net.peers().some((p) => p.id === idOf('honest')), 'the honest peer is up');
    // the squatter's connections are still pending, not given a session
    expect(held.every((r) => r.ws.readyState === r.ws.OPEN)).toBe(true);
  });

  it('when every slot is taken, a host holding fewer takes the oldest slot of the largest holder', async () => {
    const b = await h.node('b', { maxPendingHandshakes: 4, maxPendingHandshakesPerHost: 4 });
    const held = await squat(b.url, 4, '127.0.0.1');
    expect(held).toHaveLength(4);
    const honest = await h.raw(b.url, '127.0.0.2');
    await honest.handshake('honest');
    await waitFor(() => b.net.peers().some((p) => p.id === idOf('honest')), 'the honest peer is up');
    // the first squatting connection made room
    expect(await held[0]!.closed).toEqual({ code: 4000, reason: 'too-many-peers' });
    expect(held.slice(1).every((r) => r.ws.readyState === r.ws.OPEN)).toBe(true);
  });

  it('a TCP connection that never asks for the upgrade is closed after the deadline', async () => {
    const b = await h.node('b', { upgradeTimeoutMs: 150 });
    const socket = connect(b.net.port!, '127.0.0.1');
    let closed = false;
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
    });
    await waitFor(() => closed, 'the idle socket closed by the node');
    expect(rejected(b, 'handshake-timeout')).toBe(1);
    expect(b.logs.some((l) => l.msg === 'disconnecting: handshake-timeout')).toBe(true);
    // its slot was given back: a full share of new connections gets in
    const b2 = await h.node('b2', { maxPendingHandshakes: 1, upgradeTimeoutMs: 150 });
    const idle = connect(b2.net.port!, '127.0.0.1');
    idle.on('error', () => {});
    await waitFor(() => rejected(b2, 'handshake-timeout') === 1, 'the idle socket timed out');
    const a = await h.node('a', { peers: [b2.url] });
    await connected(a, b2);
  });

  it('banning misbehaving identities on 127.0.0.1 does not block an honest identity from 127.0.0.1', async () => {
    const b = await h.node('b', { scoring: { hostStrikes: 2 } });
    for (const label of ['mallory1', 'mallory2', 'mallory3']) {
      const raw = await h.raw(b.url);
      await raw.handshake(label);
      await waitFor(() => b.net.peers().some((p) => p.id === idOf(label)), `${label} is up`);
      raw.send(randomBytes(100)); // not a frame: an offence by a proven identity
      expect(await raw.closed).toEqual({ code: 4000, reason: 'undecodable' });
    }
    expect(Object.keys(b.net.bans().ids).sort()).toEqual(
      [idOf('mallory1'), idOf('mallory2'), idOf('mallory3')].sort(),
    );
    expect(b.net.bans().hosts).toEqual({});
    const honest = await h.node('honest', { peers: [b.url] });
    await connected(honest, b);
    // a banned identity stays refused from the same address
    const again = await h.raw(b.url);
    await again.handshake('mallory1').catch(() => undefined);
    expect(await again.closed).toEqual({ code: 4000, reason: 'banned' });
    // garbage before any identity is proven still strikes (and here bans) the host
    for (let i = 0; i < 2; i++) {
      const raw = await h.raw(b.url);
      raw.send(randomBytes(50));
      await raw.closed;
    }
    expect(Object.keys(b.net.bans().hosts)).toEqual(['127.0.0.1']);
  });
});
