/**
 * A fast stand-in for ed25519 in simulation: a signature is a 64-byte keyed hash of the message
 * under a secret only the keyring (held by the simulator's verifier) knows, and a node is handed
 * only its own `Signer`, so a Byzantine node cannot forge an honest node's signature here either:
 * the adversary's code never sees another node's secret, and a guessed signature passes with
 * probability 2^-128. Live nodes always use ed25519 (wire/sign.ts).
 *
 * The hash is four 32-bit multiply-xorshift lanes (the murmur3 finaliser's constants) seeded by
 * the secret, not a cryptographic MAC: what matters in the simulator is that signatures are
 * deterministic, key- and message-bound, and cheap (an HMAC through node:crypto cost about a
 * tenth of a simulated height in allocations alone).
 */
import { createHash } from 'node:crypto';
import type { Signer, Verifier } from '../wire/sign.ts';

/** The 128-bit lane seed derived from a secret. */
type Secret = readonly [number, number, number, number];

// Every value below is kept an int32 (`| 0`): the same bits as the uint32 arithmetic it stands
// for (Math.imul and the shifts take their operands mod 2^32), but V8 keeps int32s unboxed, where
// sums past 2^31 and `>>> 0` results made it compute in doubles, at two and a half times the cost.
function fmix(h0: number): number {
  let h = h0 | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b | 0);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35 | 0);
  h ^= h >>> 16;
  return h;
}

/** Writes the 64-byte signature of `msg` under `secret` into `out`. */
function keyedHash(secret: Secret, msg: Uint8Array, out: Uint8Array): void {
  let a = secret[0] | 0;
  let b = secret[1] | 0;
  let c = secret[2] | 0;
  let d = secret[3] | 0;
  const n = msg.length;
  for (let i = 0; i < n; i++) {
    const x = msg[i]!;
    a = Math.imul(a ^ x, 0x01000193);
    b = Math.imul((b + x + (a >>> 15)) | 0, 0x85ebca6b | 0);
    c = Math.imul(c ^ (b >>> 13) ^ x, 0xc2b2ae35 | 0);
    d = Math.imul((d + (c >>> 16) + x) | 0, 0x27d4eb2f);
  }
  // the length goes in too, so a message and its zero-extension differ
  a = fmix(a ^ n);
  b = fmix(b ^ a);
  c = fmix(c ^ b);
  d = fmix(d ^ c);
  for (let w = 0; w < 16; w++) {
    const lane = w & 3;
    const v = fmix(
      ((lane === 0 ? a : lane === 1 ? b : lane === 2 ? c : d) + Math.imul(w + 1, 0x9e3779b9 | 0)) | 0,
    );
    out[4 * w] = v >>> 24;
    out[4 * w + 1] = (v >>> 16) & 0xff;
    out[4 * w + 2] = (v >>> 8) & 0xff;
    out[4 * w + 3] = v & 0xff;
  }
}

function hexOf(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += (bytes[i]! < 16 ? '0' : '') + bytes[i]!.toString(16);
  return s;
}

export class SimKeyring {
  private readonly secrets = new Map<string, Secret>();
  /** Public-key objects seen before (validator sets hold one per validator), to skip the hex. */
  private readonly byKeyObject = new WeakMap<Uint8Array, Secret>();
  private readonly scratch = new Uint8Array(64);

  /** Creates (deterministically from `label`) a signer and registers its key. */
  signer(label: string): Signer {
    const digest = createHash('sha256').update(`fractal-sim-key:${label}`).digest();
    const secret: Secret = [
      digest.readUInt32BE(0),
      digest.readUInt32BE(4),
      digest.readUInt32BE(8),
      digest.readUInt32BE(12),
    ];
    const publicKey = new Uint8Array(createHash('sha256').update('pk').update(digest).digest());
    this.secrets.set(hexOf(publicKey), secret);
    return {
      publicKey,
      sign: (msg) => {
        const sig = new Uint8Array(64);
        keyedHash(secret, msg, sig);
        return sig;
      },
    };
  }

  private secretOf(publicKey: Uint8Array): Secret | undefined {
    const known = this.byKeyObject.get(publicKey);
    if (known !== undefined) return known;
    const secret = this.secrets.get(hexOf(publicKey));
    if (secret !== undefined) this.byKeyObject.set(publicKey, secret);
    return secret;
  }

  readonly verify: Verifier = (publicKey, msg, sig) => {
    if (publicKey.length !== 32 || sig.length !== 64) return false;
    const secret = this.secretOf(publicKey);
    if (secret === undefined) return false;
    const expected = this.scratch;
    keyedHash(secret, msg, expected);
    let diff = 0;
    for (let i = 0; i < 64; i++) diff |= expected[i]! ^ sig[i]!;
    return diff === 0;
  };
}
