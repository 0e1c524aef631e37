/**
 * The token's two native validity predicates (README.md has the rules):
 *
 *   token-conservation@1  application predicate; config = canonical TokenDefinition. Over the notes
 *                         of its own application only, per (provenance, asset): consumed == created,
 *                         unless the mint authority signed the transaction digest (mint / burn).
 *   ed25519-owner@1       owner predicate; config = the owner's 32-byte public key. Accepts iff the
 *                         owner has no input note in the transaction, or signed its digest.
 *
 * Both take the executor's TxView and read the Declared transaction in its extradata; they reject
 * when the view's notes are not exactly the Declared ones, so a signature always covers precisely
 * the notes consumed and created. Gas: declared base and per-byte costs, plus SIGNATURE_GAS for each
 * signature verified.
 */
import { Declared, nativeFn, predicateCommitment } from '../../engines/executor/natives.ts';
import { type Note, noteKey, provenancePrefix } from '../../engines/executor/notes.ts';
import { txViewOf } from '../../engines/executor/phases.ts';
import type { NativeDefinition, NativeRegistry } from '../../vm/native.ts';
import type { EvalResult } from '../../vm/types.ts';
import { toHex } from '../../wire/commit.ts';
import { encode, type FunctionValue, tryDecode } from '../../wire/schema.ts';
import { PUBLIC_KEY_BYTES, verify } from '../../wire/sign.ts';
import { bytesEqual, type DataValue, V } from '../../wire/types.ts';
import {
  declaredDigest,
  type SignatureEntry,
  signaturesOf,
  TokenDefinition,
  tokenValueOf,
} from './format.ts';

/** Gas charged per ed25519 verification, on top of the declared base and per-byte costs. */
export const SIGNATURE_GAS = 2_000;

export const CONSERVATION_NAME = 'token-conservation';
export const OWNER_NAME = 'ed25519-owner';
export const PREDICATE_VERSION = '1';

/**
 * A predicate's argument read as a transaction view bound to its Declared transaction: the notes
 * the executor shows are exactly the declared ones (same keys, same outputs, same order), so
 * whatever signs the Declared transaction covers precisely what is consumed and created. Shared
 * by every application whose predicates take Declared transactions (apps/swap too).
 */
export interface DeclaredView {
  readonly inputs: readonly Note[];
  readonly outputs: readonly Note[];
  readonly declared: Declared;
  /** what signatures over the transaction sign (format.ts `declaredDigest`) */
  readonly digest: Uint8Array;
  /** the height of the block executing the transaction (the token's predicates ignore it) */
  readonly height: bigint;
}

/**
 * Views already read, by the argument value they were read from (null: not a view). The executor
 * hands one transaction view to every predicate of the transaction: its application's and each
 * owner's, so the view is decoded, checked and digested once. Keyed by identity: DataValues are
 * never mutated.
 */
const views = new WeakMap<DataValue, DeclaredView | null>();

/** The predicate arguments as a view bound to its Declared transaction, or undefined. */
export function declaredViewOf(args: readonly DataValue[]): DeclaredView | undefined {
  if (args.length !== 1) return undefined;
  const arg = args[0]!;
  let view = views.get(arg);
  if (view === undefined) {
    view = readView(arg) ?? null;
    views.set(arg, view);
  }
  return view ?? undefined;
}

/** Whether two notes are the same (field by field: what equal canonical encodings mean). */
function sameNote(a: Note, b: Note): boolean {
  if (a.provenance.length !== b.provenance.length) return false;
  for (let i = 0; i < a.provenance.length; i++)
    if (!bytesEqual(a.provenance[i]!, b.provenance[i]!)) return false;
  return (
    bytesEqual(a.application, b.application) &&
    bytesEqual(a.owner, b.owner) &&
    bytesEqual(a.key, b.key) &&
    bytesEqual(a.value, b.value)
  );
}

function readView(arg: DataValue): DeclaredView | undefined {
  const tx = txViewOf(arg);
  if (tx === undefined) return undefined;
  const d = tryDecode(Declared, tx.extradata);
  if (!d.ok) return undefined;
  const declared = d.value;
  if (declared.inputs.length !== tx.inputs.length || declared.outputs.length !== tx.outputs.length)
    return undefined;
  for (let i = 0; i < tx.inputs.length; i++)
    if (!bytesEqual(noteKey(tx.inputs[i]!), declared.inputs[i]!)) return undefined;
  for (let i = 0; i < tx.outputs.length; i++)
    if (!sameNote(tx.outputs[i]!, declared.outputs[i]!)) return undefined;
  return {
    inputs: tx.inputs,
    outputs: tx.outputs,
    declared,
    digest: declaredDigest(declared),
    height: tx.height,
  };
}

/** A view with the token payload's signatures. */
interface View extends DeclaredView {
  readonly signatures: readonly SignatureEntry[];
}

const signed = new WeakMap<DeclaredView, View>();

function viewOf(args: readonly DataValue[]): View | undefined {
  const view = declaredViewOf(args);
  if (view === undefined) return undefined;
  let v = signed.get(view);
  if (v === undefined) {
    v = { ...view, signatures: signaturesOf(view.declared.payload) };
    signed.set(view, v);
  }
  return v;
}

