import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../../props/config.ts';
import { normaliseAddress, parsePeerEntry, resolveAdvertised } from './address.ts';
import { backoffDelay, HandshakeSlots, shareKeyOf, TokenBucket } from './limits.ts';
import { DEFAULT_SCORING, Scoreboard } from './scores.ts';

describe('TokenBucket', () => {
  it('allows a burst of its capacity, then its rate', () => {
    const b = new TokenBucket(10, 10, 0);
    for (let i = 0; i < 10; i++) expect(b.take(1, 0)).toBe(true);
    expect(b.take(1, 0)).toBe(false);
    expect(b.take(1, 99)).toBe(false);
    expect(b.take(1, 100)).toBe(true); // 0.1 s refills one
    expect(b.available(10_000)).toBe(10); // never above capacity
    expect(b.take(11, 10_000)).toBe(false);
    expect(b.available(10_000)).toBe(10); // a refused take takes nothing
  });
});

describe('backoffDelay', () => {
  const policy = { initialMs: 100, maxMs: 1000 };
  it('doubles up to the cap, with jitter in [d/2, d]', () => {
    expect(backoffDelay(policy, 0, () => 0)).toBe(50);
    expect(backoffDelay(policy, 0, () => 0.999999)).toBe(100);
    expect(backoffDelay(policy, 1, () => 0.999999)).toBe(200);
    expect(backoffDelay(policy, 3, () => 0.999999)).toBe(800);
    expect(backoffDelay(policy, 4, () => 0.999999)).toBe(1000);
    expect(backoffDelay(policy, 500, () => 0.5)).toBe(750);
    for (let a = 0; a < 20; a++) {
      const d = backoffDelay(policy, a, Math.random);
      expect(d).toBeGreaterThanOrEqual(50);
      expect(d).toBeLessThanOrEqual(1000);
    }
  });
});

