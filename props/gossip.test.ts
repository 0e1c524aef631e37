/**
 * Intent gossip (issue 17) in the simulator, over random connected overlays with random filters:
 * an intent reaches exactly the nodes whose filter matches it and that are joined to its origin
 * through such nodes, within bounded virtual time; expired intents leave every pool; a peer that
 * floods a node with intents outside the filter it was told is disconnected (and no honest peer
 * ever is); the same seed gives the same trace.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matches } from '../engines/gossip/filter.ts';
import { type Filter, GossipNetMessage, type IntentBody, intentId } from '../engines/gossip/messages.ts';
import { appendHop } from '../engines/gossip/route.ts';
import { filterOf, intentBody, SWAP } from '../engines/gossip/testing.ts';
import { Random } from '../runtime/random.ts';
import { GossipOverlay, hopsFrom, nodeName, randomOverlay } from '../sim/overlay.ts';
import { toHex } from '../wire/commit.ts';
import { encode } from '../wire/schema.ts';
import { propParams } from './config.ts';

const PAIRS = ['X/Y', 'Y/Z', 'Z/X'];
const LATENCY = 20;
const PARAMS = { rebroadcastInterval: 5_000, heartbeat: 1_000 };
/** What one hop may take at worst: the next rebroadcast, at a heartbeat, then IHAVE, IWANT, the intent. */
const PER_HOP = PARAMS.rebroadcastInterval + PARAMS.heartbeat + 3 * LATENCY;
/** Links up and filters told before intents are submitted. */
const SETTLE = 2_000;

const filterArb: fc.Arbitrary<Filter> = fc.oneof(
  // a relay: every swap intent
  fc.constant(filterOf([SWAP])),
  // a solver: one pair, maybe a least size
  fc
    .record({
      pair: fc.constantFrom(...PAIRS),
      minSize: fc.option(fc.bigInt({ min: 1n, max: 100n }), { nil: undefined }),
    })
    .map(({ pair, minSize }) => filterOf([SWAP], minSize === undefined ? { pair } : { pair, minSize })),
  // another application altogether
  fc.constant(filterOf(['other/v1'])),
);

