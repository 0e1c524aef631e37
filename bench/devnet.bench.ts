/**
 * devnet.tps: committed and executed plain token transfers per second on the 4-process devnet
 * (`fractal devnet`: 4 validator processes on loopback, WebSocket transport, SQLite, JSON-RPC
 * clients), against the crypto bound measured in the same run:
 *   cores × ed25519 verifications per second (node:crypto, one core)
 *   ÷ 8 verifications per transfer (each of the 4 validators checks the envelope signature at
 *     admission and the owner's signature at execution).
 * devnet.encrypted_tps: the same with every transfer threshold-encrypted, against the decryptor
 * bound: cores × ristretto255 scalar multiplications per second (libsodium) ÷ 64 (16 per
 * validator: ciphertext validity at admission 4, then at the decryptor 4, the batched share path
 * about 8, across 4 validators).
 * devnet.latency_p50 / p99: submit-to-execution latency of that saturated plain run, against the
 * block interval (a transaction waits for the next block, then for its commit).
 *
 * The latency-vs-load curve, measured the way the CometBFT QA reports do: the closed-loop run above
 * gives the saturation rate; the same network is then offered 25%, 50%, 75% and 100% of it by an
 * open-loop generator (every envelope built beforehand, each sent when it is due, whatever became
 * of the earlier ones), and each load prints
 *   devnet.load<L>.tps          executed tx/s, against the offered rate
 *   devnet.load<L>.latency_p50  submit-to-execution p50 (and _p99), against the block interval
 * and the same for encrypted transfers on a second network (`devnet.encrypted.load<L>.…`). The
 * client times a transaction from sending its submit to receiving node 0's receipt, which the node
 * pushes on a WebSocket subscription (no polling); at 50% load it also prints where the time went
 * (admission, to the block, consensus, execution, the receipt's delivery), from node 0's own commit
 * and execution times.
 *
 * Knobs: FRACTAL_BENCH_DEVNET_SECONDS (20) the saturation runs, FRACTAL_BENCH_DEVNET_LOAD_SECONDS
 * (8) each load point; the file takes about 3-4 minutes with the defaults.
 * `npm run bench -- devnet --plot out.svg` draws the curve (offered load against p50 and p99, plain
 * and encrypted) to out.svg.
 *
 * `npm run bench -- devnet --profile`: each node process writes a CPU profile, and each run prints
 * where its nodes' time went, by layer and by engine (node/profile.ts), to stderr.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sodiumGroup } from '../crypto/group.ts';
import { type LoadPhase, type PhaseSummary, runDevnet } from '../node/devnet.ts';
import { freePortBase } from '../node/layout.ts';
import { formatParts } from '../node/loadgen.ts';
import { keyPairFromSeed, sign, verify } from '../wire/sign.ts';
import { type CurveSeries, latencyCurveSvg } from './plot.ts';
import { measure, report } from './report.ts';

const VALIDATORS = 4;
const VERIFIES_PER_TX = 2 * VALIDATORS;
const MULS_PER_ENCRYPTED_TX = 16 * VALIDATORS;
const BLOCK_INTERVAL = 200;
const SECONDS = Number(process.env.FRACTAL_BENCH_DEVNET_SECONDS ?? 20);
const LOAD_SECONDS = Number(process.env.FRACTAL_BENCH_DEVNET_LOAD_SECONDS ?? 8);
/** offered load, percent of the saturation rate */
const LOADS = [25, 50, 75, 100] as const;
const PROFILE = process.argv.includes('--profile');
const PLOT = (() => {
  const i = process.argv.indexOf('--plot');
  if (i < 0) return undefined;
  const file = process.argv[i + 1];
  if (file === undefined || file.startsWith('--')) throw new Error('--plot needs a file: --plot out.svg');
  return file;
})();

/** The saturation run, then each load as a share of the rate it measured. */
function curvePlan(encrypted: number) {
  return (done: readonly PhaseSummary[]): LoadPhase[] => {
    if (done.length === 0) return [{ name: 'saturate', seconds: SECONDS, encrypted }];
    const saturation = done[0]!.tps;
    if (!(saturation > 0)) return [];
    return LOADS.slice(done.length - 1).map((l) => ({
      name: `load${l}`,
      seconds: LOAD_SECONDS,
      rate: (saturation * l) / 100,
      encrypted,
    }));
  };
}

