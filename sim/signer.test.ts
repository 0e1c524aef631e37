import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../props/config.ts';
import { SimKeyring } from './signer.ts';

describe('the simulated signer', () => {
  const keyring = new SimKeyring();
  const alice = keyring.signer('alice');
  const bob = keyring.signer('bob');

  it('is deterministic per label and verifies only under its own key', () => {
    const msg = new TextEncoder().encode('vote h=1 r=0');
    const sig = alice.sign(msg);
    expect(sig.length).toBe(64);
    expect(new SimKeyring().signer('alice').sign(msg)).toEqual(sig);
    expect(keyring.verify(alice.publicKey, msg, sig)).toBe(true);
    expect(keyring.verify(bob.publicKey, msg, sig)).toBe(false);
    // a key the keyring never made verifies nothing
    expect(new SimKeyring().verify(alice.publicKey, msg, sig)).toBe(false);
    // a message and its zero-extension are different messages
    expect(keyring.verify(alice.publicKey, new Uint8Array([...msg, 0]), sig)).toBe(false);
    expect(keyring.verify(alice.publicKey, msg, sig.subarray(0, 63))).toBe(false);
  });

  it('property: any flipped bit of the message or the signature is rejected', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.boolean(), (msg, at, inSig) => {
        const sig = alice.sign(msg);
        expect(keyring.verify(alice.publicKey, msg, sig)).toBe(true);
        if (inSig) {
          const bad = sig.slice();
          bad[at % 64]! ^= 1 << (at % 8);
          expect(keyring.verify(alice.publicKey, msg, bad)).toBe(false);
        } else if (msg.length > 0) {
          const bad = msg.slice();
          bad[at % msg.length]! ^= 1 << (at % 8);
          expect(keyring.verify(alice.publicKey, bad, sig)).toBe(false);
        }
      }),
      propParams('sim.signer.bit-flip', 300),
    );
  });
});