const scenarioArb = fc
  .record({
    seed: fc.integer({ min: 1, max: 1_000_000 }),
    n: fc.integer({ min: 6, max: 20 }),
    degree: fc.integer({ min: 2, max: 5 }),
  })
  .chain(({ seed, n, degree }) =>
    fc.record({
      seed: fc.constant(seed),
      degree: fc.constant(degree),
      filters: fc.array(filterArb, { minLength: n, maxLength: n }),
      intents: fc.array(
        fc.record({
          origin: fc.nat({ max: n - 1 }),
          pair: fc.constantFrom(...PAIRS),
          size: fc.bigInt({ min: 1n, max: 150n }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    }),
  );
type Scenario =
  fc.Arbitrary<typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never> extends fc.Arbitrary<infer S>
    ? S
    : never;

/** Lossy links: up to 10% lost, 5% duplicated, delays from LATENCY to MAX_DELAY (reordering). */
const MAX_DELAY = 80;
const linksArb = fc.record({
  drop: fc.double({ min: 0, max: 0.1, noNaN: true }),
  duplicate: fc.double({ min: 0, max: 0.05, noNaN: true }),
  maxDelay: fc.integer({ min: LATENCY, max: MAX_DELAY }),
});
type Links =
  fc.Arbitrary<typeof linksArb extends fc.Arbitrary<infer T> ? T : never> extends fc.Arbitrary<infer S>
    ? S
    : never;
/**
 * What one hop may take at worst on lossy links: an exchange lost is made up at a later
 * rebroadcast (each offers again what the peer lacks), so a few rebroadcast rounds per hop.
 */
const PER_HOP_LOSSY = 4 * PARAMS.rebroadcastInterval + PARAMS.heartbeat + 3 * MAX_DELAY;

function setUp(sc: Scenario, expiry: bigint, links?: Links) {
  const n = sc.filters.length;
  const edges = randomOverlay(n, sc.degree, new Random(`overlay/${sc.seed}`));
  const overlay = new GossipOverlay({
    seed: sc.seed,
    filters: sc.filters,
    edges,
    latency: LATENCY,
    params: PARAMS,
    ...(links === undefined ? {} : { links }),
  });
  overlay.runUntil(SETTLE);
  const bodies = sc.intents.map((x, i) => intentBody({ pair: x.pair, size: x.size, nonce: i, expiry }));
  for (const [i, x] of sc.intents.entries()) overlay.submit(x.origin, bodies[i]!);
  // who must get each intent: the matching nodes joined to its origin through matching nodes
  const expected = sc.intents.map((x, i) => {
    const wants = (v: number) => matches(sc.filters[v]!, bodies[i]!);
    const hops = hopsFrom(n, edges, x.origin, wants);
    const reach = hops.map((h, v) => h >= 0 && wants(v));
    return { reach, hops: Math.max(...hops) };
  });
  const perHop = links === undefined ? PER_HOP : PER_HOP_LOSSY;
  const bound = SETTLE + (Math.max(...expected.map((e) => e.hops)) + 1) * perHop;
  return { overlay, bodies, expected, bound, edges };
}

const honest = (o: GossipOverlay) => ({
  penalties: o.nodes.flatMap((x) => x.penalties),
  disconnects: o.nodes.flatMap((x) => x.disconnects),
});

describe('gossip properties (simulated overlays)', () => {
  it('an intent reaches every node whose filter matches it in bounded time, never one whose filter excludes it', () => {
    fc.assert(
      fc.property(scenarioArb, (sc) => {
        const { overlay, bodies, expected, bound } = setUp(sc, 1_000n);
        overlay.runUntil(bound);
        for (const [i, body] of bodies.entries()) {
          const id = toHex(intentId(body));
          const got = overlay.nodes.map((x) => x.delivered.has(id));
          expect(got, `intent ${i} (${sc.intents[i]!.pair} size ${sc.intents[i]!.size})`).toEqual(
            expected[i]!.reach,
          );
          for (const x of overlay.nodes)
            if (x.delivered.has(id)) expect(x.delivered.get(id)!).toBeLessThanOrEqual(bound);
        }
        expect(honest(overlay)).toEqual({ penalties: [], disconnects: [] });
      }),
      propParams('gossip.reach', 20),
    );
  });

  it('on lossy, duplicating, reordering links an intent still reaches exactly the matching nodes in bounded time', () => {
    fc.assert(
      fc.property(scenarioArb, linksArb, (sc, links) => {
        const { overlay, bodies, expected, bound } = setUp(sc, 1_000n, links);
        overlay.runUntil(bound);
        for (const [i, body] of bodies.entries()) {
          const id = toHex(intentId(body));
          expect(
            overlay.nodes.map((x) => x.delivered.has(id)),
            `intent ${i} on links ${JSON.stringify(links)}`,
          ).toEqual(expected[i]!.reach);
        }
        // loss and duplicates are nobody's fault: no honest peer is penalised or cut off
        expect(honest(overlay)).toEqual({ penalties: [], disconnects: [] });
      }),
      propParams('gossip.reach-lossy', 15),
    );
  });

  it('expired intents disappear from every pool and are delivered nowhere after', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 0, max: 3 }), (sc, lag) => {
        const { overlay, bodies, bound } = setUp(sc, 10n);
        // the chain reaches the expiry while the intents may still be spreading
        const reached = SETTLE + lag * PER_HOP;
        overlay.runUntil(reached);
        overlay.chain(10n);
        // (the chain may reach the expiry after the spreading bound: run past both)
        overlay.runUntil(Math.max(bound, reached) + PER_HOP);
        const ids = bodies.map((b) => toHex(intentId(b)));
        for (const [v, x] of overlay.nodes.entries()) {
          const pool = overlay.context(v).pool;
          for (const id of ids) {
            expect(pool[id], `${x.id} still pools ${id}`).toBeUndefined();
            // what was delivered here was withdrawn as expired
            if (x.delivered.has(id)) expect(x.gone.get(id)).toBe('expired');
          }
        }
        // and nobody takes them back: a late submission is refused everywhere
        const late = intentBody({ pair: 'X/Y', nonce: 99, expiry: 10n });
        overlay.submit(0, late);
        overlay.runUntil(Math.max(bound, reached) + 2 * PER_HOP);
        expect(overlay.nodes.some((x) => x.delivered.has(toHex(intentId(late))))).toBe(false);
        expect(honest(overlay)).toEqual({ penalties: [], disconnects: [] });
      }),
      propParams('gossip.expiry', 15),
    );
  });

  it('a peer flooding intents outside the filter it was told is disconnected, and nobody else is', () => {
    fc.assert(
      fc.property(
        scenarioArb,
        fc.integer({ min: 15, max: 60 }),
        fc.integer({ min: 10, max: 100 }),
        (sc, count, every) => {
          const n = sc.filters.length;
          // the victim wants one pair only; the flooder (a neighbour) sends it another pair
          const filters = [...sc.filters];
          filters[0] = filterOf([SWAP], { pair: 'X/Y' });
          const edges = randomOverlay(n, sc.degree, new Random(`overlay/${sc.seed}`));
          const flooderIndex = edges.find(([a, b]) => a === 0 || b === 0)!.find((v) => v !== 0)!;
          const o = new GossipOverlay({ seed: sc.seed, filters, edges, latency: LATENCY, params: PARAMS });
          o.runUntil(SETTLE);
          const flooder = o.keyring.signer(nodeName(flooderIndex));
          const victimKey = o.keyring.signer(nodeName(0)).publicKey;
          for (let k = 0; k < count; k++) {
            const body: IntentBody = intentBody({ pair: 'Q/R', nonce: 1_000 + k });
            const intent = appendHop({ body, route: [] }, intentId(body), flooder, victimKey);
            const bytes = encode(GossipNetMessage, {
              overlay: 'sim',
              message: { tag: 'intents', value: { intents: [intent] } },
            });
            o.scheduler.at(SETTLE + k * every, () => o.inject(nodeName(flooderIndex), 0, bytes));
          }
          o.runUntil(SETTLE + count * every + PER_HOP);
          // cut off for its score; what it sends after that is refused as from a banned peer
          const cut = o.nodes[0]!.disconnects;
          expect(cut[0]).toEqual({ peer: nodeName(flooderIndex), reason: 'score' });
          expect(cut.slice(1).every((d) => d.peer === nodeName(flooderIndex) && d.reason === 'banned')).toBe(
            true,
          );
          const others = o.nodes.flatMap((x, v) => (v === 0 ? [] : x.disconnects));
          expect(others).toEqual([]);
          expect(o.nodes[0]!.penalties.every((p) => p.peer === nodeName(flooderIndex))).toBe(true);
          expect(Object.keys(o.context(0).pool)).toEqual([]);
        },
      ),
      propParams('gossip.flood-disconnect', 15),
    );
  });

  it('same seed, same trace hash', () => {
    fc.assert(
      fc.property(scenarioArb, (sc) => {
        const run = () => {
          const { overlay, bound } = setUp(sc, 1_000n);
          overlay.runUntil(bound);
          return overlay.traceHash();
        };
        expect(run()).toBe(run());
      }),
      propParams('gossip.trace', 5),
    );
  });
});
