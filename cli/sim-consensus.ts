/**
 * `fractal sim`: a consensus network in the deterministic simulator. Prints progress, every
 * invariant, the trace hash, and the command that replays the run; a failing run exits 1.
 */

import {
  type ByzantineBehaviour,
  Cluster,
  type ClusterReport,
  type StorageFaultRecord,
} from '../sim/cluster.ts';
import { describePlan } from '../sim/faults.ts';
import { PipelineCluster, type PipelineReport } from '../sim/pipeline.ts';
import { type Intensity, randomFaultPlan } from '../sim/plan.ts';
import { TraceRecorder } from '../viz/trace.ts';

export interface SimConsensusOptions {
  seed: number;
  nodes: number;
  byzantine: number;
  behaviour: ByzantineBehaviour;
  heights: number;
  faults: Intensity;
  ed25519: boolean;
  replay: boolean;
  quiet: boolean;
  /** Record the (first) run's trace to this file, for `fractal viz open`. */
  record?: string;
  /** Run the whole ordering pipeline (mempool, DKG, threshold decryption, executor) with this many client transactions. */
  pipeline?: number;
  /** With `pipeline`: shard engines of the executor (absent: the one-engine executor). */
  shards?: number;
  /** Carry the messages on peer sessions (sim/sessions.ts), as the live transport does. */
  sessions?: boolean;
}

export function replayCommand(o: SimConsensusOptions): string {
  return (
    `npm run fractal -- sim --nodes ${o.nodes} --byzantine ${o.byzantine} --behaviour ${o.behaviour}` +
    ` --heights ${o.heights} --faults ${o.faults} --seed ${o.seed}${o.ed25519 ? ' --ed25519' : ''}` +
    (o.pipeline === undefined ? '' : ` --pipeline ${o.pipeline}`) +
    (o.shards === undefined ? '' : ` --shards ${o.shards}`) +
    (o.sessions === true ? ' --sessions' : '')
  );
}

/** The cluster a `fractal sim` run drives (not yet started): `run()` it, or hand it to the visualiser. */
export function clusterFor(o: SimConsensusOptions, out?: (line: string) => void): Cluster {
  const ids = Array.from({ length: o.nodes }, (_, i) => `n${i}`);
  const plan = randomFaultPlan(o.seed, ids, o.faults, o.heights * 50);
  const options = {
    seed: o.seed,
    validators: o.nodes,
    byzantine: o.byzantine,
    behaviour: o.behaviour,
    heights: o.heights,
    plan,
    ed25519: o.ed25519,
    txsPerBlock: 4,
    ...(o.sessions === true ? { sessions: true } : {}),
    ...(out === undefined
      ? {}
      : {
          onProgress: (p: { time: number; minHeight: number; maxHeight: number }) =>
            out(
              `  t=${(p.time / 1000).toFixed(1)}s virtual  honest heights ${p.minHeight}..${p.maxHeight} of ${o.heights}`,
            ),
        }),
  };
  if (o.pipeline !== undefined) {
    return new PipelineCluster({
      ...options,
      workload: {
        txs: o.pipeline,
        encrypted: 0.5,
        every: 5,
        ...(o.shards === undefined ? {} : { shards: o.shards }),
      },
    });
  }
  return new Cluster(options);
}

function run(
  o: SimConsensusOptions,
  out: ((line: string) => void) | undefined,
  record?: string,
): ClusterReport | PipelineReport {
  const cluster = clusterFor(o, out);
  const recorder =
    record === undefined
      ? undefined
      : new TraceRecorder(cluster, record, { title: simTitle(o), seed: o.seed, command: replayCommand(o) });
  try {
    return cluster.run();
  } finally {
    recorder?.close();
  }
}

/** One line naming the run, for the visualiser and recorded traces. */
export function simTitle(o: SimConsensusOptions): string {
  return (
    `sim seed ${o.seed}: ${o.nodes} validators, ${o.byzantine} Byzantine (${o.behaviour}), faults ${o.faults}` +
    (o.pipeline === undefined ? '' : `, pipeline ${o.pipeline} txs`)
  );
}

