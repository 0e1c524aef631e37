import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Note } from '../../engines/executor/notes.ts';
import { propParams } from '../../props/config.ts';
import type { KeyPair } from '../../wire/sign.ts';
import { dustOf, type Order, type Settlement } from './auction.ts';
import { type AssetRef, assetKey, type SignedSwapIntent } from './format.ts';
import { type OfferedIntent, orderOf, settlementTx } from './settlement.ts';
import { solveBatch } from './solve.ts';
import {
  ASSETS,
  balance,
  held,
  type IntentSpec,
  intentOf,
  run,
  solver,
  storeWith,
  supply,
  users,
  X,
  Y,
  Z,
} from './testing.ts';

interface Participant {
  readonly user: KeyPair;
  readonly notes: readonly Note[];
  readonly intent: SignedSwapIntent;
}

function participant(i: number, holds: readonly [AssetRef, bigint], spec: IntentSpec): Participant {
  const user = users[i]!;
  const notes = [held(user, holds[0], holds[1], `user ${i} note`)];
  return { user, notes, intent: intentOf(user, notes, spec) };
}

const SOLVER_FLOAT = 1_000_000n;
const solverNotes = ASSETS.map((a, i) => held(solver, a, SOLVER_FLOAT, `solver note ${i}`));

interface Outcome {
  readonly settlement: Settlement;
  readonly accepted: boolean;
  readonly before: readonly Note[];
  readonly after: readonly Note[];
}

/** solveBatch over the participants' intents, the settlement transaction, and its execution. */
function settleBatch(ps: readonly Participant[]): Outcome {
  const solved = solveBatch(ps.map((p) => orderOf(p.intent)));
  if (!solved.ok) throw new Error(solved.reason);
  const offers = new Map<string, OfferedIntent>(
    ps.map((p) => [orderOf(p.intent).id, { intent: p.intent, notes: p.notes }]),
  );
  const before = [...ps.flatMap((p) => p.notes), ...solverNotes];
  if (solved.settlement.fills.length === 0)
    return { settlement: solved.settlement, accepted: false, before, after: before };
  const built = settlementTx({
    settlement: solved.settlement,
    offers,
    solver: { secretKey: solver.secretKey, notes: solverNotes },
  });
  if (!built.ok) throw new Error(built.reason);
  const { result, after } = run(storeWith(before), [built.tx]);
  if (!result.receipts[0]!.accepted) throw new Error(`refused: ${JSON.stringify(result.receipts[0])}`);
  return { settlement: solved.settlement, accepted: true, before, after };
}

/**
 * Every balance changed exactly as the fills say: each owner sold and bought its fill, the solver
 * paid the dust, per asset the supply is unchanged. Returns the dust per asset.
 */
function expectFillsApplied(ps: readonly Participant[], o: Outcome): Map<string, bigint> {
  const orders = new Map<string, Order>(ps.map((p) => [orderOf(p.intent).id, orderOf(p.intent)]));
  const fills = new Map(o.settlement.fills.map((f) => [f.id, f]));
  for (const p of ps) {
    const f = fills.get(orderOf(p.intent).id);
    const t = p.intent.terms;
    for (const a of ASSETS) {
      const k = assetKey(a);
      const change =
        (k === assetKey(t.give.of) ? -(f?.sold ?? 0n) : 0n) +
        (k === assetKey(t.want.of) ? (f?.bought ?? 0n) : 0n);
      expect(balance(o.after, p.user, a) - balance(o.before, p.user, a)).toBe(change);
    }
  }
  const dust = dustOf(orders, o.settlement.fills);
  for (const a of ASSETS) {
    const d = dust.get(assetKey(a)) ?? 0n;
    expect(d).toBeGreaterThanOrEqual(0n);
    expect(balance(o.after, solver, a)).toBe(SOLVER_FLOAT - d);
    expect(supply(o.after, a)).toBe(supply(o.before, a));
  }
  return dust;
}

