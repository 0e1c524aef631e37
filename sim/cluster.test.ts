/**
 * The simulator's own oracles: they must name what really happened, and only that.
 */
import { describe, expect, it } from 'vitest';
import { voteSignBytes } from '../engines/consensus/chain.ts';
import { CONSENSUS_LIMITS, NetEnvelope } from '../engines/consensus/messages.ts';
import { toHex } from '../wire/commit.ts';
import { tryDecode } from '../wire/schema.ts';
import { CHANNEL_CONSENSUS, Cluster, type ClusterOptions } from './cluster.ts';
import { NO_FAULTS } from './faults.ts';

/** Two Byzantine validators whose twins split across a lossy partition: forks, and many rounds. */
const splitTwins = (seed: number): ClusterOptions => ({
  seed,
  validators: 4,
  byzantine: 2,
  behaviour: 'twins',
  heights: 4,
  livenessPerHeightMs: 1_000,
  plan: {
    ...NO_FAULTS,
    links: { drop: 0.15, duplicate: 0, minDelay: 1, maxDelay: 60 },
    partitions: [
      {
        from: 0,
        until: 2_000,
        groups: [
          ['n0', 'n2', 'n3'],
          ['n1', 'n2-twin', 'n3-twin'],
        ],
      },
    ],
  },
});

/** A cluster whose verifier (keyed-hash or ed25519) the test can use too. */
class OpenCluster extends Cluster {
  signedVote(publicKey: Uint8Array, v: Parameters<typeof voteSignBytes>[1], signature: Uint8Array): boolean {
    return this.verify(publicKey, voteSignBytes(this.chainId, v), signature);
  }
}

describe('the double-sign oracle', () => {
  it("does not blame an honest node for re-sending a Byzantine validator's conflicting votes", () => {
    // what honest nodes send that a Byzantine key signed: (key, height, round, type) -> values
    const relayed = new Map<string, Set<string>>();
    const cluster: OpenCluster = new OpenCluster({
      ...splitTwins(0),
      onStart: (c) => {
        const byzantine = c.nodes.filter((n) => !n.honest);
        const honestIds = new Set(c.nodes.filter((n) => n.honest).map((n) => n.id));
        const watch = (from: string, frame: Uint8Array) => {
          if (!honestIds.has(from) || frame[0] !== CHANNEL_CONSENSUS) return;
          const env = tryDecode(NetEnvelope, frame.subarray(1), CONSENSUS_LIMITS);
          if (!env.ok || env.value.message.tag !== 'vote') return;
          const v = env.value.message.value;
          const signer = byzantine.find((b) => cluster.signedVote(b.signer.publicKey, v, v.signature));
          if (signer === undefined) return;
          const k = `${signer.key}/${v.height}/${v.round}/${v.type}`;
          const values = relayed.get(k) ?? new Set<string>();
          values.add(v.blockHash === null ? 'nil' : toHex(v.blockHash));
          relayed.set(k, values);
        };
        const { send, broadcast } = c.network;
        c.network.send = (from, to, bytes, lamport) => {
          watch(from, bytes);
          send.call(c.network, from, to, bytes, lamport);
        };
        c.network.broadcast = (from, bytes, lamport) => {
          watch(from, bytes);
          broadcast.call(c.network, from, bytes, lamport);
        };
      },
    });
    const report = cluster.run();
    // the scenario really has honest nodes relaying both sides of an equivocation
    expect([...relayed.values()].some((values) => values.size > 1)).toBe(true);
    expect(report.agreementBroken).toBe(true);
    expect(report.violations.filter((v) => v.invariant === 'double-sign')).toEqual([]);
  });

  it('reports one key signing twice, even when each of its two nodes runs honest code', () => {
    // a validator run on two machines (a hot standby left on) across a partition: each node is
    // correct on its own, together they sign conflicting votes with one key
    const cluster = new Cluster({
      ...splitTwins(0),
      byzantine: 1,
      plan: {
        ...NO_FAULTS,
        links: { drop: 0.05, duplicate: 0, minDelay: 1, maxDelay: 30 },
        partitions: [
          {
            from: 0,
            until: 1_500,
            groups: [
              ['n0', 'n1', 'n3'],
              ['n2', 'n3-twin'],
            ],
          },
        ],
      },
      onStart: (c) => {
        for (const n of c.nodes) n.honest = true;
      },
    });
    const report = cluster.run();
    const doubleSigns = report.violations.filter((v) => v.invariant === 'double-sign');
    expect(doubleSigns.length).toBeGreaterThan(0);
    const key = cluster.nodes.find((n) => n.id === 'n3')!.key.slice(0, 8);
    for (const v of doubleSigns) expect(v.detail).toContain(`key ${key}`);
  });
});