/** A predicate's answer: accept or reject, and the gas it used. */
export const verdict = (ok: boolean, gasUsed = 0): EvalResult => ({ ok: true, value: V.bool(ok), gasUsed });
/** A predicate that cannot afford the signature check it needs: all its gas is spent. */
export const outOfGas = (gasLeft: number): EvalResult => ({
  ok: false,
  error: { code: 'out-of-gas', message: 'not enough gas to verify a signature' },
  gasUsed: gasLeft,
});

/** Whether `publicKey` signed `digest`: the first entry for that key decides (one verification at most). */
function signedBy(view: View, publicKey: Uint8Array): boolean {
  const entry = view.signatures.find((e) => bytesEqual(e.publicKey, publicKey));
  return entry !== undefined && verify(publicKey, view.digest, entry.signature);
}

/** A native predicate's own commitment from its config, cached (bounded). */
export function commitmentCache(
  name: string,
  version = PREDICATE_VERSION,
): (config: Uint8Array) => Uint8Array {
  const cache = new Map<string, Uint8Array>();
  return (config) => {
    const k = toHex(config);
    let c = cache.get(k);
    if (c === undefined) {
      if (cache.size >= 4096) cache.clear();
      c = predicateCommitment(nativeFn(name, version, config));
      cache.set(k, c);
    }
    return c;
  };
}
const applicationOf = commitmentCache(CONSERVATION_NAME);
const ownerCommitmentOf = commitmentCache(OWNER_NAME);

/**
 * Per (provenance, asset) of this application's notes: created − consumed; undefined if any of
 * those notes has a malformed or zero value.
 */
export function tokenDeltas(
  application: Uint8Array,
  inputs: readonly Note[],
  outputs: readonly Note[],
): Map<string, bigint> | undefined {
  const deltas = new Map<string, bigint>();
  const add = (note: Note, sign: bigint): boolean => {
    if (!bytesEqual(note.application, application)) return true;
    const v = tokenValueOf(note.value);
    if (v === undefined) return false;
    const k = `${toHex(provenancePrefix(note.provenance))}/${toHex(v.asset)}`;
    deltas.set(k, (deltas.get(k) ?? 0n) + sign * v.amount);
    return true;
  };
  for (const n of inputs) if (!add(n, -1n)) return undefined;
  for (const n of outputs) if (!add(n, 1n)) return undefined;
  return deltas;
}

export const TOKEN_CONSERVATION: NativeDefinition = {
  name: CONSERVATION_NAME,
  version: PREDICATE_VERSION,
  baseGas: 200,
  perByteGas: 1,
  takesConfig: true,
  run(args, config, _ctx, gasLeft) {
    const def = tryDecode(TokenDefinition, config);
    if (!def.ok) return verdict(false);
    const view = viewOf(args);
    if (view === undefined) return verdict(false);
    const deltas = tokenDeltas(applicationOf(config), view.inputs, view.outputs);
    if (deltas === undefined) return verdict(false);
    if ([...deltas.values()].every((d) => d === 0n)) return verdict(true);
    // supply changes: only with the mint authority's signature
    if (gasLeft < SIGNATURE_GAS) return outOfGas(gasLeft);
    return verdict(signedBy(view, def.value.mintAuthority), SIGNATURE_GAS);
  },
};

export const ED25519_OWNER: NativeDefinition = {
  name: OWNER_NAME,
  version: PREDICATE_VERSION,
  baseGas: 200,
  perByteGas: 1,
  takesConfig: true,
  run(args, config, _ctx, gasLeft) {
    if (config.length !== PUBLIC_KEY_BYTES) return verdict(false);
    const view = viewOf(args);
    if (view === undefined) return verdict(false);
    const self = ownerCommitmentOf(config);
    // receiving needs no signature; spending does
    if (!view.inputs.some((n) => bytesEqual(n.owner, self))) return verdict(true);
    if (gasLeft < SIGNATURE_GAS) return outOfGas(gasLeft);
    return verdict(signedBy(view, config), SIGNATURE_GAS);
  },
};

/** Adds token-conservation@1 and ed25519-owner@1 to a registry (and returns it). */
export function tokenNatives(registry: NativeRegistry): NativeRegistry {
  return registry.register(TOKEN_CONSERVATION).register(ED25519_OWNER);
}

/** The conservation predicate of a token definition, and the application commitment notes carry. */
export function conservationPredicate(def: TokenDefinition): {
  fn: FunctionValue;
  commitment: Uint8Array;
} {
  const fn = nativeFn(CONSERVATION_NAME, PREDICATE_VERSION, encode(TokenDefinition, def));
  return { fn, commitment: predicateCommitment(fn) };
}

/** The owner predicate of an ed25519 public key, and the owner commitment notes carry. */
export function ownerPredicate(publicKey: Uint8Array): { fn: FunctionValue; commitment: Uint8Array } {
  if (publicKey.length !== PUBLIC_KEY_BYTES)
    throw new RangeError(`owner public key must be ${PUBLIC_KEY_BYTES} bytes`);
  const fn = nativeFn(OWNER_NAME, PREDICATE_VERSION, publicKey);
  return { fn, commitment: predicateCommitment(fn) };
}
