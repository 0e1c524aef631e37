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
 * devnet.latency_p50 / p99: submit-to-execution latency of the plain run, against the block
 * interval (a transaction waits for the next block, then for its commit).
 *
 * `npm run bench -- devnet --profile`: each node process writes a CPU profile, and each run prints
 * where its nodes' time went, by layer and by engine (node/profile.ts), to stderr.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sodiumGroup } from '../crypto/group.ts';
import { runDevnet } from '../node/devnet.ts';
import { freePortBase } from '../node/layout.ts';
import { keyPairFromSeed, sign, verify } from '../wire/sign.ts';
import { measure, report } from './report.ts';

const VALIDATORS = 4;
const VERIFIES_PER_TX = 2 * VALIDATORS;
const MULS_PER_ENCRYPTED_TX = 16 * VALIDATORS;
const BLOCK_INTERVAL = 200;
const SECONDS = Number(process.env.FRACTAL_BENCH_DEVNET_SECONDS ?? 20);
const PROFILE = process.argv.includes('--profile');

async function devnet(encrypted: number) {
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
      ...(PROFILE ? { profile: join(dir, 'profiles') } : {}),
    });
    if (!ok)
      throw new Error('devnet bench: the run did not execute every transfer or the state roots differ');
    return summary;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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

  const plain = await devnet(0);
  const bound = (cores * verifyRate) / VERIFIES_PER_TX;
  report({
    name: 'devnet.tps',
    value: plain.tps,
    unit: 'tx/s',
    ratio: plain.tps / bound,
    vs: `crypto-bound(${cores}-cores×${Math.round(verifyRate)}-ed25519-verify/s÷${VERIFIES_PER_TX}-per-tx)`,
  });
  for (const q of ['p50', 'p99'] as const) {
    const ms = plain.latencyMs.plain[q];
    report({
      name: `devnet.latency_${q}`,
      value: ms,
      unit: 'ms',
      ratio: ms / BLOCK_INTERVAL,
      vs: `block-interval(${BLOCK_INTERVAL}ms)`,
    });
  }

  const enc = await devnet(1);
  const encBound = (cores * mulRate) / MULS_PER_ENCRYPTED_TX;
  report({
    name: 'devnet.encrypted_tps',
    value: enc.tps,
    unit: 'tx/s',
    ratio: enc.tps / encBound,
    vs: `decryptor-bound(${cores}-cores×${Math.round(mulRate)}-ristretto-mul/s÷${MULS_PER_ENCRYPTED_TX}-per-tx)`,
  });
  report({
    name: 'devnet.encrypted_latency_p50',
    value: enc.latencyMs.encrypted.p50,
    unit: 'ms',
    ratio: enc.latencyMs.encrypted.p50 / BLOCK_INTERVAL,
    vs: `block-interval(${BLOCK_INTERVAL}ms)`,
  });
}
