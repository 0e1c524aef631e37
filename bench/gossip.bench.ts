/**
 * gossip.propagation: simulated time for an intent to reach every node whose filter matches it on
 * a 100-node overlay (random, connected, mean degree 8; 80 nodes want the intent's pair, 20 another
 * one), the mean over intents published at different nodes, against the overlay's diameter times
 * the per-hop latency, both measured on the overlay built in the same run. A ratio near 1 means
 * intents travel the shortest paths by eager push; lazy pulls and rebroadcasts would show as
 * multiples of the heartbeat and rebroadcast intervals.
 */
import { matches } from '../engines/gossip/filter.ts';
import { intentId } from '../engines/gossip/messages.ts';
import { filterOf, intentBody, SWAP } from '../engines/gossip/testing.ts';
import { Random } from '../runtime/random.ts';
import { diameter, GossipOverlay, hopsFrom, randomOverlay } from '../sim/overlay.ts';
import { toHex } from '../wire/commit.ts';
import { report } from './report.ts';

const NODES = 100;
const DEGREE = 8;
const LATENCY = 50;
const INTENTS = 10;

export default async function gossipBench(): Promise<void> {
  const random = new Random('gossip-bench');
  const edges = randomOverlay(NODES, DEGREE, random);
  const hops = diameter(NODES, edges);
  const filters = Array.from({ length: NODES }, (_, i) =>
    filterOf([SWAP], { pair: i % 5 === 4 ? 'Y/Z' : 'X/Y' }),
  );
  const overlay = new GossipOverlay({ seed: 1, filters, edges, latency: LATENCY, trace: false });
  overlay.runUntil(5_000);
  const times: number[] = [];
  for (let k = 0; k < INTENTS; k++) {
    const origin = random.int(NODES);
    const body = intentBody({ pair: 'X/Y', size: 10n, nonce: k });
    const id = toHex(intentId(body));
    const wants = (v: number) => matches(filters[v]!, body);
    const reachable = hopsFrom(NODES, edges, origin, wants).filter((h, v) => h >= 0 && wants(v)).length;
    const start = overlay.scheduler.now();
    overlay.submit(origin, body);
    overlay.runUntil(start + 60_000);
    const reached = overlay.nodes.filter((x) => x.delivered.has(id));
    if (reached.length !== reachable)
      throw new Error(`gossip bench: intent ${k} reached ${reached.length} of ${reachable} matching nodes`);
    times.push(Math.max(...reached.map((x) => x.delivered.get(id)! - start)));
  }
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  const bound = hops * LATENCY;
  report({
    name: 'gossip.propagation',
    value: mean,
    unit: 'ms',
    ratio: mean / bound,
    vs: `overlay diameter ${hops} x ${LATENCY} ms per hop (${NODES} nodes, degree ${DEGREE})`,
  });
}