describe('HandshakeSlots', () => {
  it('caps each host at its share and the total, evicting from the largest holder for a smaller one', () => {
    const slots = new HandshakeSlots<string>(4, 3);
    expect(slots.acquire('a', 'a1')).toEqual({ ok: true });
    expect(slots.acquire('a', 'a2')).toEqual({ ok: true });
    expect(slots.acquire('a', 'a3')).toEqual({ ok: true });
    expect(slots.acquire('a', 'a4')).toEqual({ ok: false, refused: 'host' });
    expect(slots.acquire('b', 'b1')).toEqual({ ok: true });
    // full: c holds 0, a holds 3 > 0 + 1, so a's oldest makes room
    expect(slots.acquire('c', 'c1')).toEqual({ ok: true, evict: 'a1' });
    expect(slots.held('a')).toBe(2);
    // full again: d holds 0, the largest (a) holds 2 > 1: a's next oldest
    expect(slots.acquire('d', 'd1')).toEqual({ ok: true, evict: 'a2' });
    // now every holder has 1: a newcomer is refused rather than taking a slot from an equal
    expect(slots.acquire('e', 'e1')).toEqual({ ok: false, refused: 'full' });
    slots.release('a', 'a1'); // already evicted: nothing happens
    expect(slots.held()).toBe(4);
    slots.release('b', 'b1');
    expect(slots.acquire('e', 'e1')).toEqual({ ok: true });
    expect(() => new HandshakeSlots(0, 1)).toThrow(RangeError);
  });

  it('property: never over the total or a share; a refusal or eviction only as the policy says', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('acquire' as const), host: fc.integer({ min: 0, max: 4 }) }),
      fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(op, { maxLength: 80 }),
        (total, perHost, ops) => {
          const slots = new HandshakeSlots<number>(total, perHost);
          const model = new Map<number, { host: string; item: number }>(); // item -> holder, in order
          let next = 0;
          const count = (host: string) => [...model.values()].filter((m) => m.host === host).length;
          for (const o of ops) {
            if (o.kind === 'release') {
              const held = [...model.values()];
              if (held.length === 0) continue;
              const { host, item } = held[o.pick % held.length]!;
              slots.release(host, item);
              model.delete(item);
              continue;
            }
            const host = `h${o.host}`;
            const item = next++;
            const mine = count(host);
            const others = [...new Set([...model.values()].map((m) => m.host))].filter((x) => x !== host);
            const largest = Math.max(0, ...others.map(count));
            const r = slots.acquire(host, item);
            if (mine >= perHost) expect(r).toEqual({ ok: false, refused: 'host' });
            else if (model.size >= total && largest <= mine + 1)
              expect(r).toEqual({ ok: false, refused: 'full' });
            else {
              expect(r.ok).toBe(true);
              if (model.size >= total) {
                // the victim: the oldest slot of a host holding the most
                const victim = r.ok ? r.evict : undefined;
                expect(victim).toBeDefined();
                const v = model.get(victim!)!;
                expect(count(v.host)).toBe(largest);
                const oldest = [...model.values()].find((m) => m.host === v.host)!;
                expect(oldest.item).toBe(victim);
                model.delete(victim!);
              } else expect(r).toEqual({ ok: true });
              model.set(item, { host, item });
            }
            expect(slots.held()).toBe(model.size);
            expect(slots.held()).toBeLessThanOrEqual(total);
            expect(slots.held(host)).toBeLessThanOrEqual(perHost);
          }
        },
      ),
      propParams('net.handshake-slots', 200),
    );
  });

  it('shares are counted by IPv4 address and by IPv6 /64', () => {
    expect(shareKeyOf('10.0.0.1')).toBe('10.0.0.1');
    expect(shareKeyOf('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(shareKeyOf('2001:0db8:0001:0002:ffff:0:0:7')).toBe('2001:db8:1:2::/64');
    expect(shareKeyOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(shareKeyOf('::1')).toBe('0:0:0:0::/64');
    expect(shareKeyOf('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(shareKeyOf('')).toBe('');
  });
});

describe('Scoreboard', () => {
  it('bans at the threshold, recovers over time, and bans hosts after strikes', () => {
    const sb = new Scoreboard({ ...DEFAULT_SCORING, recoveryPerSecond: 1, banMs: 10_000, hostStrikes: 3 });
    expect(sb.score('p', 0)).toBe(0);
    expect(sb.penalise('p', 60, 0)).toEqual({ score: -60, banned: false });
    expect(sb.score('p', 10_000)).toBe(-50);
    expect(sb.penalise('p', 60, 10_000)).toEqual({ score: -110, banned: true });
    expect(sb.isBanned('p', 19_999)).toBe(true);
    expect(sb.isBanned('p', 20_000)).toBe(false);
    expect(sb.score('p', 1_000_000)).toBe(0);
    expect(sb.penalise('q', Number.NaN, 0)).toEqual({ score: 0, banned: false });
    expect(sb.penalise('q', -5, 0)).toEqual({ score: 0, banned: false });
    expect(sb.strikeHost('h', 0)).toBe(false);
    expect(sb.strikeHost('h', 1)).toBe(false);
    expect(sb.strikeHost('h', 2)).toBe(true);
    expect(sb.isHostBanned('h', 3)).toBe(true);
    expect(sb.bans(3).hosts.h).toBe(10_002);
    expect(sb.isHostBanned('h', 10_002)).toBe(false);
  });

  it('stays bounded', () => {
    const sb = new Scoreboard(DEFAULT_SCORING, 10);
    for (let i = 0; i < 100; i++) sb.penalise(`p${i}`, 1, i);
    sb.ban('banned', 100);
    for (let i = 100; i < 200; i++) sb.penalise(`p${i}`, 1, i);
    expect(Object.keys(sb.bans(200).ids)).toEqual(['banned']);
    expect(sb.score('p0', 200)).toBe(0); // evicted
  });
});

describe('addresses', () => {
  const key = 'ab'.repeat(32);
  it('parses strings with pinned keys and objects', () => {
    expect(parsePeerEntry('ws://127.0.0.1:7001')).toEqual({ address: 'ws://127.0.0.1:7001' });
    expect(parsePeerEntry(`ws://127.0.0.1:7001/#${key.toUpperCase()}`)).toEqual({
      address: 'ws://127.0.0.1:7001',
      publicKey: key,
    });
    expect(parsePeerEntry({ address: '10.0.0.1:80', publicKey: key })).toEqual({
      address: 'ws://10.0.0.1',
      publicKey: key,
    });
    expect(parsePeerEntry('wss://node.example:443/p2p')).toEqual({ address: 'wss://node.example/p2p' });
    expect(() => parsePeerEntry('http://x:1')).toThrow(TypeError);
    expect(() => parsePeerEntry('ws://x:1#nothex')).toThrow(TypeError);
    expect(normaliseAddress('ws://[::1]:7001')).toBe('ws://[::1]:7001');
    expect(normaliseAddress('not a url at all')).toBeUndefined();
    expect(normaliseAddress('ws://u:p@x:1')).toBeUndefined();
  });

  it('fills an unspecified advertised host with the remote address', () => {
    expect(resolveAdvertised('ws://0.0.0.0:7001', '10.1.2.3')).toBe('ws://10.1.2.3:7001');
    expect(resolveAdvertised('ws://[::]:7001', '::1')).toBe('ws://[::1]:7001');
    expect(resolveAdvertised('ws://0.0.0.0:7001', undefined)).toBeUndefined();
    expect(resolveAdvertised('ws://10.0.0.9:7001', '10.1.2.3')).toBe('ws://10.0.0.9:7001');
    expect(resolveAdvertised('http://x:1', '10.1.2.3')).toBeUndefined();
  });
});
