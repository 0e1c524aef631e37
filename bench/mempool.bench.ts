/**
 * mempool.admit: pre-signed plain envelopes (real ed25519, wire/sign.ts) admitted through the pool
 * per second (size check, hash, decode, instance, expiry, replay, nonce, sender and capacity
 * checks, signature, insertion in priority order; each admission returns a new immutable pool
 * state), against raw node:crypto ed25519 verification
 * of the same signatures in the same run (KeyObjects made in advance). The signature is the one
 * expensive step of admission, so the ratio is the share of admission time it takes.
 */
import { createPublicKey, type KeyObject, verify as nodeVerify } from 'node:crypto';
import { admit, createPool } from '../engines/mempool/pool.ts';
import { INSTANCE, keyOf, signedBytes } from '../engines/mempool/testing.ts';
import { envelopeSigningBytes, SignedEnvelope } from '../wire/envelope.ts';
import { decode } from '../wire/schema.ts';
import { verify } from '../wire/sign.ts';
import { measure, report } from './report.ts';

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export default async function mempoolBench(): Promise<void> {
  const payers = Array.from({ length: 500 }, (_, i) => keyOf(`bench-payer-${i}`));
  const envelopes: Uint8Array[] = [];
  for (let nonce = 0n; nonce < 4n; nonce++) {
    for (const [i, key] of payers.entries()) {
      const body = { tag: 'plain', value: new Uint8Array(200).fill(i & 0xff) } as const;
      envelopes.push(signedBytes({ key, nonce, fee: BigInt(1 + ((i * 37) % 1000)), expiry: 1_000n, body }));
    }
  }
  const limits = { maxCount: envelopes.length, maxBytes: 64 * 1024 * 1024 };

  const admitted = measure(() => {
    let pool = createPool({ instance: INSTANCE, validators: [], limits });
    const env = { verify };
    for (const bytes of envelopes) {
      const { pool: next, admission } = admit(pool, bytes, env);
      if (!admission.ok) throw new Error(`bench envelope rejected: ${admission.reason}`);
      pool = next;
    }
    return envelopes.length;
  }, 2000);

  const raw = envelopes.map((bytes) => {
    const signed = decode(SignedEnvelope, bytes);
    const key: KeyObject = createPublicKey({
      key: Buffer.concat([SPKI_PREFIX, signed.envelope.payer]),
      format: 'der',
      type: 'spki',
    });
    return { key, msg: envelopeSigningBytes(signed.envelope), sig: signed.signature };
  });
  const verified = measure(() => {
    for (const r of raw) if (!nodeVerify(null, r.msg, r.key, r.sig)) throw new Error('raw verify failed');
    return raw.length;
  }, 2000);

  report({
    name: 'mempool.admit',
    value: admitted,
    unit: 'tx/s',
    ratio: admitted / verified,
    vs: 'raw-ed25519-verify',
  });
}
