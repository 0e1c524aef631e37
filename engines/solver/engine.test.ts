import { describe, expect, it } from 'vitest';
import { EngineGraph } from '../../runtime/graph.ts';
import { SimScheduler } from '../../runtime/scheduler.ts';
import { toHex } from '../../wire/commit.ts';
import { type DeliveredIntent, type IntentBody, intentId } from '../../wire/intent.ts';
import { createSolverEngine } from './engine.ts';
import type { SolverContext } from './machine.ts';
import type { BatchSolution, SolverConfig } from './pool.ts';
import type { Solution } from './ports.ts';

function body(n: number, expiry = 100n, inputs: Uint8Array[] = [Uint8Array.of(n)]): IntentBody {
  return {
    topic: 'swap/v1',
    attributes: [],
    inputs: inputs.map((i) => {
      const h = new Uint8Array(32);
      h.set(i);
      return h;
    }),
    expiry,
    expiresAt: null,
    fee: null,
    maxHops: 8,
    payload: Uint8Array.of(n),
  };
}

const delivered = (b: IntentBody): DeliveredIntent => ({ id: intentId(b), body: b, route: [] });

/**
 * A solver engine with a toy application solver: it pairs intents two by two in batch order and
 * its "transaction" is the concatenated payloads; it records every batch it was offered.
 */
function harness(config: Partial<SolverConfig> = {}) {
  const offered: string[][] = [];
  const solve = (batch: readonly DeliveredIntent[]): BatchSolution | undefined => {
    offered.push(batch.map((i) => toHex(i.body.payload)));
    const used = batch.slice(0, batch.length - (batch.length % 2));
    if (used.length === 0) return undefined;
    return { tx: Uint8Array.from(used.flatMap((i) => [...i.body.payload])), used: used.map((i) => i.id) };
  };
  const scheduler = new SimScheduler(1);
  const g = new EngineGraph({ node: 'n', scheduler, seed: 1, freezeContexts: true });
  const h = g.add('solver', createSolverEngine(solve), config);
  const solutions: Solution[] = [];
  g.observe(h.out.solution).subscribe((s) => solutions.push(s));
  g.start();
  const run = () => scheduler.run({ maxTime: scheduler.now() });
  return {
    offered,
    solutions,
    state: () => g.instance('solver').stateString(),
    ctx: () => g.instance('solver').context<SolverContext>(),
    intent(b: IntentBody) {
      g.send(h.in.intents, delivered(b));
      run();
    },
    chain(height: bigint, spent: Uint8Array[] = []) {
      g.send(h.in.chain, { height, spent });
      run();
    },
    gone(ids: Uint8Array[]) {
      g.send(h.in.gone, { ids, reason: 'spent' });
      run();
    },
  };
}

const hex = (n: number) => toHex(Uint8Array.of(n));

describe('solver engine', () => {
  it('offers a batch when enough intents wait, and emits the solution with the intents it uses', () => {
    const t = harness({ batchSize: 3, batchEvery: 1000 });
    t.intent(body(1));
    t.intent(body(2));
    expect(t.offered).toEqual([]);
    t.intent(body(3));
    expect(t.offered).toHaveLength(1);
    expect(t.offered[0]!.slice().sort()).toEqual([hex(1), hex(2), hex(3)].sort());
    expect(t.solutions).toHaveLength(1);
    expect(t.solutions[0]!.intents).toHaveLength(2);
    expect(t.state()).toBe('collecting');
  });

  it('offers a batch every `batchEvery` heights while intents wait, in id order', () => {
    const t = harness({ batchSize: 100, batchEvery: 2 });
    const bodies = [body(5), body(6), body(7)];
    for (const b of bodies) t.intent(b);
    t.chain(1n);
    expect(t.offered).toEqual([]);
    t.chain(2n);
    const inIdOrder = bodies
      .map((b) => ({ id: toHex(intentId(b)), p: toHex(b.payload) }))
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((x) => x.p);
    expect(t.offered).toEqual([inIdOrder]);
  });

  it('holds back the intents a solution used until the chain spends them or retryAfter passes', () => {
    const t = harness({ batchSize: 2, batchEvery: 1, retryAfter: 3 });
    t.intent(body(1));
    t.intent(body(2));
    expect(t.solutions).toHaveLength(1);
    t.intent(body(3)); // alone: the other two are in flight
    t.chain(1n);
    expect(t.offered.at(-1)).toEqual([hex(3)]);
    // the solution lost its race (nothing spent its intents): from height 0 + 3 they are offered again
    t.chain(2n);
    expect(t.offered.at(-1)).toEqual([hex(3)]);
    t.chain(3n);
    expect(t.offered.at(-1)!.slice().sort()).toEqual([hex(1), hex(2), hex(3)].sort());
  });

  it('lets intents go when gossip says so, when their inputs are spent, and when they expire', () => {
    const t = harness({ batchSize: 1000, batchEvery: 1000 });
    const a = body(1);
    const b = body(2, 100n, [Uint8Array.of(42)]);
    const c = body(3, 5n);
    t.intent(a);
    t.intent(b);
    t.intent(c);
    expect(t.ctx().count).toBe(3);
    t.gone([intentId(a)]);
    expect(t.ctx().count).toBe(2);
    const spentNote = new Uint8Array(32);
    spentNote[0] = 42;
    t.chain(2n, [spentNote]);
    expect(Object.values(t.ctx().intents).map((i) => toHex(i.body.payload))).toEqual([hex(3)]);
    t.chain(5n);
    expect(t.ctx().count).toBe(0);
    // an intent already expired is not taken
    t.intent(body(4, 5n));
    expect(t.ctx().count).toBe(0);
  });

  it('holds at most maxIntents, and a duplicate once', () => {
    const t = harness({ batchSize: 1000, batchEvery: 1000, maxIntents: 2 });
    t.intent(body(1));
    t.intent(body(1));
    t.intent(body(2));
    t.intent(body(3));
    expect(t.ctx().count).toBe(2);
  });
});
