/**
 * The swap-owner predicate's identity (predicate.ts is its code): `swap-owner@1`, native, config
 * = the owner's ed25519 public key, and the owner commitment notes in an owner's swap account carry.
 */
import { nativeFn, predicateCommitment } from '../../engines/executor/natives.ts';
import type { FunctionValue } from '../../wire/schema.ts';
import { PUBLIC_KEY_BYTES } from '../../wire/sign.ts';

export const SWAP_OWNER_NAME = 'swap-owner';
export const SWAP_OWNER_VERSION = '1';

/** The swap-owner predicate of an ed25519 public key, and the owner commitment its notes carry. */
export function swapOwnerPredicate(publicKey: Uint8Array): { fn: FunctionValue; commitment: Uint8Array } {
  if (publicKey.length !== PUBLIC_KEY_BYTES)
    throw new RangeError(`owner public key must be ${PUBLIC_KEY_BYTES} bytes`);
  const fn = nativeFn(SWAP_OWNER_NAME, SWAP_OWNER_VERSION, publicKey);
  return { fn, commitment: predicateCommitment(fn) };
}

export function swapOwnerCommitment(publicKey: Uint8Array): Uint8Array {
  return swapOwnerPredicate(publicKey).commitment;
}
