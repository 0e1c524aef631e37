/** Helpers for the mempool's tests and benchmark: keys, envelopes, ciphertexts. */
import { Ciphertext, dealKey, encrypt } from '../../crypto/tdh2.ts';
import { sha256 } from '../../wire/commit.ts';
import {
  type Envelope,
  type EnvelopeBody,
  envelopeSigningBytes,
  labelBytes,
  SignedEnvelope,
} from '../../wire/envelope.ts';
import { encode } from '../../wire/schema.ts';
import { type KeyPair, keyPairFromSeed, sign } from '../../wire/sign.ts';

export const INSTANCE = 'fractal-test';

/** A deterministic ed25519 key pair per label. */
export function keyOf(label: string | number): KeyPair {
  return keyPairFromSeed(sha256(new TextEncoder().encode(`mempool-test-key/${label}`)));
}

export interface EnvelopeSpec {
  readonly key: KeyPair;
  readonly fee?: bigint;
  readonly nonce?: bigint;
  readonly expiry?: bigint;
  readonly instance?: string;
  readonly body?: EnvelopeBody;
}

export function envelopeOf(spec: EnvelopeSpec): Envelope {
  return {
    instance: spec.instance ?? INSTANCE,
    payer: spec.key.publicKey,
    fee: spec.fee ?? 10n,
    nonce: spec.nonce ?? 0n,
    expiry: spec.expiry ?? 100n,
    body: spec.body ?? { tag: 'plain', value: Uint8Array.of(1, 2, 3) },
  };
}

/** An encoded SignedEnvelope, signed by `spec.key` (or by `signer` instead, to forge). */
export function signedBytes(spec: EnvelopeSpec, signer: KeyPair = spec.key): Uint8Array {
  const envelope = envelopeOf(spec);
  const signature = sign(signer.secretKey, envelopeSigningBytes(envelope));
  return encode(SignedEnvelope, { envelope, signature });
}

/** A threshold key for epoch tests (trusted dealer). */
export function epochKey(seed = 'epoch'): { publicKey: Uint8Array } {
  return { publicKey: dealKey(2, 3, sha256(new TextEncoder().encode(seed))).key.publicKey };
}

/** An encrypted body under `publicKey` with the label the pool expects (or `label` instead). */
export function encryptedBody(
  publicKey: Uint8Array,
  payer: Uint8Array,
  plaintext: Uint8Array,
  opts: { epoch?: bigint; instance?: string; randomness?: Uint8Array; label?: Uint8Array } = {},
): EnvelopeBody {
  const epoch = opts.epoch ?? 1n;
  const label = opts.label ?? labelBytes({ instance: opts.instance ?? INSTANCE, epoch, payer });
  const randomness = new Uint8Array(64);
  randomness.set((opts.randomness ?? sha256(plaintext)).subarray(0, 64));
  const ct = encrypt({ publicKey }, plaintext, label, randomness);
  return { tag: 'encrypted', value: { epoch, ciphertext: encode(Ciphertext, ct) } };
}

/**
 * Freezes `value` and everything reachable from it (typed arrays, which cannot be frozen, are
 * left as they are): a state that survives this and the steps after it is never written.
 */
export function deepFreeze<T>(value: T, seen = new WeakSet<object>()): T {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  const obj = value as unknown as object;
  if (seen.has(obj)) return value;
  seen.add(obj);
  if (obj instanceof Map || obj instanceof Set) {
    throw new TypeError(`deepFreeze: a ${obj.constructor.name} cannot be frozen (it is mutable)`);
  }
  for (const key of Reflect.ownKeys(obj)) deepFreeze((obj as Record<PropertyKey, unknown>)[key], seen);
  Object.freeze(obj);
  return value;
}
