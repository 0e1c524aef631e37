/**
 * A fast stand-in for ed25519 in simulation: a signature is HMAC-SHA512(secret, msg). Only the
 * keyring (held by the simulator's verifier) knows the secrets, and a node is handed only its own
 * `Signer`, so a Byzantine node cannot forge an honest node's signature here either.
 * Live nodes always use ed25519 (wire/sign.ts).
 */
import { createHash, createHmac } from 'node:crypto';
import type { Signer, Verifier } from '../wire/sign.ts';

export class SimKeyring {
  private readonly secrets = new Map<string, Buffer>();

  /** Creates (deterministically from `label`) a signer and registers its key. */
  signer(label: string): Signer {
    const secret = createHash('sha256').update(`fractal-sim-key:${label}`).digest();
    const publicKey = new Uint8Array(createHash('sha256').update('pk').update(secret).digest());
    this.secrets.set(Buffer.from(publicKey).toString('hex'), secret);
    return {
      publicKey,
      sign: (msg) => new Uint8Array(createHmac('sha512', secret).update(msg).digest()),
    };
  }

  readonly verify: Verifier = (publicKey, msg, sig) => {
    if (publicKey.length !== 32 || sig.length !== 64) return false;
    const secret = this.secrets.get(Buffer.from(publicKey).toString('hex'));
    if (secret === undefined) return false;
    const expected = createHmac('sha512', secret).update(msg).digest();
    return expected.equals(sig);
  };
}