export function simConsensus(o: SimConsensusOptions, out: (line: string) => void = console.log): number {
  const f = Math.floor((o.nodes - 1) / 3);
  const ids = Array.from({ length: o.nodes }, (_, i) => `n${i}`);
  out(
    `fractal sim: ${o.nodes} validators (f=${f}), ${o.byzantine} Byzantine (${o.behaviour}), ${o.heights} heights, ` +
      `faults ${o.faults}, seed ${o.seed}, ${o.ed25519 ? 'ed25519' : 'keyed-hash'} signatures` +
      (o.sessions === true ? ', on peer sessions' : ''),
  );
  out(`fault plan: ${describePlan(randomFaultPlan(o.seed, ids, o.faults, o.heights * 50))}`);
  const started = performance.now();
  const report = run(o, o.quiet ? undefined : out, o.record);
  const wall = (performance.now() - started) / 1000;
  const has = (name: string) => report.violations.filter((v) => v.invariant === name);
  const line = (label: string, bad: { detail: string }[], applies = true) =>
    out(
      `  ${!applies ? 'n/a ' : bad.length === 0 ? 'ok  ' : 'FAIL'} ${label}${bad.length > 0 ? `: ${bad[0]!.detail}${bad.length > 1 ? ` (+${bad.length - 1} more)` : ''}` : ''}`,
    );
  const withinF = o.byzantine <= f;
  out('invariants:');
  line('agreement: no two honest nodes commit different blocks at one height', has('agreement'));
  line('validity: every committed block carries a valid 2f+1 certificate', has('validity'));
  line('integrity: every honest node commits heights in order, each once', has('integrity'));
  line('no honest node signs two different messages for one step (across crashes)', has('double-sign'));
  line(
    `liveness: every honest node reaches height ${o.heights} after the network heals`,
    has('liveness'),
    withinF,
  );
  line(
    `accountability: a broken agreement names >= n/3 of the power (named: ${report.culprits.join(', ') || 'none'})`,
    has('accountability'),
  );
  if ('committedOrder' in report) {
    out(
      `pipeline: DKG key at height ${report.dkgHeight ?? 'never'}; client txs submitted ${report.submitted.plain} plain + ` +
        `${report.submitted.encrypted} encrypted, committed ${report.committed.plain} + ${report.committed.encrypted}, ` +
        `executed ${report.executed} (${report.accepted} accepted); refused at admission ${JSON.stringify(report.refused)}`,
    );
    line(
      'exactly once, in committed order: every committed encrypted tx decrypts to its plaintext at every honest node; identical executed blocks and state roots',
      report.violations.filter(
        (v) =>
          v.detail.includes('executed') ||
          v.detail.includes('decrypted') ||
          v.detail.includes('state roots') ||
          v.detail.includes('epoch key'),
      ),
    );
  }
  for (const f of report.storageFaults) out(`storage: ${describeStorageOutcome(f)}`);
  for (const [node, reason] of Object.entries(report.failed))
    out(`storage: ${node} refused to go on and was taken down: ${reason}`);
  let replayOk = true;
  if (o.replay) {
    const again = run(o, undefined);
    replayOk = again.traceHash === report.traceHash;
    out(`  ${replayOk ? 'ok  ' : 'FAIL'} determinism: replaying the seed gives the same trace hash`);
  }
  out(
    `heights ${JSON.stringify(report.heights)}; virtual ${(report.virtualTime / 1000).toFixed(1)} s; wall ${wall.toFixed(2)} s; ` +
      `${report.messages.sent} messages sent, ${report.messages.dropped} dropped, ${report.messages.partitioned} cut by partitions; ` +
      `${report.penalties} peer penalties ${JSON.stringify(report.penaltyReasons)}`,
  );
  out(`trace hash ${report.traceHash}`);
  if (o.record !== undefined)
    out(`trace recorded to ${o.record}; watch it: npm run fractal -- viz open ${o.record}`);
  // with more than f Byzantine nodes agreement may break: then only accountability is required
  const required = report.violations.filter((v) =>
    withinF
      ? true
      : v.invariant === 'accountability' ||
        v.invariant === 'double-sign' ||
        v.invariant === 'validity' ||
        v.invariant === 'integrity',
  );
  if (required.length > 0 || !replayOk) {
    out(`FAILED; replay with: ${replayCommand(o)}`);
    return 1;
  }
  out(`replay with: ${replayCommand(o)}`);
  out(`watch it in the browser: ${replayCommand(o)} --viz`);
  return 0;
}

/** What a storage fault of the plan did, in words. */
function describeStorageOutcome(f: StorageFaultRecord): string {
  const when = `at ${(f.at / 1000).toFixed(2)} s`;
  if (f.kind === 'torn-write') return `${f.node}'s batch torn ${when}: ${f.landed} of ${f.of} writes landed`;
  if (f.kind === 'lost-writes')
    return `${f.node} lost power ${when}: ${f.lost} of ${f.of} unsynced writes lost`;
  return f.key === undefined
    ? `${f.node} killed ${when}; no record to damage yet`
    : `${f.node} killed ${when} with a bit flipped in the record at ${f.key}`;
}