describe('settlement through the executor', () => {
  it('a ring of three users over X, Y, Z settles in one transaction', () => {
    const ring = [
      participant(0, [X, 120n], { give: [X, 100n], want: [Y, 90n] }),
      participant(1, [Y, 100n], { give: [Y, 100n], want: [Z, 90n] }),
      participant(2, [Z, 150n], { give: [Z, 100n], want: [X, 95n] }),
    ];
    const o = settleBatch(ring);
    expect(o.accepted).toBe(true);
    expect(o.settlement.fills).toHaveLength(3);
    for (const f of o.settlement.fills) expect(f.sold).toBe(100n);
    expectFillsApplied(ring, o);
    // the change went back: user 0 keeps 20 X, user 2 keeps 50 Z
    expect(balance(o.after, users[0]!, X)).toBe(20n);
    expect(balance(o.after, users[2]!, Z)).toBe(50n);
  });

  it('a ring whose limits ask more than it gives does not trade', () => {
    const ring = [
      participant(0, [X, 100n], { give: [X, 100n], want: [Y, 101n] }),
      participant(1, [Y, 100n], { give: [Y, 100n], want: [Z, 100n] }),
      participant(2, [Z, 100n], { give: [Z, 100n], want: [X, 100n] }),
    ];
    expect(settleBatch(ring).settlement.fills).toHaveLength(0);
  });

  it('a two-party match, partial against fill-or-kill, with the solver paying the dust', () => {
    const pair = [
      participant(3, [X, 7n], { give: [X, 7n], want: [Y, 2n] }),
      participant(4, [Y, 100n], { give: [Y, 100n], want: [X, 3n], partial: true }),
    ];
    const o = settleBatch(pair);
    expect(o.accepted).toBe(true);
    expect(o.settlement.fills).toHaveLength(2);
    const dust = expectFillsApplied(pair, o);
    // the solver pays at most the rounding room of each fill
    for (const d of dust.values()) expect(d).toBeLessThanOrEqual(2n);
  });

  it('a ring and a pair in one batch (all partial) settle together, five owners in one transaction', () => {
    const batch = [
      participant(0, [X, 100n], { give: [X, 100n], want: [Y, 90n], partial: true }),
      participant(1, [Y, 100n], { give: [Y, 100n], want: [Z, 90n], partial: true }),
      participant(2, [Z, 100n], { give: [Z, 100n], want: [X, 90n], partial: true }),
      participant(3, [X, 50n], { give: [X, 50n], want: [Z, 40n], partial: true }),
      participant(4, [Z, 60n], { give: [Z, 60n], want: [X, 45n], partial: true }),
    ];
    const o = settleBatch(batch);
    expect(o.accepted).toBe(true);
    expect(o.settlement.fills).toHaveLength(5);
    expectFillsApplied(batch, o);
  });

  it('refuses to build what the predicates would refuse: unknown fills, wrong notes, two intents of one owner', () => {
    const p = participant(0, [X, 100n], { give: [X, 100n], want: [Y, 90n] });
    const q = participant(1, [Y, 100n], { give: [Y, 100n], want: [X, 90n] });
    const settlement: Settlement = {
      prices: new Map([
        [assetKey(X), 1n],
        [assetKey(Y), 1n],
      ]),
      fills: [
        { id: orderOf(p.intent).id, sold: 100n, bought: 100n },
        { id: orderOf(q.intent).id, sold: 100n, bought: 100n },
      ],
    };
    const solverSide = { secretKey: solver.secretKey, notes: solverNotes };
    const offer = (x: Participant, notes = x.notes) =>
      [orderOf(x.intent).id, { intent: x.intent, notes }] as const;
    expect(settlementTx({ settlement, offers: new Map([offer(p)]), solver: solverSide })).toMatchObject({
      ok: false,
      reason: expect.stringContaining('unknown intent'),
    });
    expect(
      settlementTx({ settlement, offers: new Map([offer(p), offer(q, p.notes)]), solver: solverSide }),
    ).toMatchObject({ ok: false, reason: expect.stringContaining('not the input') });
    const again = intentOf(users[0]!, p.notes, { give: [Y, 100n], want: [X, 90n], nonce: 1 });
    const twice: Settlement = {
      ...settlement,
      fills: [settlement.fills[0]!, { id: orderOf(again).id, sold: 100n, bought: 100n }],
    };
    expect(
      settlementTx({
        settlement: twice,
        offers: new Map([offer(p), [orderOf(again).id, { intent: again, notes: p.notes }]]),
        solver: solverSide,
      }),
    ).toMatchObject({ ok: false, reason: expect.stringContaining('another intent') });
    expect(
      settlementTx({
        settlement,
        offers: new Map([offer(p), offer(q)]),
        solver: { ...solverSide, notes: [] },
      }),
    ).toMatchObject({ ok: true });
  });

  it('property: every settlement solveBatch finds is accepted, and balances move exactly as its fills say', () => {
    const anyIntent = fc.record({
      sell: fc.integer({ min: 0, max: 2 }),
      step: fc.integer({ min: 1, max: 2 }),
      give: fc.bigInt({ min: 1n, max: 1_000n }),
      /** the limit as a percentage of what is given: mostly tradeable, sometimes not */
      ask: fc.bigInt({ min: 50n, max: 120n }),
      extra: fc.bigInt({ min: 0n, max: 50n }),
      partial: fc.boolean(),
    });
    let settled = 0;
    fc.assert(
      fc.property(fc.array(anyIntent, { minLength: 2, maxLength: 6 }), (specs) => {
        const ps = specs.map((r, i) => {
          const give = ASSETS[r.sell]!;
          const want = ASSETS[(r.sell + r.step) % 3]!;
          return participant(i, [give, r.give + r.extra], {
            give: [give, r.give],
            want: [want, (r.give * r.ask) / 100n + 1n],
            partial: r.partial,
          });
        });
        const o = settleBatch(ps);
        if (o.accepted) settled++;
        expectFillsApplied(ps, o);
      }),
      propParams('apps.swap.settlement-accepted', 100),
    );
    console.log('SETTLED', settled);
    expect(settled).toBeGreaterThan(0);
  });
});
