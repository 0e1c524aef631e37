/**
 * lightclient.verify: counterparty headers verified per second by the IBC light client
 * (apps/ibc/client.ts verifyHeader: set checks and hashes, the header's hash, the sign bytes, every
 * signature, the 2/3 and trust-level tallies, the consensus-state bookkeeping), against raw
 * node:crypto ed25519 verification of exactly the signatures those headers carry, in the same run.
 * Goal >= 0.8 (issue 18): the light client's own work is small next to the signatures.
 *
 * The chain: 16 validators of unequal power, one validator replaced every 8 heights, so an eighth
 * of the updates take the trust-level path; each update verifies a header from the one before it.
 */
import { type Client, type ClientHeader, createClient, verifyHeader } from '../apps/ibc/client.ts';
import { FakeInstance, testParams } from '../apps/ibc/testing.ts';
import { voteSignBytes } from '../engines/consensus/chain.ts';
import { VOTE_PRECOMMIT } from '../wire/ledger.ts';
import { verify } from '../wire/sign.ts';
import { measure, report } from './report.ts';

const VALIDATORS = 16;
const HEADERS = 64;

interface Fixture {
  readonly initial: Parameters<typeof createClient>[1];
  readonly updates: readonly ClientHeader[];
  /** every signature the updates carry, with the key and bytes it signs */
  readonly signatures: readonly { publicKey: Uint8Array; bytes: Uint8Array; signature: Uint8Array }[];
  readonly now: bigint;
}

function fixture(): Fixture {
  const b = new FakeInstance({
    chainId: 'bench-b',
    validators: Array.from({ length: VALIDATORS }, (_, n) => [n, BigInt(10 + ((n * 37) % 90))] as const),
  });
  b.produce();
  let joining = VALIDATORS;
  const updates: ClientHeader[] = [];
  for (let h = 2n; h <= BigInt(HEADERS + 1); h++) {
    if (h % 8n === 0n) {
      b.decide([
        [joining - VALIDATORS, 0n],
        [joining, 50n],
      ]);
      joining++;
    }
    b.produce();
    updates.push(b.update(h, h - 1n));
  }
  const signatures = updates.flatMap((u) => {
    const bytes = voteSignBytes(b.chainId, {
      type: VOTE_PRECOMMIT,
      height: u.header.height,
      round: u.certificate.round,
      blockHash: u.certificate.blockHash,
    });
    return u.certificate.signatures.map((s) => ({
      publicKey: u.validators[s.validator]!.publicKey,
      bytes,
      signature: s.signature,
    }));
  });
  return { initial: b.trustedAt(1n), updates, signatures, now: b.signed(b.height).header.time + 1_000n };
}

export default async function lightclientBench(): Promise<void> {
  const f = fixture();
  const params = testParams('bench-b');
  const verifyChain = (): number => {
    const created = createClient(params, f.initial);
    if (!created.ok) throw new Error(`createClient: ${created.reason}`);
    let client: Client = created.client;
    for (const u of f.updates) {
      const r = verifyHeader(client, u, f.now, verify);
      if (!r.ok) throw new Error(`bench header ${u.header.height} refused: ${r.reason}`);
      client = r.client;
    }
    return f.updates.length;
  };
  const verifyRaw = (): number => {
    let ok = 0;
    for (const s of f.signatures) if (verify(s.publicKey, s.bytes, s.signature)) ok++;
    if (ok !== f.signatures.length) throw new Error('raw verification failed');
    return f.updates.length;
  };
  // alternating samples, the best of each: both see the same machine (two cores, shared)
  let headers = 0;
  let raw = 0;
  for (let i = 0; i < 5; i++) {
    headers = Math.max(headers, measure(verifyChain, 400));
    raw = Math.max(raw, measure(verifyRaw, 400));
  }
  report({
    name: 'lightclient.verify',
    value: headers,
    unit: 'headers/s',
    ratio: headers / raw,
    vs: 'raw ed25519 verification of the same signatures (same run)',
  });
}
