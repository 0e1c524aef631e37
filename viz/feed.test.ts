import { describe, expect, it } from 'vitest';
import type { InspectEvent } from '../runtime/inspect.ts';
import {
  FilterError,
  intentsInfoOf,
  matches,
  NO_FILTER,
  PageStream,
  parseFilter,
  toFeedEvent,
} from './feed.ts';
import type { FeedEvent } from './protocol.ts';

const ev = (i: number, over: Partial<FeedEvent> = {}): FeedEvent =>
  ({
    kind: 'emit',
    at: i,
    node: `n${i % 3}`,
    lamport: i + 1,
    engine: i % 2 === 0 ? 'consensus' : 'mempool',
    port: i % 4 === 0 ? 'net' : 'committed',
    ...over,
  }) as FeedEvent;

describe('toFeedEvent', () => {
  it('replaces a delivered message by its size and keeps every other field', () => {
    const e: InspectEvent = {
      kind: 'deliver',
      at: 5,
      node: 'n0',
      lamport: 9,
      engine: 'consensus',
      port: 'net',
      from: 'external:net:n1',
      sent: 4,
      msg: new Uint8Array(17),
    };
    expect(toFeedEvent(e)).toEqual({
      kind: 'deliver',
      at: 5,
      node: 'n0',
      lamport: 9,
      engine: 'consensus',
      port: 'net',
      from: 'external:net:n1',
      sent: 4,
      bytes: 17,
    });
    expect(toFeedEvent({ ...e, msg: undefined })).toMatchObject({ bytes: -1 });
  });
});

describe('filters', () => {
  it('an empty or absent list admits everything; lists narrow by node, engine, kind and type', () => {
    const all = parseFilter({ type: 'filter', nodes: [], engines: undefined });
    expect(Array.from({ length: 20 }, (_, i) => ev(i)).every((e) => matches(all, e))).toBe(true);
    const f = parseFilter({ type: 'filter', nodes: ['n1'], engines: ['mempool'], types: ['committed'] });
    const kept = Array.from({ length: 60 }, (_, i) => ev(i)).filter((e) => matches(f, e));
    expect(kept.length).toBeGreaterThan(0);
    for (const e of kept) {
      expect(e.node).toBe('n1');
      expect(e.engine).toBe('mempool');
      expect(e.kind === 'emit' && e.port).toBe('committed');
    }
    const transitions = parseFilter({ type: 'filter', kinds: ['transition'] });
    expect(matches(transitions, ev(1))).toBe(false);
    expect(
      matches(transitions, {
        kind: 'transition',
        at: 0,
        node: 'n0',
        lamport: 1,
        engine: 'consensus',
        event: 'net',
        from: 'propose',
        to: 'prevote',
      }),
    ).toBe(true);
  });

  it('malformed filters are FilterErrors naming the field', () => {
    const bad = (m: unknown) => () => parseFilter(m as never);
    expect(bad({ type: 'filter', nodes: 'n1' })).toThrow(FilterError);
    expect(bad({ type: 'filter', engines: [1] })).toThrow(/filter\.engines/);
    expect(bad({ type: 'filter', kinds: ['explode'] })).toThrow(/unknown kind "explode"/);
    expect(bad({ type: 'filter', types: Array.from({ length: 2000 }, () => 'x') })).toThrow(/at most/);
  });
});

describe('PageStream', () => {
  it('sends up to the budget per batch and summarises the rest by node/engine/kind', () => {
    const s = new PageStream(10);
    for (let i = 0; i < 25; i++) s.offer(ev(i));
    const b = s.cut(100)!;
    expect(b.events.map((e) => e.at)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(b.dropped).toBe(15);
    expect(Object.values(b.droppedBy).reduce((a, n) => a + n, 0)).toBe(15);
    expect(b.droppedBy['n1/mempool/emit']).toBe([10, 13, 16, 19, 22].filter((i) => i % 2 === 1).length);
    // the next batch starts afresh
    expect(s.cut(200)).toBeUndefined();
    s.offer(ev(99));
    expect(s.cut(300)).toMatchObject({ dropped: 0, events: [{ at: 99 }] });
    expect(s.streamed).toBe(11);
    expect(s.droppedTotal).toBe(15);
  });

  it('counts only events its filter admits', () => {
    const s = new PageStream(1000);
    s.setFilter(parseFilter({ type: 'filter', nodes: ['n2'] }));
    for (let i = 0; i < 30; i++) s.offer(ev(i));
    const b = s.cut(0)!;
    expect(b.events.length).toBe(10);
    expect(b.events.every((e) => e.node === 'n2')).toBe(true);
    s.setFilter(NO_FILTER);
    s.offer(ev(1));
    expect(s.cut(0)!.events.length).toBe(1);
  });

  it('a batch the page could not take is summarised with the next one, not lost from the count', () => {
    const s = new PageStream(4);
    for (let i = 0; i < 6; i++) s.offer(ev(i));
    const b = s.cut(0)!;
    s.unsent(b);
    s.offer(ev(50));
    const next = s.cut(1)!;
    expect(next.events.map((e) => e.at)).toEqual([50]);
    expect(next.dropped).toBe(6);
    expect(s.streamed + s.droppedTotal).toBe(7);
  });

  it('refuses a budget below one event per batch', () => {
    expect(() => new PageStream(0)).toThrow(RangeError);
  });
});

describe('the intents view data', () => {
  it('reads the gossip pool with each route, and the solver last solutions; nothing without a pool', () => {
    const key = (n: number) => new Uint8Array(32).fill(n);
    const gossip = {
      poolCount: 2,
      pool: {
        ['ab'.repeat(32)]: {
          intent: { body: { topic: 'swap/v1/aa/bb' }, route: [{ node: key(1) }, { node: key(2) }] },
          local: false,
        },
        ['cd'.repeat(32)]: { intent: { body: { topic: 'swap/v1/bb/aa' }, route: [] }, local: true },
      },
    };
    const solver = {
      recent: [{ batch: 3, height: 7n, ids: ['x'], topics: ['swap/v1/aa/bb', 'swap/v1/bb/aa'] }],
    };
    const info = intentsInfoOf(gossip, solver, key(9))!;
    expect(info.self).toBe('090909090909');
    expect(info.poolSize).toBe(2);
    expect(info.pool).toEqual([
      { id: 'abababab', topic: 'swap/v1/aa/bb', route: ['010101010101', '020202020202'], local: false },
      { id: 'cdcdcdcd', topic: 'swap/v1/bb/aa', route: [], local: true },
    ]);
    expect(info.solved).toEqual([{ batch: 3, height: '7', topics: ['swap/v1/aa/bb', 'swap/v1/bb/aa'] }]);
    expect(intentsInfoOf({ nothing: true }, undefined)).toBeUndefined();
  });
});
