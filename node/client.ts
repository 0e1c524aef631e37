/**
 * What a client does to use a node: build a token mint or transfer, wrap it in a signed envelope
 * (plain, or threshold-encrypted under the epoch key the node reports), and read notes back from
 * their RPC form. Used by `fractal tx`, `fractal query` and the devnet workload.
 */
import { randomBytes } from 'node:crypto';
import {
  type AssetRef,
  SignedSwapIntent,
  MAX_INPUTS as SWAP_MAX_INPUTS,
  signIntent,
} from '../apps/swap/format.ts';
import { swapNote } from '../apps/swap/settlement.ts';
import { declaredTx, tokenNote } from '../apps/token/client.ts';
import { defineToken, mintTx, signTx, type Token, transferTx } from '../apps/token/index.ts';
import { Ciphertext, encrypt } from '../crypto/tdh2.ts';
import { Note, Transaction } from '../engines/executor/notes.ts';
import { fromHex, sha256, toHex } from '../wire/commit.ts';
import { type Envelope, envelopeSigningBytes, labelBytes, SignedEnvelope } from '../wire/envelope.ts';
import { decode, encode } from '../wire/schema.ts';
import { keyPairFromSeed, sign } from '../wire/sign.ts';

/** The asset the devnet's token mints (any 32 bytes name an asset). */
export const DEMO_ASSET = sha256(new TextEncoder().encode('fractal-demo-asset'));

/** How far ahead of the current height a client lets its envelope be included. */
export const EXPIRY_HEIGHTS = 1_000n;

export interface EpochKeyJson {
  epoch: string;
  publicKey: string;
}

export interface NoteJson {
  key: string;
  asset: string;
  amount: string;
  /** the note's canonical encoding (what a transfer consumes) */
  note: string;
}

/** What answers JSON-RPC calls (an `RpcClient`). */
export interface RpcCaller {
  call<R = unknown>(method: string, params?: unknown): Promise<R>;
}

/**
 * The notes of `owner` (hex public key) page by page (a `notes` call returns one page, a shorter
 * one is the last), until there are no more or `enough` holds for what was read.
 */
export async function notesOf(
  rpc: RpcCaller,
  owner: string,
  enough: (notes: readonly NoteJson[]) => boolean = () => false,
  pageSize = 1_000,
): Promise<NoteJson[]> {
  const all: NoteJson[] = [];
  for (let after: string | undefined; ; ) {
    const page = await rpc.call<NoteJson[]>('notes', {
      owner,
      limit: pageSize,
      ...(after === undefined ? {} : { after }),
    });
    all.push(...page);
    if (page.length < pageSize || enough(all)) return all;
    after = page.at(-1)!.key;
  }
}

export interface EnvelopeOptions {
  instance: string;
  /** the payer's ed25519 seed */
  payerKey: Uint8Array;
  fee: bigint;
  nonce?: bigint;
  /** the current committed height; the envelope expires EXPIRY_HEIGHTS later */
  height: bigint;
  /** encrypt under this epoch key (else the transaction travels in the clear) */
  epochKey?: EpochKeyJson;
}

export function tokenOf(mintAuthority: Uint8Array): Token {
  return defineToken(mintAuthority);
}

/** A fresh random u64 nonce (unique per payer with overwhelming probability). */
export function randomNonce(): bigint {
  return randomBytes(8).readBigUInt64BE(0);
}

/** Wraps an executor transaction in a signed envelope; returns its bytes and hash. */
export function envelopeFor(tx: Transaction, o: EnvelopeOptions): { bytes: Uint8Array; hash: string } {
  const payer = keyPairFromSeed(o.payerKey).publicKey;
  const plaintext = encode(Transaction, tx);
  const base = {
    instance: o.instance,
    payer,
    fee: o.fee,
    nonce: o.nonce ?? randomNonce(),
    expiry: o.height + EXPIRY_HEIGHTS,
  };
  let envelope: Envelope;
  if (o.epochKey === undefined) envelope = { ...base, body: { tag: 'plain', value: plaintext } };
  else {
    const key = { epoch: BigInt(o.epochKey.epoch), publicKey: fromHex(o.epochKey.publicKey) };
    const label = labelBytes({ instance: o.instance, epoch: key.epoch, payer });
    const ct = encrypt(key, plaintext, label, randomBytes(64));
    envelope = {
      ...base,
      body: { tag: 'encrypted', value: { epoch: key.epoch, ciphertext: encode(Ciphertext, ct) } },
    };
  }
  const bytes = encode(SignedEnvelope, {
    envelope,
    signature: sign(o.payerKey, envelopeSigningBytes(envelope)),
  });
  return { bytes, hash: toHex(sha256(bytes)) };
}

/** A mint of `amounts` to `owner`, one note each, signed by the mint authority. */
export function buildMint(
  token: Token,
  authorityKey: Uint8Array,
  owner: Uint8Array,
  amounts: readonly bigint[],
  nonce: bigint = randomNonce(),
  asset: Uint8Array = DEMO_ASSET,
): Transaction {
  const n = new Uint8Array(8);
  new DataView(n.buffer).setBigUint64(0, nonce);
  return signTx(
    mintTx(
      token,
      amounts.map((amount) => ({ owner, asset, amount })),
      n,
    ),
    [authorityKey],
  );
}

