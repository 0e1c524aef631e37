/**
 * Consensus on peer sessions: clusters whose messages ride on the live transport's session logic
 * (sim/sessions.ts: one peer/machine.ts machine per connection, over simulated connections), under
 * generated fault plans. Link loss, partitions and crashes then go through dialing, handshaking,
 * open, retiring and banned with backoff; the consensus invariants must hold as on datagrams, a
 * seed must fix the whole run (its trace hash, the sessions' transitions included), and every
 * state change of every session machine must follow an edge of the machine's chart
 * (viz/STATECHARTS.md's `peer`).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { peerMachine } from '../peer/machine.ts';
import { type ByzantineBehaviour, Cluster, type ClusterOptions, runCluster } from '../sim/cluster.ts';
import { describePlan, NO_FAULTS } from '../sim/faults.ts';
import { type Statechart, statechartOf } from '../viz/statechart.ts';
import { faultPlanArb, nodeIds, validatorSetArb } from './arbitraries.ts';
import { propParams } from './config.ts';

// the chart viz/STATECHARTS.md draws as `peer` (viz/export.ts), read from the machine the same way
const CHART = statechartOf(peerMachine, { name: 'peer', inputs: {}, outputs: {} });

/**
 * Why a recorded state change does not follow the chart (undefined when it does): each transition
 * taken must be drawn, leave the state reached so far (or an ancestor of it, which handles the
 * event for it), and the last must end where the machine is (or in a compound state whose initial
 * child it is in).
 */
function offChart(chart: Statechart, from: string, to: string, taken: readonly string[]): string | undefined {
  const drawn = new Map(chart.transitions.map((t) => [t.id, t]));
  const initial = new Map(chart.states.map((s) => [s.id, s.initial]));
  const leaf = (id: string): string => {
    let at = id;
    for (let next = initial.get(at); next !== undefined; next = initial.get(at)) at = next;
    return at;
  };
  if (taken.length === 0) return `${from} -> ${to} with no transition taken`;
  let at = `${chart.id}.${from}`;
  for (const id of taken) {
    const t = drawn.get(id);
    if (t === undefined) return `${id} is not drawn`;
    if (at !== t.from && !at.startsWith(`${t.from}.`))
      return `${id} leaves ${t.from}, the machine was in ${at}`;
    if (t.internal !== true) at = leaf(t.to);
  }
  return at === `${chart.id}.${to}`
    ? undefined
    : `the transitions taken end in ${at}, the machine is in ${to}`;
}

/** Runs a cluster on sessions, checking every session state change against the chart. */
function runChecked(options: ClusterOptions): {
  report: ReturnType<Cluster['run']>;
  offChart: string[];
  visited: Set<string>;
  changes: number;
} {
  const cluster = new Cluster(options);
  const bad: string[] = [];
  const visited = new Set<string>();
  let changes = 0;
  cluster.inspector.events$.subscribe((e) => {
    if (e.kind !== 'transition' || !e.engine.startsWith('peer:')) return;
    changes++;
    visited.add(e.to.split('.')[0]!);
    const why = offChart(CHART, e.from, e.to, e.taken ?? []);
    if (why !== undefined) bad.push(`${e.node} ${e.engine} on ${e.event}: ${why}`);
  });
  return { report: cluster.run(), offChart: bad, visited, changes };
}

/** The behaviours whose nodes each hold their own key (twins share one: a session per identity). */
const behaviour = fc.constantFrom<ByzantineBehaviour>(
  'equivocate',
  'silent',
  'forge',
  'forge-sync',
  'lie-valid-round',
  'amnesia',
);

const setAndPlan = validatorSetArb().chain((set) =>
  faultPlanArb({
    nodes: nodeIds(set),
    window: 2_000,
    maxPartitions: 2,
    maxCrashes: 2,
    restart: true,
    maxWriteCrashes: 1,
  }).map((plan) => ({ set, plan })),
);

