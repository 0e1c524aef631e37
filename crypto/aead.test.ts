import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../props/config.ts';
import { nodeAead, sodiumAead, TAG_BYTES } from './aead.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fromHex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

describe('ChaCha20-Poly1305: node:crypto agrees with libsodium', () => {
  it('RFC 8439 §2.8.2 test vector', () => {
    const key = fromHex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
    const nonce = fromHex('070000004041424344454647');
    const aad = fromHex('50515253c0c1c2c3c4c5c6c7');
    const plaintext = new TextEncoder().encode(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    );
    for (const impl of [nodeAead, sodiumAead]) {
      const sealed = impl.seal(key, nonce, plaintext, aad);
      expect(sealed.length).toBe(plaintext.length + TAG_BYTES);
      expect(hex(sealed.subarray(0, 16))).toBe('d31a8d34648e60db7b86afbc53ef7ec2');
      expect(hex(sealed.subarray(plaintext.length))).toBe('1ae10b594f09e26a7e902ecbd0600691');
      expect(impl.open(key, nonce, sealed, aad)).toEqual(plaintext);
    }
  });

  it('same bytes both ways; any tampering fails to open', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.nat(),
        (key, nonce, plaintext, aad, bit) => {
          const a = nodeAead.seal(key, nonce, plaintext, aad);
          const b = sodiumAead.seal(key, nonce, plaintext, aad);
          expect(hex(a)).toBe(hex(b));
          expect(sodiumAead.open(key, nonce, a, aad)).toEqual(plaintext);
          expect(nodeAead.open(key, nonce, b, aad)).toEqual(plaintext);
          const flipped = a.slice();
          const at = bit % (flipped.length * 8);
          flipped[at >> 3] = (flipped[at >> 3] as number) ^ (1 << (at & 7));
          expect(nodeAead.open(key, nonce, flipped, aad)).toBeUndefined();
          expect(sodiumAead.open(key, nonce, flipped, aad)).toBeUndefined();
          const otherAad = new Uint8Array([...aad, 0]);
          expect(nodeAead.open(key, nonce, a, otherAad)).toBeUndefined();
          expect(sodiumAead.open(key, nonce, a, otherAad)).toBeUndefined();
        },
      ),
      propParams('aead.cross-check', 100),
    );
  });

  it('short or badly sized inputs open to undefined, never throw', () => {
    const key = new Uint8Array(32);
    const nonce = new Uint8Array(12);
    for (const impl of [nodeAead, sodiumAead]) {
      expect(impl.open(key, nonce, new Uint8Array(TAG_BYTES - 1), new Uint8Array())).toBeUndefined();
      expect(impl.open(new Uint8Array(31), nonce, new Uint8Array(40), new Uint8Array())).toBeUndefined();
      expect(impl.open(key, new Uint8Array(24), new Uint8Array(40), new Uint8Array())).toBeUndefined();
      expect(() => impl.seal(new Uint8Array(16), nonce, new Uint8Array(1), new Uint8Array())).toThrow(
        RangeError,
      );
    }
  });
});
