import { describe, expect, it } from 'vitest';
import { Random } from '../runtime/random.ts';
import { SimScheduler } from '../runtime/scheduler.ts';
import { canReach, type FaultPlan, NO_FAULTS, stabilisationTime } from './faults.ts';
import { SimNetwork } from './network.ts';

function setup(plan: FaultPlan, seed = 1) {
  const scheduler = new SimScheduler(seed);
  const net = new SimNetwork(scheduler, new Random(seed), plan);
  const inbox: Record<string, string[]> = { a: [], b: [], c: [] };
  for (const n of ['a', 'b', 'c']) net.attach(n, (from, bytes) => inbox[n]!.push(`${from}:${bytes[0]}`));
  return { scheduler, net, inbox };
}

describe('simulated network', () => {
  it('delivers after the configured delay', () => {
    const { scheduler, net, inbox } = setup({
      ...NO_FAULTS,
      links: { ...NO_FAULTS.links, minDelay: 7, maxDelay: 7 },
    });
    net.send('a', 'b', Uint8Array.of(1));
    scheduler.run({ maxTime: 6 });
    expect(inbox.b).toEqual([]);
    scheduler.run();
    expect(inbox.b).toEqual(['a:1']);
    expect(scheduler.now()).toBe(7);
  });

  it('broadcast reaches every other node', () => {
    const { scheduler, net, inbox } = setup(NO_FAULTS);
    net.broadcast('a', Uint8Array.of(9));
    scheduler.run();
    expect(inbox).toEqual({ a: [], b: ['a:9'], c: ['a:9'] });
  });

  it('drops and duplicates at the configured rates', () => {
    const { scheduler, net, inbox } = setup({
      ...NO_FAULTS,
      links: { drop: 0.3, duplicate: 0.2, minDelay: 1, maxDelay: 1 },
    });
    for (let i = 0; i < 2000; i++) net.send('a', 'b', Uint8Array.of(i & 0xff));
    scheduler.run();
    expect(net.stats.dropped).toBeGreaterThan(500);
    expect(net.stats.dropped).toBeLessThan(700);
    expect(net.stats.duplicated).toBeGreaterThan(220);
    expect(inbox.b!.length).toBe(2000 - net.stats.dropped + net.stats.duplicated);
  });

  it('reorders when delays vary', () => {
    const { scheduler, net, inbox } = setup({
      ...NO_FAULTS,
      links: { drop: 0, duplicate: 0, minDelay: 1, maxDelay: 50 },
    });
    for (let i = 0; i < 50; i++) net.send('a', 'b', Uint8Array.of(i));
    scheduler.run();
    const order = inbox.b!.map((x) => Number(x.split(':')[1]));
    expect(order).toHaveLength(50);
    expect(order).not.toEqual([...order].sort((x, y) => x - y));
  });

  it('partitions split and heal', () => {
    const plan: FaultPlan = {
      ...NO_FAULTS,
      partitions: [{ from: 0, until: 100, groups: [['a'], ['b', 'c']] }],
    };
    expect(canReach(plan, 'a', 'b', 50)).toBe(false);
    expect(canReach(plan, 'b', 'c', 50)).toBe(true);
    expect(canReach(plan, 'a', 'b', 100)).toBe(true);
    expect(stabilisationTime(plan)).toBe(100);
    const { scheduler, net, inbox } = setup(plan);
    net.send('a', 'b', Uint8Array.of(1));
    net.send('b', 'c', Uint8Array.of(2));
    scheduler.at(150, () => net.send('a', 'b', Uint8Array.of(3)));
    scheduler.run();
    expect(inbox.b).toEqual(['a:3']);
    expect(inbox.c).toEqual(['b:2']);
    expect(net.stats.partitioned).toBe(1);
  });

  it('loses messages to a detached (crashed) node', () => {
    const { scheduler, net, inbox } = setup(NO_FAULTS);
    net.detach('c');
    net.broadcast('a', Uint8Array.of(5));
    scheduler.run();
    expect(inbox.c).toEqual([]);
    expect(net.stats.toDownNode).toBe(1);
  });

  it('the same seed gives the same deliveries', () => {
    const run = (seed: number) => {
      const { scheduler, net, inbox } = setup(
        { ...NO_FAULTS, links: { drop: 0.1, duplicate: 0.1, minDelay: 1, maxDelay: 20 } },
        seed,
      );
      for (let i = 0; i < 100; i++) net.broadcast(['a', 'b', 'c'][i % 3]!, Uint8Array.of(i));
      scheduler.run();
      return JSON.stringify(inbox);
    };
    expect(run(5)).toBe(run(5));
    expect(run(5)).not.toBe(run(6));
  });
});