describe('the chart check', () => {
  it('accepts a step along drawn edges, refuses one that is not', () => {
    const id = (from: string, to: string, event: string) =>
      CHART.transitions.find((t) => t.from === `peer.${from}` && t.to === `peer.${to}` && t.event === event)!
        .id;
    const timeout = id('open', 'ended', 'ping-due');
    const redial = id('ended', 'backoff', 'always');
    expect(offChart(CHART, 'open', 'backoff', [timeout, redial])).toBeUndefined();
    // a compound state is entered at its initial child
    expect(
      offChart(CHART, 'idle', 'handshaking.hello', [id('idle', 'handshaking', 'accept')]),
    ).toBeUndefined();
    expect(offChart(CHART, 'open', 'backoff', [timeout])).toMatch(/end in peer.ended/);
    expect(offChart(CHART, 'dialing', 'backoff', [timeout, redial])).toMatch(/leaves peer.open/);
    expect(offChart(CHART, 'open', 'backoff', ['peer.open#99'])).toMatch(/not drawn/);
    expect(offChart(CHART, 'open', 'backoff', [])).toMatch(/no transition/);
  });
});

describe('consensus on peer sessions (simulated)', () => {
  it('the invariants hold, liveness after healing included, and every session step follows the chart', () => {
    const visited = new Set<string>();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), behaviour, setAndPlan, (seed, b, { set, plan }) => {
        const r = runChecked({
          seed,
          validators: set.powers.length,
          powers: set.powers,
          byzantine: set.byzantine,
          behaviour: b,
          heights: 6,
          plan,
          livenessPerHeightMs: 3_000,
          trace: false,
          sessions: true,
        });
        for (const s of r.visited) visited.add(s);
        const why = `seed=${seed} ${b}, powers ${set.powers.join(',')} (${set.byzantine} Byzantine), plan: ${describePlan(plan)}`;
        expect(r.report.violations, why).toEqual([]);
        expect(r.offChart, why).toEqual([]);
        expect(r.changes, why).toBeGreaterThan(0);
        const honest = nodeIds(set).slice(0, set.powers.length - set.byzantine);
        for (const id of honest) expect(r.report.heights[id], why).toBeGreaterThanOrEqual(6);
      }),
      propParams('sessions.consensus', 6),
    );
    for (const s of ['dialing', 'handshaking', 'open', 'parked']) expect(visited).toContain(s);
  });

  it('determinism: the same seed and plan give the same trace hash, sessions included; another seed another', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), setAndPlan, (seed, { set, plan }) => {
        const run = (s: number) =>
          runCluster({
            seed: s,
            validators: set.powers.length,
            powers: set.powers,
            byzantine: set.byzantine,
            behaviour: 'equivocate',
            heights: 3,
            plan,
            sessions: true,
          });
        const a = run(seed);
        expect(run(seed).traceHash).toBe(a.traceHash);
        expect(run(seed + 1).traceHash).not.toBe(a.traceHash);
      }),
      propParams('sessions.determinism', 3),
    );
  });

  it('sessions go through every phase: crashes reset and redial, partitions time out, a forger is banned', () => {
    const plan = {
      ...NO_FAULTS,
      links: { drop: 0.1, duplicate: 0.05, minDelay: 1, maxDelay: 30 },
      partitions: [
        {
          from: 400,
          until: 2_400,
          groups: [
            ['n0', 'n1', 'n2'],
            ['n3', 'n4', 'n5', 'n6'],
          ],
        },
      ],
      crashes: [{ node: 'n1', at: 3_000, restartAt: 3_600 }],
    };
    const options = {
      seed: 11,
      validators: 7,
      byzantine: 2,
      behaviour: 'forge',
      heights: 8,
      plan,
      livenessPerHeightMs: 3_000,
      trace: false,
    } as const;
    const r = runChecked({ ...options, sessions: true });
    expect(r.report.violations).toEqual([]);
    expect(r.offChart).toEqual([]);
    for (const s of ['dialing', 'handshaking', 'open', 'retiring', 'backoff', 'parked', 'banned', 'closed'])
      expect(r.visited, s).toContain(s);
    // the same cluster on datagrams reaches the same heights: sessions cost liveness nothing here
    const plain = runCluster(options);
    expect(plain.violations).toEqual([]);
  });
});
