/**
 * Test fixtures for the light client: a fake counterparty instance whose validators hold real
 * ed25519 keys. It produces chained headers with commit certificates, changes its validator set
 * two heights after deciding it (as the consensus engine does), and can equivocate: sign a second,
 * different header for a height, or any header the test builds.
 *
 * Validators are named by a number (their key's index in a pool shared by every instance of one
 * seed); a certificate's signers are given by those numbers, whatever index order the set has.
 */
import {
  certificateHash,
  evidenceHash,
  txsHash,
  validatorsHash,
  voteSignBytes,
} from '../../engines/consensus/chain.ts';
import { sha256, toHex } from '../../wire/commit.ts';
import { type BlockHeader, blockHash, type Certificate, VOTE_PRECOMMIT } from '../../wire/ledger.ts';
import { createSigner, keyPairFromSeed, type Signer } from '../../wire/sign.ts';
import { type ClientHeader, type ClientParams, type ValidatorSetWire, validatorSetOf } from './client.ts';

export const GENESIS_TIME = 1_700_000_000_000n;
export const BLOCK_INTERVAL_MS = 1_000n;
export const DAY_MS = 86_400_000n;

const encoder = new TextEncoder();
const signers = new Map<string, Signer>();

/** Validator `n`'s signer under `seed`: the same key wherever it is asked for. */
export function validatorSigner(seed: string, n: number): Signer {
  const label = `${seed}/${n}`;
  let signer = signers.get(label);
  if (signer === undefined) {
    signer = createSigner(keyPairFromSeed(sha256(encoder.encode(`fractal/ibc-test/${label}`))).secretKey);
    signers.set(label, signer);
  }
  return signer;
}

/** Validator number -> power; a power of 0 (in a change) removes the validator. */
export type Powers = ReadonlyMap<number, bigint>;

/** Light-client parameters for tests: trust level 1/3, two weeks' trust, three weeks' unbonding. */
export function testParams(chainId: string, overrides: Partial<ClientParams> = {}): ClientParams {
  return {
    chainId,
    trustLevel: { numerator: 1n, denominator: 3n },
    trustingPeriodMs: 14n * DAY_MS,
    unbondingPeriodMs: 21n * DAY_MS,
    maxClockDriftMs: 10_000n,
    ...overrides,
  };
}

export interface SignedHeader {
  readonly header: BlockHeader;
  readonly certificate: Certificate;
}

export interface FakeInstanceOptions {
  readonly chainId?: string;
  /** validator number -> power at genesis (validators 0..n-1 with power 1 each if a count) */
  readonly validators?: number | readonly (readonly [number, bigint])[];
  /** which key pool the validators come from */
  readonly seed?: string;
  readonly genesisTime?: bigint;
}

/** What a produced or forged header may override. */
export interface HeaderOptions {
  /** the header's time (default: one block interval after the previous header) */
  readonly time?: bigint;
  /** the validator numbers that sign (default: the whole set) */
  readonly signers?: readonly number[];
  readonly round?: number;
  /** the app root (default: a value derived from the height; forks differ here) */
  readonly appRoot?: Uint8Array;
}

export class FakeInstance {
  readonly chainId: string;
  readonly seed: string;
  private readonly genesisTime: bigint;
  /** index h - 1: the signed header of height h */
  private readonly chain: SignedHeader[] = [];
  /** index h - 1: the validator powers in force at height h */
  private readonly powersAt: Powers[] = [];
  /** height -> the powers in force from it on, decided two heights before */
  private readonly scheduled = new Map<bigint, Powers>();

  constructor(options: FakeInstanceOptions = {}) {
    this.chainId = options.chainId ?? 'fractal-b';
    this.seed = options.seed ?? this.chainId;
    this.genesisTime = options.genesisTime ?? GENESIS_TIME;
    const spec = options.validators ?? 4;
    const entries =
      typeof spec === 'number'
        ? Array.from({ length: spec }, (_, i) => [i, 1n] as const)
        : spec.map(([n, p]) => [n, p] as const);
    this.scheduled.set(1n, new Map(entries));
  }

  /** The latest height produced (0 before the first). */
  get height(): bigint {
    return BigInt(this.chain.length);
  }

  signer(n: number): Signer {
    return validatorSigner(this.seed, n);
  }

  /** The set in force at `height` (produced, or the next one), in index order. */
  validatorsAt(height: bigint): ValidatorSetWire {
    return this.wireOf(this.powersFor(height));
  }

  /** The powers in force at `height` by validator number. */
  powersFor(height: bigint): Powers {
    const known = this.powersAt[Number(height) - 1];
    if (known !== undefined) return known;
    if (height !== this.height + 1n) throw new Error(`no validator set for height ${height} yet`);
    return this.scheduled.get(height) ?? this.powersAt[this.powersAt.length - 1]!;
  }

  /**
   * Validator updates decided by the block at the latest height: in force two heights later, as
   * the consensus engine applies them. A power of 0 removes a validator.
   */
  decide(changes: readonly (readonly [number, bigint])[]): void {
    const from = this.height + 2n;
    const base = new Map(this.scheduled.get(from) ?? this.latestScheduled(from));
    for (const [n, power] of changes) {
      if (power === 0n) base.delete(n);
      else base.set(n, power);
    }
    if (base.size === 0) throw new Error('a change may not empty the validator set');
    this.scheduled.set(from, base);
  }