async function devnet(encrypted: number): Promise<PhaseSummary[]> {
  const dir = mkdtempSync(join(tmpdir(), 'fractal-bench-devnet-'));
  try {
    const { summary, ok } = await runDevnet({
      dir,
      validators: VALIDATORS,
      inProcess: false,
      duration: SECONDS,
      txs: 1_000_000,
      encrypted,
      reset: true,
      basePort: await freePortBase(2 * VALIDATORS, 33_000),
      blockInterval: BLOCK_INTERVAL,
      keepRunning: false,
      quiet: true,
      out: (l) => console.error(`  ${l}`),
      plan: curvePlan(encrypted),
      ...(PROFILE ? { profile: join(dir, 'profiles') } : {}),
    });
    if (!ok)
      throw new Error('devnet bench: the run did not execute every transfer or the state roots differ');
    return summary.phases;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const latencyLine = (name: string, ms: number) =>
  report({
    name,
    value: ms,
    unit: 'ms',
    ratio: ms / BLOCK_INTERVAL,
    vs: `block-interval(${BLOCK_INTERVAL}ms)`,
  });

/** The BENCH lines of the load points (`devnet.load50.…` or `devnet.encrypted.load50.…`). */
function reportCurve(prefix: string, kind: 'plain' | 'encrypted', phases: readonly PhaseSummary[]): void {
  for (const p of phases.slice(1)) {
    const rate = p.phase.rate ?? 0;
    report({
      name: `${prefix}.${p.phase.name}.tps`,
      value: p.tps,
      unit: 'tx/s',
      ratio: rate > 0 ? p.tps / rate : 0,
      vs: `offered(${rate.toFixed(1)}tx/s)`,
    });
    latencyLine(`${prefix}.${p.phase.name}.latency_p50`, p.latencyMs[kind].p50);
    latencyLine(`${prefix}.${p.phase.name}.latency_p99`, p.latencyMs[kind].p99);
    if (p.phase.name === 'load50')
      console.error(`  ${prefix}.load50: where the latency went: ${formatParts(p.parts[kind])}`);
  }
}

/** The curve's series: offered rate against p50 and p99, for one kind of transfer. */
function seriesOf(
  label: string,
  kind: 'plain' | 'encrypted',
  phases: readonly PhaseSummary[],
  color: string,
): CurveSeries[] {
  const loads = phases.slice(1);
  return (['p50', 'p99'] as const).map((q) => ({
    name: `${label} ${q}`,
    color,
    dashed: q === 'p99',
    points: loads.map((p) => ({ x: p.phase.rate ?? 0, y: p.latencyMs[kind][q] })),
  }));
}

export default async function devnetBench(): Promise<void> {
  const cores = availableParallelism();
  const seed = new Uint8Array(32).fill(7);
  const { publicKey } = keyPairFromSeed(seed);
  const msg = new Uint8Array(200).fill(1);
  const sig = sign(seed, msg);
  const verifyRate = measure(() => (verify(publicKey, msg, sig) ? 1 : 0), 1000);
  let p = sodiumGroup.mulBase(12345n);
  const mulRate = measure(() => {
    p = sodiumGroup.mul(p, 987654321n);
    return 1;
  }, 1000);

  const plainPhases = await devnet(0);
  const plain = plainPhases[0]!;
  const bound = (cores * verifyRate) / VERIFIES_PER_TX;
  report({
    name: 'devnet.tps',
    value: plain.tps,
    unit: 'tx/s',
    ratio: plain.tps / bound,
    vs: `crypto-bound(${cores}-cores×${Math.round(verifyRate)}-ed25519-verify/s÷${VERIFIES_PER_TX}-per-tx)`,
  });
  for (const q of ['p50', 'p99'] as const) latencyLine(`devnet.latency_${q}`, plain.latencyMs.plain[q]);
  reportCurve('devnet', 'plain', plainPhases);

  const encPhases = await devnet(1);
  const enc = encPhases[0]!;
  const encBound = (cores * mulRate) / MULS_PER_ENCRYPTED_TX;
  report({
    name: 'devnet.encrypted_tps',
    value: enc.tps,
    unit: 'tx/s',
    ratio: enc.tps / encBound,
    vs: `decryptor-bound(${cores}-cores×${Math.round(mulRate)}-ristretto-mul/s÷${MULS_PER_ENCRYPTED_TX}-per-tx)`,
  });
  latencyLine('devnet.encrypted_latency_p50', enc.latencyMs.encrypted.p50);
  reportCurve('devnet.encrypted', 'encrypted', encPhases);

  if (PLOT !== undefined) {
    const svg = latencyCurveSvg({
      title: `devnet (${VALIDATORS} validators): latency against offered load`,
      series: [
        ...seriesOf('plain', 'plain', plainPhases, '#1f77b4'),
        ...seriesOf('encrypted', 'encrypted', encPhases, '#d62728'),
      ],
      guides: [
        { name: `block interval (${BLOCK_INTERVAL} ms)`, y: BLOCK_INTERVAL },
        { name: 'plain goal at 50%: 3 intervals', y: 3 * BLOCK_INTERVAL },
        { name: 'encrypted goal at 50%: 5 intervals', y: 5 * BLOCK_INTERVAL },
      ],
    });
    writeFileSync(PLOT, svg);
    console.error(`  devnet: the latency-vs-load curve is in ${PLOT}`);
  }
}
