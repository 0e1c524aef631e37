/**
 * decryptor.block: encrypted transactions per second that ONE node of a 4-validator network
 * (t = 2, i.e. f + 1 with f = 1) gets through for a block of 64 TDH2 ciphertexts: check every
 * ciphertext's validity, make its own BlockShares (one batched proof), verify the other 3
 * validators' BlockShares, combine t shares per transaction and open the AEAD payload.
 *
 * The bound is ristretto255 scalar multiplications per second (libsodium, measured in the same
 * run) divided by what the naive scheme needs per transaction:
 *   validity 4 (f·g, e·u, f·ḡ, e·ū) + own share with its own proof 3 (x_i·u, s·g, s·u)
 *   + verifying 3 others' individual proofs 3 × 4 (f·g, e·h_j, f·u, e·u_j) + combining t = 2
 *   = 21 multiplications.
 * The batched path needs about 12 (validity 4, own share and its share of the combination 2,
 * 2 per other validator, combination t − 1 = 1 since Σλ = 1); goal ratio > 1.0.
 *
 * decryptor.naive: the same block through the per-share path (decryptionShare, verifyShare,
 * combine), against the same bound. decryptor.block.optimistic: the batched path verifying only
 * the t − 1 other validators' shares it combines with (what a node may do when they verify).
 */
import { ORDER, sodiumGroup } from '../crypto/group.ts';
import {
  type BlockShares,
  blockShares,
  type Ciphertext,
  combine,
  type DecryptionShare,
  dealKey,
  decryptionShare,
  decryptWithCombined,
  encrypt,
  verifyBlockShares,
  verifyCiphertext,
  verifyShare,
} from '../crypto/tdh2.ts';
import { labelBytes } from '../wire/envelope.ts';
import { report } from './report.ts';

const TXS = 64;
const VALIDATORS = 4;
const THRESHOLD = 2;
const NAIVE_MULS_PER_TX = 4 + 3 + 3 * 4 + THRESHOLD;
const ME = 0;

/**
 * Runs `work` (one block, returning its transaction count) alternately with bursts of libsodium
 * scalar multiplications of about the same duration, for at least `ms`; returns both rates. Both
 * are timed in this process's CPU time (process.cpuUsage), and interleaved, so that other
 * processes competing for the cores (CI runners, parallel jobs) skew neither the figure nor its
 * bound; on an idle machine CPU time and wall time agree.
 */
function paired(work: () => number, ms: number): { rate: number; mulRate: number } {
  const g = sodiumGroup;
  let k = 0x1234_5678_9abc_def0_1234_5678_9abc_def0n;
  let p = g.mulBase(k);
  const burst = () => {
    for (let i = 0; i < 8; i++) {
      k = (k * 6364136223846793005n + 1442695040888963407n) % ORDER;
      p = g.mul(p, k);
    }
    return 8;
  };
  work();
  burst();
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  let ops = 0;
  let opsTime = 0;
  let muls = 0;
  let mulTime = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t0 = cpu();
    ops += work();
    const t1 = cpu();
    opsTime += t1 - t0;
    do muls += burst();
    while (cpu() - t1 < t1 - t0);
    mulTime += cpu() - t1;
  }
  return { rate: (ops * 1000) / opsTime, mulRate: (muls * 1000) / mulTime };
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`decryptor bench: ${what}`);
}

export default async function decryptorBench(): Promise<void> {
  const enc = new TextEncoder();
  const { key, shares } = dealKey(THRESHOLD, VALIDATORS, enc.encode('bench-decryptor'));
  const context = enc.encode('block-hash-of-height-1');
  const cts: Ciphertext[] = [];
  const plaintexts: Uint8Array[] = [];
  for (let j = 0; j < TXS; j++) {
    const payer = new Uint8Array(32).fill(j);
    const label = labelBytes({ instance: 'bench', epoch: 1n, payer });
    const plaintext = enc.encode(`transfer #${j} `.padEnd(200, '.'));
    const randomness = new Uint8Array(64);
    new DataView(randomness.buffer).setUint32(0, j + 1);
    plaintexts.push(plaintext);
    cts.push(encrypt(key, plaintext, label, randomness));
  }
  const others = shares.filter((_, i) => i !== ME);
  // what arrives from the other validators (made outside the timed region)
  const theirBlockShares: BlockShares[] = others.map((sh) => blockShares(cts, sh, context));
  const theirShares: DecryptionShare[][] = others.map((sh) => cts.map((ct) => decryptionShare(ct, sh)));
  const mine = shares[ME]!;

  const batched = (verifyOthers: number) => () => {
    for (const ct of cts) check(verifyCiphertext(ct), 'invalid ciphertext');
    const own = blockShares(cts, mine, context);
    for (let v = 0; v < verifyOthers; v++) {
      check(verifyBlockShares(key, cts, theirBlockShares[v]!, context), 'block shares rejected');
    }
    const partner = theirBlockShares[0]!;
    for (let j = 0; j < TXS; j++) {
      const K = combine(key, cts[j]!, [
        { index: own.index, ui: own.shares[j]! },
        { index: partner.index, ui: partner.shares[j]! },
      ]);
      const r = decryptWithCombined(cts[j]!, K);
      check(r.ok && r.plaintext.length === plaintexts[j]!.length, 'decryption failed');
    }
    return TXS;
  };

  const naive = () => {
    for (let j = 0; j < TXS; j++) {
      const ct = cts[j]!;
      check(verifyCiphertext(ct), 'invalid ciphertext');
      const own = decryptionShare(ct, mine);
      for (const theirs of theirShares) check(verifyShare(key, ct, theirs[j]!), 'share rejected');
      const K = combine(key, ct, [own, theirShares[0]![j]!]);
      check(decryptWithCombined(ct, K).ok, 'decryption failed');
    }
    return TXS;
  };

  const line = (name: string, work: () => number, ms: number) => {
    const { rate, mulRate } = paired(work, ms);
    const bound = mulRate / NAIVE_MULS_PER_TX;
    const vs = `ristretto-mul-bound(${NAIVE_MULS_PER_TX}-mul-naive,${Math.round(mulRate)}-mul/s)`;
    report({ name, value: rate, unit: 'tx/s', ratio: rate / bound, vs });
  };
  line('decryptor.block', batched(VALIDATORS - 1), 4000);
  line('decryptor.naive', naive, 3000);
  line('decryptor.block.optimistic', batched(THRESHOLD - 1), 2000);
}
