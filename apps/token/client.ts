/**
 * Client helpers: token handles, note construction, Declared transactions for mints and transfers,
 * signing, balances. Transactions use the executor's declared lookup / calculation natives and
 * constrain reads to exactly the input keys and writes to exactly the input and output keys.
 */
import { DECLARED_INPUTS, DECLARED_OUTPUTS, Declared, nativeFn } from '../../engines/executor/natives.ts';
import { type Note, noteKey, type Transaction } from '../../engines/executor/notes.ts';
import type { NoteStore } from '../../engines/executor/state.ts';
import { sha256, toHex } from '../../wire/commit.ts';
import { encode, type FunctionValue } from '../../wire/schema.ts';
import { keyPairFromSeed, sign } from '../../wire/sign.ts';
import {
  declaredDigest,
  declaredOf,
  type SignatureEntry,
  signaturesOf,
  TokenPayload,
  TokenValue,
  tokenValueOf,
} from './format.ts';
import { conservationPredicate, ownerPredicate } from './predicates.ts';

/** A token definition: its mint authority, its conservation predicate and application commitment. */
export interface Token {
  readonly mintAuthority: Uint8Array;
  readonly predicate: { readonly fn: FunctionValue; readonly commitment: Uint8Array };
  /** = predicate.commitment, the `application` of its notes */
  readonly application: Uint8Array;
}

export function defineToken(mintAuthority: Uint8Array): Token {
  const predicate = conservationPredicate({ mintAuthority });
  return { mintAuthority, predicate, application: predicate.commitment };
}

/** The owner commitment notes owned by an ed25519 public key carry. */
export function ownerCommitment(publicKey: Uint8Array): Uint8Array {
  return ownerPredicate(publicKey).commitment;
}

/** Publishes the code of a token's conservation predicate and of owner predicates in a store. */
export function registerTokenCode(store: NoteStore, token: Token, owners: readonly Uint8Array[] = []): void {
  store.registerCode(token.predicate.fn);
  for (const pk of owners) store.registerCode(ownerPredicate(pk).fn);
}

export interface OutputSpec {
  /** the recipient's ed25519 public key */
  readonly owner: Uint8Array;
  readonly asset: Uint8Array;
  readonly amount: bigint;
  /** the note key; derived from the transaction's inputs, nonce and position when absent */
  readonly key?: Uint8Array;
}

/** A locally originated token note. */
export function tokenNote(
  token: Token,
  spec: { owner: Uint8Array; asset: Uint8Array; amount: bigint; key: Uint8Array },
): Note {
  return {
    provenance: [],
    application: token.application,
    owner: ownerCommitment(spec.owner),
    key: spec.key,
    value: encode(TokenValue, { asset: spec.asset, amount: spec.amount }),
  };
}

const KEY_DOMAIN = new TextEncoder().encode('fractal/token/note-key/v1\0');

function derivedKey(inputs: readonly Uint8Array[], nonce: Uint8Array, index: number): Uint8Array {
  const body = encode(Declared, { inputs: [...inputs], outputs: [], payload: nonce });
  const msg = new Uint8Array(KEY_DOMAIN.length + body.length + 4);
  msg.set(KEY_DOMAIN, 0);
  msg.set(body, KEY_DOMAIN.length);
  new DataView(msg.buffer).setUint32(KEY_DOMAIN.length + body.length, index);
  return sha256(msg);
}

const LOOKUP = nativeFn(DECLARED_INPUTS.name, DECLARED_INPUTS.version);
const CALCULATION = nativeFn(DECLARED_OUTPUTS.name, DECLARED_OUTPUTS.version);
const EMPTY_PAYLOAD = encode(TokenPayload, { signatures: [] });