  /** Produces the next height's signed header. */
  produce(options: HeaderOptions = {}): SignedHeader {
    const height = this.height + 1n;
    const powers = this.powersFor(height);
    const previous = this.chain[this.chain.length - 1];
    const header = this.headerAt(height, powers, previous, options);
    const signed = { header, certificate: this.certify(header, powers, options) };
    this.chain.push(signed);
    this.powersAt.push(powers);
    return signed;
  }

  /** Produces `count` headers; returns the last. */
  advance(count: number, options: Omit<HeaderOptions, 'time'> = {}): SignedHeader {
    let last: SignedHeader | undefined;
    for (let i = 0; i < count; i++) last = this.produce(options);
    if (last === undefined) throw new Error('advance needs a positive count');
    return last;
  }

  /** The header of a produced height. */
  signed(height: bigint): SignedHeader {
    const at = this.chain[Number(height) - 1];
    if (at === undefined) throw new Error(`height ${height} not produced`);
    return at;
  }

  /** What createClient takes to trust `height`. */
  trustedAt(height: bigint): { header: BlockHeader; validators: ValidatorSetWire } {
    return { header: this.signed(height).header, validators: this.validatorsAt(height) };
  }

  /** The update carrying `height` (or the given signed header) on top of `trustedHeight`. */
  update(height: bigint | SignedHeader, trustedHeight: bigint): ClientHeader {
    const signed = typeof height === 'bigint' ? this.signed(height) : height;
    return {
      header: signed.header,
      certificate: signed.certificate,
      validators: this.validatorsAt(signed.header.height),
      trustedHeight,
      trustedValidators: this.validatorsAt(trustedHeight),
    };
  }

  /**
   * A second header for a produced height, signed by the same set (or `options.signers` of it):
   * what a set equivocating on a fork hands a light client. It differs in its app root.
   */
  equivocate(height: bigint, options: HeaderOptions = {}): SignedHeader {
    const powers = this.powersFor(height);
    const previous = this.chain[Number(height) - 2];
    const appRoot = options.appRoot ?? sha256(encoder.encode(`${this.chainId}/fork/${height}`));
    const header = this.headerAt(height, powers, previous, { ...options, appRoot });
    return { header, certificate: this.certify(header, powers, options) };
  }

  /** A certificate for any header, by the given validator numbers of the set at its height. */
  certify(
    header: BlockHeader,
    powers: Powers = this.powersFor(header.height),
    options: Pick<HeaderOptions, 'signers' | 'round'> = {},
  ): Certificate {
    const wire = this.wireOf(powers);
    const round = options.round ?? 0;
    const hash = blockHash(header);
    const bytes = voteSignBytes(this.chainId, {
      type: VOTE_PRECOMMIT,
      height: header.height,
      round,
      blockHash: hash,
    });
    const numbers = options.signers ?? [...powers.keys()];
    const signatures = numbers.map((n) => {
      const signer = this.signer(n);
      const validator = wire.findIndex((v) => toHex(v.publicKey) === toHex(signer.publicKey));
      if (validator < 0) throw new Error(`validator ${n} is not in the set at height ${header.height}`);
      return { validator, signature: signer.sign(bytes) };
    });
    signatures.sort((a, b) => a.validator - b.validator);
    return { height: header.height, round, blockHash: hash, signatures };
  }

  private latestScheduled(from: bigint): Powers {
    let best: [bigint, Powers] | undefined;
    for (const entry of this.scheduled)
      if (entry[0] < from && (best === undefined || entry[0] > best[0])) best = entry;
    return best?.[1] ?? this.powersAt[this.powersAt.length - 1]!;
  }

  private headerAt(
    height: bigint,
    powers: Powers,
    previous: SignedHeader | undefined,
    options: HeaderOptions,
  ): BlockHeader {
    const wire = this.wireOf(powers);
    const set = validatorSetOf(wire);
    if (!set.ok) throw new Error(`bad fake validator set: ${set.reason}`);
    return {
      chainId: this.chainId,
      height,
      time:
        options.time ??
        (previous === undefined ? this.genesisTime : previous.header.time + BLOCK_INTERVAL_MS),
      proposer: wire[0]!.publicKey,
      lastBlockHash: previous === undefined ? new Uint8Array(32) : blockHash(previous.header),
      txsHash: txsHash([]),
      appRoot: options.appRoot ?? sha256(encoder.encode(`${this.chainId}/root/${height - 1n}`)),
      lastCommitHash: certificateHash(previous?.certificate ?? null),
      evidenceHash: evidenceHash([]),
      validatorsHash: validatorsHash(set.set),
    };
  }

  private wireOf(powers: Powers): ValidatorSetWire {
    const members = [...powers].map(([n, power]) => ({ publicKey: this.signer(n).publicKey, power }));
    return members.sort((a, b) => (toHex(a.publicKey) < toHex(b.publicKey) ? -1 : 1));
  }
}