/** A transfer of `amount` from the owner of `input` to `to`, with the change back to the owner. */
export function buildTransfer(
  token: Token,
  ownerKey: Uint8Array,
  input: NoteJson,
  to: Uint8Array,
  amount: bigint,
): Transaction {
  const have = BigInt(input.amount);
  if (amount <= 0n || amount > have) throw new Error(`cannot send ${amount} from a note of ${have}`);
  const owner = keyPairFromSeed(ownerKey).publicKey;
  const outputs = [{ owner: to, asset: fromHex(input.asset), amount }];
  if (have > amount) outputs.push({ owner, asset: fromHex(input.asset), amount: have - amount });
  return signTx(transferTx(token, [decode(Note, fromHex(input.note))], outputs), [ownerKey]);
}

// --- swaps (apps/swap): the swap account, intents -------------------------------------------------

/** An asset of the genesis token, as swap intents name it. */
export function tokenAsset(token: Token, asset: Uint8Array): AssetRef {
  return { provenance: [], application: token.application, asset };
}

/**
 * A mint of `amounts` of `asset` straight into `owner`'s swap account (notes its swap intents can
 * offer), signed by the mint authority.
 */
export function buildSwapMint(
  token: Token,
  authorityKey: Uint8Array,
  owner: Uint8Array,
  asset: Uint8Array,
  amounts: readonly bigint[],
): Transaction {
  const outputs = amounts.map((amount) => swapNote(owner, tokenAsset(token, asset), amount, randomBytes(32)));
  return signTx(declaredTx([], outputs), [authorityKey]);
}

/**
 * Moves `amount` of a token note's asset from the owner's token account to its swap account, the
 * change staying in the token account. The swap account's notes move only by settlements of the
 * owner's swap intents (apps/swap's swap-owner predicate).
 */
export function buildToSwapAccount(
  token: Token,
  ownerKey: Uint8Array,
  input: NoteJson,
  amount: bigint,
): Transaction {
  const have = BigInt(input.amount);
  if (amount <= 0n || amount > have) throw new Error(`cannot move ${amount} from a note of ${have}`);
  const owner = keyPairFromSeed(ownerKey).publicKey;
  const asset = fromHex(input.asset);
  const outputs = [swapNote(owner, tokenAsset(token, asset), amount, randomBytes(32))];
  if (have > amount)
    outputs.push(tokenNote(token, { owner, asset, amount: have - amount, key: randomBytes(32) }));
  return signTx(declaredTx([decode(Note, fromHex(input.note))], outputs), [ownerKey]);
}

export interface SwapRequest {
  /** the owner's ed25519 seed: it signs the intent */
  ownerKey: Uint8Array;
  give: { asset: Uint8Array; amount: bigint };
  want: { asset: Uint8Array; amount: bigint };
  partial: boolean;
  /** the last height it may settle at */
  expires: bigint;
  /** the owner's swap-account notes (`notes` with account "swap"): those of the given asset are offered */
  notes: readonly NoteJson[];
  /** the routing reward: at most this much of the wanted asset to the route that carries it (rewards.ts) */
  routeFee?: bigint;
  /** the key of the node the intent is submitted to (the route starts there): needed with a route fee */
  entry?: Uint8Array;
}

/**
 * A signed swap intent offering the fewest of the owner's swap notes of the given asset (largest
 * first) that hold `give.amount`; its wire bytes go to `submitIntent`.
 */
export function buildSwapIntent(token: Token, r: SwapRequest): SignedSwapIntent {
  const want = toHex(r.give.asset);
  const candidates = r.notes
    .filter((n) => n.asset === want)
    .sort((a, b) => (BigInt(b.amount) > BigInt(a.amount) ? 1 : BigInt(b.amount) < BigInt(a.amount) ? -1 : 0));
  const inputs: Uint8Array[] = [];
  let held = 0n;
  for (const n of candidates) {
    if (held >= r.give.amount || inputs.length >= SWAP_MAX_INPUTS) break;
    inputs.push(decode(Note, fromHex(n.note)).key);
    held += BigInt(n.amount);
  }
  if (held < r.give.amount)
    throw new Error(
      `the swap account holds ${held} of the asset in its ${SWAP_MAX_INPUTS} largest notes, less than ${r.give.amount} (move more with \`fractal intent fund\`)`,
    );
  return signIntent(
    {
      owner: keyPairFromSeed(r.ownerKey).publicKey,
      give: { of: tokenAsset(token, r.give.asset), amount: r.give.amount },
      want: { of: tokenAsset(token, r.want.asset), amount: r.want.amount },
      partial: r.partial,
      expires: r.expires,
      inputs,
      nonce: randomBytes(32),
      routeFee: r.routeFee ?? 0n,
      entry: routeEntry(r),
    },
    r.ownerKey,
  );
}

function routeEntry(r: SwapRequest): Uint8Array {
  if (r.routeFee === undefined || r.routeFee === 0n) return new Uint8Array(0);
  if (r.entry === undefined)
    throw new Error('a route fee needs the entry node: the key of the node it is submitted to');
  return r.entry;
}

/** A signed swap intent's wire bytes. */
export const swapIntentBytes = (intent: SignedSwapIntent): Uint8Array => encode(SignedSwapIntent, intent);
