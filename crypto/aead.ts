/**
 * ChaCha20-Poly1305 (RFC 8439: 32-byte key, 12-byte nonce, 16-byte tag appended to the
 * ciphertext) behind one small interface, in two implementations: node:crypto (OpenSSL, the hot
 * path: about 3x faster than libsodium's WebAssembly on 60 KiB payloads, on par for small ones)
 * and libsodium's `crypto_aead_chacha20poly1305_ietf_*`. Tests cross-check them and the RFC's
 * test vector.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import sodium from 'libsodium-wrappers-sumo';

await sodium.ready;

export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

export interface Aead {
  readonly name: string;
  /** plaintext → ciphertext ‖ tag (plaintext.length + TAG_BYTES bytes) */
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /** ciphertext ‖ tag → plaintext, or undefined when the tag does not verify; never throws on bad input */
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined;
}

function checkKeyNonce(key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== KEY_BYTES)
    throw new RangeError(`aead key must be ${KEY_BYTES} bytes, got ${key.length}`);
  if (nonce.length !== NONCE_BYTES) {
    throw new RangeError(`aead nonce must be ${NONCE_BYTES} bytes, got ${nonce.length}`);
  }
}

/** node:crypto's OpenSSL ChaCha20-Poly1305. */
export const nodeAead: Aead = {
  name: 'node:crypto',
  seal(key, nonce, plaintext, aad) {
    checkKeyNonce(key, nonce);
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
    c.setAAD(aad, { plaintextLength: plaintext.length });
    const body = c.update(plaintext);
    const tail = c.final();
    const out = new Uint8Array(plaintext.length + TAG_BYTES);
    out.set(body, 0);
    out.set(tail, body.length);
    out.set(c.getAuthTag(), plaintext.length);
    return out;
  },
  open(key, nonce, sealed, aad) {
    if (key.length !== KEY_BYTES || nonce.length !== NONCE_BYTES || sealed.length < TAG_BYTES)
      return undefined;
    const n = sealed.length - TAG_BYTES;
    try {
      const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
      d.setAAD(aad, { plaintextLength: n });
      d.setAuthTag(sealed.subarray(n));
      const body = d.update(sealed.subarray(0, n));
      const tail = d.final(); // throws when the tag does not verify
      const out = new Uint8Array(n);
      out.set(body, 0);
      out.set(tail, body.length);
      return out;
    } catch {
      return undefined;
    }
  },
};

/** libsodium's crypto_aead_chacha20poly1305_ietf (the same algorithm). */
export const sodiumAead: Aead = {
  name: 'libsodium',
  seal(key, nonce, plaintext, aad) {
    checkKeyNonce(key, nonce);
    return sodium.crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, aad, null, nonce, key);
  },
  open(key, nonce, sealed, aad) {
    if (key.length !== KEY_BYTES || nonce.length !== NONCE_BYTES || sealed.length < TAG_BYTES)
      return undefined;
    try {
      return sodium.crypto_aead_chacha20poly1305_ietf_decrypt(null, sealed, aad, nonce, key);
    } catch {
      return undefined;
    }
  },
};

/** The hot-path AEAD. */
export const aead: Aead = nodeAead;
