import { describe, expect, it } from 'vitest';
import { normaliseAddress, parsePeerEntry, resolveAdvertised } from './address.ts';
import { backoffDelay, TokenBucket } from './limits.ts';
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
