/**
 * The simulator's own oracles: they must name what really happened, and only that.
 */
import { describe, expect, it } from 'vitest';
import { voteSignBytes } from '../engines/consensus/chain.ts';
import { CONSENSUS_LIMITS, NetEnvelope } from '../engines/consensus/messages.ts';
import { toHex } from '../wire/commit.ts';
import { tryDecode } from '../wire/schema.ts';
import { CHANNEL_CONSENSUS, Cluster, type ClusterOptions, runCluster } from './cluster.ts';
import { describePlan, NO_FAULTS, type StorageFault } from './faults.ts';

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

describe('storage faults in a run', () => {
  const withFault = (f: StorageFault): ClusterOptions => ({
    seed: 7,
    validators: 4,
    byzantine: 0,
    behaviour: 'silent',
    heights: 5,
    trace: false,
    plan: { ...NO_FAULTS, links: { drop: 0, duplicate: 0, minDelay: 1, maxDelay: 10 }, storageFaults: [f] },
  });

  it('describePlan prints every kind', () => {
    const text = describePlan({
      ...NO_FAULTS,
      storageFaults: [
        { kind: 'torn-write', node: 'n1', at: 2, write: 'block', down: 300, seed: 1 },
        { kind: 'lost-writes', node: 'n2', at: 9, down: 50, seed: 3, sync: 20, order: 'any' },
        { kind: 'corrupt', node: 'n3', at: 4, down: 10, seed: 5, checksums: false },
      ],
    });
    expect(text).toContain("tear n1's batch #2 (block), restart 300ms later, seed 1");
    expect(text).toContain(
      "power loss at n2's write #9 (any), synced every 20 writes, losing any of the unsynced writes",
    );
    expect(text).toContain('corrupt a c/ record of n3 after its write #4 (any) (no checksums)');
  });

  it('a torn commit batch lands part of the batch, and the node restarts and catches up', () => {
    const r = runCluster(withFault({ kind: 'torn-write', node: 'n1', at: 2, down: 300, seed: 1 }));
    expect(r.storageFaults).toHaveLength(1);
    const [t] = r.storageFaults;
    expect(t!.kind).toBe('torn-write');
    expect(t!.landed).toBeLessThan(t!.of!);
    expect(r.violations).toEqual([]);
    expect(r.heights.n1).toBeGreaterThanOrEqual(5);
  });

  it('a power loss drops writes made since the last send, and the node restarts without harm', () => {
    const r = runCluster(withFault({ kind: 'lost-writes', node: 'n1', at: 9, down: 300, seed: 3 }));
    expect(r.storageFaults.map((f) => f.kind)).toEqual(['lost-writes']);
    expect(r.violations).toEqual([]);
    expect(r.heights.n1).toBeGreaterThanOrEqual(5);
  });

  it('synced only every 20 writes, a power loss loses acknowledged writes: the node forgets blocks', () => {
    const r = runCluster(withFault({ kind: 'lost-writes', node: 'n1', at: 9, down: 300, seed: 3, sync: 20 }));
    expect(r.storageFaults[0]!.lost).toBeGreaterThan(0);
    // it commits a height it had committed before: its store went back in time
    expect(r.violations.map((v) => v.invariant)).toContain('integrity');
  });

  it('a corrupted record read at start: the node refuses to start (StorageError corrupt) and is taken down', () => {
    const r = runCluster(withFault({ kind: 'corrupt', node: 'n1', at: 9, down: 300, seed: 5 }));
    expect(r.storageFaults[0]!.key).toBeDefined();
    expect(r.failed.n1).toMatch(/storage corrupt: the record at key .* fails its checksum/);
    expect(r.violations).toEqual([]);
    for (const id of ['n0', 'n2', 'n3']) expect(r.heights[id]).toBeGreaterThanOrEqual(5);
  });

  it('the same run twice is the same run (storage faults are decided by their seeds)', () => {
    for (const f of [
      { kind: 'torn-write', node: 'n2', at: 1, down: 100, seed: 9 },
      { kind: 'lost-writes', node: 'n2', at: 5, down: 100, seed: 9, order: 'any' },
      { kind: 'corrupt', node: 'n2', at: 5, down: 100, seed: 9 },
    ] as const) {
      const a = runCluster({ ...withFault(f), trace: true });
      const b = runCluster({ ...withFault(f), trace: true });
      expect(a.traceHash).toBe(b.traceHash);
      expect(a.storageFaults).toEqual(b.storageFaults);
    }
  });
});