/** A Declared transaction consuming `inputs` and creating `outputs` (notes of any application). */
export function declaredTx(
  inputs: readonly Note[],
  outputs: readonly Note[],
  payload: Uint8Array = EMPTY_PAYLOAD,
): Transaction {
  const inKeys = inputs.map((n) => noteKey(n));
  const outKeys = outputs.map((n) => noteKey(n));
  return {
    stateReadConstraints: inKeys,
    stateWriteConstraints: [...inKeys, ...outKeys],
    lookupCode: LOOKUP,
    calculationCode: CALCULATION,
    extradata: encode(Declared, { inputs: inKeys, outputs: [...outputs], payload }),
  };
}

function outputsOf(
  token: Token,
  inputs: readonly Note[],
  specs: readonly OutputSpec[],
  nonce: Uint8Array,
): Note[] {
  const inKeys = inputs.map((n) => noteKey(n));
  return specs.map((o, i) => tokenNote(token, { ...o, key: o.key ?? derivedKey(inKeys, nonce, i) }));
}

/**
 * A transfer: consumes `inputs` (token notes, possibly of several tokens) and creates token notes of
 * `token`. Unsigned: add the input owners' signatures with `signTx`.
 */
export function transferTx(
  token: Token,
  inputs: readonly Note[],
  outputs: readonly OutputSpec[],
  nonce: Uint8Array = new Uint8Array(0),
): Transaction {
  return declaredTx(inputs, outputsOf(token, inputs, outputs, nonce));
}

/**
 * A mint: creates token notes out of nothing. Valid only once signed by the mint authority. The
 * nonce makes derived note keys unique across mints (a repeated mint re-creates the same keys and
 * is refused by the executor).
 */
export function mintTx(token: Token, outputs: readonly OutputSpec[], nonce: Uint8Array): Transaction {
  return declaredTx([], outputsOf(token, [], outputs, nonce));
}

/** Adds signatures by the given ed25519 secret keys (seeds) over the transaction digest. */
export function signTx(tx: Transaction, secretKeys: readonly Uint8Array[]): Transaction {
  const d = declaredOf(tx);
  const digest = declaredDigest(d);
  const added: SignatureEntry[] = secretKeys.map((sk) => ({
    publicKey: keyPairFromSeed(sk).publicKey,
    signature: sign(sk, digest),
  }));
  return withSignatures(tx, [...signaturesOf(d.payload), ...added]);
}

/** The transaction with its payload replaced by exactly these signature entries. */
export function withSignatures(tx: Transaction, signatures: readonly SignatureEntry[]): Transaction {
  const d = declaredOf(tx);
  const payload = encode(TokenPayload, { signatures: [...signatures] });
  return { ...tx, extradata: encode(Declared, { ...d, payload }) };
}

type NoteSource = NoteStore | Iterable<Note>;

function* notesIn(source: NoteSource): IterableIterator<Note> {
  if ('notes' in source && typeof source.notes === 'function') {
    for (const [, n] of source.notes()) yield n;
  } else yield* source as Iterable<Note>;
}

/** The amount of `asset` of `token` held by `owner` (public key) in locally originated notes. */
export function balanceOf(source: NoteSource, token: Token, owner: Uint8Array, asset: Uint8Array): bigint {
  const oc = toHex(ownerCommitment(owner));
  return sum(source, token, asset, (n) => toHex(n.owner) === oc);
}

/** The total of `asset` of `token` in locally originated notes. */
export function supplyOf(source: NoteSource, token: Token, asset: Uint8Array): bigint {
  return sum(source, token, asset, () => true);
}

function sum(source: NoteSource, token: Token, asset: Uint8Array, pick: (n: Note) => boolean): bigint {
  const app = toHex(token.application);
  const a = toHex(asset);
  let total = 0n;
  for (const n of notesIn(source)) {
    if (n.provenance.length !== 0 || toHex(n.application) !== app || !pick(n)) continue;
    const v = tokenValueOf(n.value);
    if (v !== undefined && toHex(v.asset) === a) total += v.amount;
  }
  return total;
}
