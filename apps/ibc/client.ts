/**
 * The light client of a counterparty fractal instance (issue 18): a pure module, no I/O and no
 * clock (the host's time is an argument), used on chain by the IBC application's validity
 * predicate and off chain by the relay.
 *
 * It follows the Tendermint light client's skipping verification ("Light Client Verification",
 * tendermint spec/light-client/verification, [LCV-FUNC-VALID.2]) as ICS-07 (the Tendermint client of
 * IBC) applies it: every update names a consensus state the client already trusts, the header must
 * be signed by more than 2/3 of its own validator set, and, when that set differs from the trusted
 * one, by more than the trust level of the trusted set's power.
 *
 * Fractal headers carry no nextValidatorsHash: validator updates take effect two heights after they
 * are decided, and each header commits to its own set (`validatorsHash`). So a consensus state
 * records the header's own set, and the client follows set changes through it: a header with the
 * trusted set needs only its 2/3 (as adjacent verification does), any other needs the trust level.
 */
import { validatorsHash, voteSignBytes } from '../../engines/consensus/chain.ts';
import type { ValidatorSet } from '../../engines/consensus/validators.ts';
import { toHex } from '../../wire/commit.ts';
import {
  BlockHeader,
  blockHash,
  Certificate,
  Hash,
  MAX_VALIDATORS,
  PublicKey,
  VOTE_PRECOMMIT,
} from '../../wire/ledger.ts';
import { type Infer, s } from '../../wire/schema.ts';
import type { Verifier } from '../../wire/sign.ts';
import { bytesEqual } from '../../wire/types.ts';

/** Consensus states a client keeps: the most recent ones, so a client's size is bounded. */
export const MAX_CONSENSUS_STATES = 64;

/** A validator set as a header's relay carries it: in index order, i.e. ascending public key. */
export const ValidatorSetWire = s.list(s.struct({ publicKey: PublicKey, power: s.u64() }), {
  max: MAX_VALIDATORS,
});
export type ValidatorSetWire = Infer<typeof ValidatorSetWire>;

export const TrustLevel = s.struct({ numerator: s.u64(), denominator: s.u64() });
export type TrustLevel = Infer<typeof TrustLevel>;

const paramFields = {
  chainId: s.string({ max: 64 }),
  trustLevel: TrustLevel,
  trustingPeriodMs: s.u64(),
  unbondingPeriodMs: s.u64(),
  maxClockDriftMs: s.u64(),
};

/** What creating a client fixes for its life. */
export const ClientParams = s.struct(paramFields);
export type ClientParams = Infer<typeof ClientParams>;

export const ClientState = s.struct({
  ...paramFields,
  latestHeight: s.u64(),
  /** the height of the misbehaviour that froze the client; null while it is live */
  frozenAt: s.option(s.u64()),
});
export type ClientState = Infer<typeof ClientState>;

/** What the client keeps of a verified header: enough to verify proofs and later headers. */
export const ConsensusState = s.struct({
  height: s.u64(),
  time: s.u64(),
  /** the header's appRoot: the counterparty's state root after the previous height */
  root: Hash,
  validatorsHash: Hash,
  blockHash: Hash,
});
export type ConsensusState = Infer<typeof ConsensusState>;

/** An update: a header with its commit certificate, its set, and the trusted state it builds on. */
export const ClientHeader = s.struct({
  header: BlockHeader,
  certificate: Certificate,
  /** the header's validator set (hashes to header.validatorsHash) */
  validators: ValidatorSetWire,
  trustedHeight: s.u64(),
  /** the set of the consensus state at trustedHeight (hashes to its validatorsHash) */
  trustedValidators: ValidatorSetWire,
});
export type ClientHeader = Infer<typeof ClientHeader>;

/** Two headers that cannot both be on one honest chain. */
export const Misbehaviour = s.struct({ first: ClientHeader, second: ClientHeader });
export type Misbehaviour = Infer<typeof Misbehaviour>;

/** A client: its state and its consensus states, sorted by height, at most MAX_CONSENSUS_STATES. */
export const Client = s.struct({
  state: ClientState,
  consensus: s.list(ConsensusState, { max: MAX_CONSENSUS_STATES }),
});
export type Client = Infer<typeof Client>;

export type ValidatorSetProblem =
  | 'empty-validator-set'
  | 'too-many-validators'
  | 'unsorted-validators'
  | 'duplicate-validator'
  | 'zero-power'
  | 'power-too-large';

export type CreateRefusal =
  | 'bad-trust-level'
  | 'zero-trusting-period'
  | 'trusting-not-below-unbonding'
  | 'wrong-chain-id'
  | 'zero-height'
  | 'validators-mismatch'
  | ValidatorSetProblem;

/** Why a header was refused; the client is unchanged. */
export type HeaderRefusal =
  | 'frozen'
  | 'wrong-chain-id'
  | 'unknown-trusted-height'
  | 'trusted-validators-mismatch'
  | 'trust-expired'
  | 'from-the-future'
  | 'not-after-trusted-height'
  | 'not-after-trusted-time'
  | 'validators-mismatch'
  | 'certificate-mismatch'
  | 'unknown-signer'
  | 'duplicate-signer'
  | 'bad-signature'
  | 'insufficient-power'
  | 'insufficient-trust'
  | ValidatorSetProblem;

/** Why a verified header froze the client (ICS-07 checkForMisbehaviour on a header). */
export type FreezeReason = 'conflicting-header' | 'time-monotonicity';

export type UpdateResult =
  | {
      readonly ok: true;
      readonly client: Client;
      readonly consensus: ConsensusState;
      /** false when the client already had this very header (a redundant update changes nothing) */
      readonly added: boolean;
    }
  | { readonly ok: false; readonly reason: HeaderRefusal }
  /** a validly signed header contradicting what the client holds: persist `client`, now frozen */
  | { readonly ok: false; readonly reason: FreezeReason; readonly client: Client };

export type MisbehaviourRefusal = HeaderRefusal | 'not-misbehaviour';

export type MisbehaviourResult =
  | { readonly ok: true; readonly client: Client; readonly kind: FreezeReason }
  | { readonly ok: false; readonly reason: MisbehaviourRefusal };

export type LookupResult =
  | { readonly ok: true; readonly consensus: ConsensusState }
  | { readonly ok: false; readonly reason: 'frozen' | 'unknown-height' };

// --- validator sets ---------------------------------------------------------------------------

/** Ascending byte order of public keys: the consensus engine's order (by hex id). */
function compareKeys(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length && i < b.length; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

/** The consensus engine's total-power bound (makeValidatorSet): total * 8 stays a safe integer. */
const MAX_TOTAL_POWER = Math.floor(Number.MAX_SAFE_INTEGER / 8);

/**
 * The set a wire list describes, as the consensus engine builds it, so that `validatorsHash` of
 * chain.ts hashes it exactly as the counterparty's headers do. Refuses what the engine can never
 * produce: an empty set, duplicates, zero or oversized power, and any order but its own.
 */
export function validatorSetOf(
  wire: ValidatorSetWire,
): { ok: true; set: ValidatorSet } | { ok: false; reason: ValidatorSetProblem } {
  if (wire.length === 0) return { ok: false, reason: 'empty-validator-set' };
  if (wire.length > MAX_VALIDATORS) return { ok: false, reason: 'too-many-validators' };
  const validators: { id: string; publicKey: Uint8Array; power: number }[] = [];
  const index = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < wire.length; i++) {
    const v = wire[i]!;
    if (i > 0) {
      const order = compareKeys(wire[i - 1]!.publicKey, v.publicKey);
      if (order === 0) return { ok: false, reason: 'duplicate-validator' };
      if (order > 0) return { ok: false, reason: 'unsorted-validators' };
    }
    if (v.power === 0n) return { ok: false, reason: 'zero-power' };
    if (v.power > BigInt(MAX_TOTAL_POWER)) return { ok: false, reason: 'power-too-large' };
    const power = Number(v.power);
    total += power;
    if (total > MAX_TOTAL_POWER) return { ok: false, reason: 'power-too-large' };
    const id = toHex(v.publicKey);
    index.set(id, i);
    validators.push({ id, publicKey: v.publicKey, power });
  }
  return { ok: true, set: { validators, totalPower: total, index } };
}

/** The wire form of a consensus-engine set (the relay reads sets from the counterparty's store). */
export function validatorSetWire(set: ValidatorSet): ValidatorSetWire {
  return set.validators.map((v) => ({ publicKey: v.publicKey, power: BigInt(v.power) }));
}

// --- creation and lookup ----------------------------------------------------------------------

/**
 * A client trusting `initial` (by social consensus, as every light client's root of trust): its
 * header is not checked for signatures, only for agreeing with the parameters and its set.
 */
export function createClient(
  params: ClientParams,
  initial: { header: BlockHeader; validators: ValidatorSetWire },
): { ok: true; client: Client } | { ok: false; reason: CreateRefusal } {
  const { numerator, denominator } = params.trustLevel;
  // the trust level lies in [1/3, 1]: below 1/3 the signers might all be faulty ([TMBC-VAL-CONTAINS-CORR.1])
  if (denominator === 0n || numerator * 3n < denominator || numerator > denominator) {
    return { ok: false, reason: 'bad-trust-level' };
  }
  if (params.trustingPeriodMs === 0n) return { ok: false, reason: 'zero-trusting-period' };
  // a trusted set must stay bonded (slashable) for as long as it is trusted ([TMBC-TIME_PARAMS.1])
  if (params.trustingPeriodMs >= params.unbondingPeriodMs) {
    return { ok: false, reason: 'trusting-not-below-unbonding' };
  }
  const { header } = initial;
  if (header.chainId !== params.chainId) return { ok: false, reason: 'wrong-chain-id' };
  if (header.height === 0n) return { ok: false, reason: 'zero-height' };
  const set = validatorSetOf(initial.validators);
  if (!set.ok) return set;
  if (!bytesEqual(validatorsHash(set.set), header.validatorsHash)) {
    return { ok: false, reason: 'validators-mismatch' };
  }
  return {
    ok: true,
    client: {
      state: {
        chainId: params.chainId,
        trustLevel: { numerator, denominator },
        trustingPeriodMs: params.trustingPeriodMs,
        unbondingPeriodMs: params.unbondingPeriodMs,
        maxClockDriftMs: params.maxClockDriftMs,
        latestHeight: header.height,
        frozenAt: null,
      },
      consensus: [consensusStateOf(header)],
    },
  };
}

function consensusStateOf(header: BlockHeader, hash: Uint8Array = blockHash(header)): ConsensusState {
  return {
    height: header.height,
    time: header.time,
    root: header.appRoot,
    validatorsHash: header.validatorsHash,
    blockHash: hash,
  };
}

/** Index of the first consensus state at or above `height` (states are sorted by height). */
function lowerBound(states: readonly ConsensusState[], height: bigint): number {
  let lo = 0;
  let hi = states.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (states[mid]!.height < height) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function storedAt(client: Client, height: bigint): ConsensusState | undefined {
  const at = client.consensus[lowerBound(client.consensus, height)];
  return at !== undefined && at.height === height ? at : undefined;
}

/** The consensus state at `height`, which proofs at that height are checked against. */
export function consensusStateAt(client: Client, height: bigint): LookupResult {
  // ICS-07: a frozen client verifies nothing until governance replaces it
  if (client.state.frozenAt !== null) return { ok: false, reason: 'frozen' };
  const consensus = storedAt(client, height);
  return consensus === undefined ? { ok: false, reason: 'unknown-height' } : { ok: true, consensus };
}

// --- header verification ----------------------------------------------------------------------

type Checked =
  | { ok: true; consensus: ConsensusState }
  | { ok: false; reason: Exclude<HeaderRefusal, 'frozen'> };

/**
 * ValidAndVerified ([LCV-FUNC-VALID.2]) of `h` against the client's consensus state at
 * h.trustedHeight, as ICS-07's verifyHeader calls it. Every signature is checked once; its signer
 * counts towards both the header's own set and, by public key, the trusted set.
 */
function checkHeader(client: Client, h: ClientHeader, now: bigint, verify: Verifier): Checked {
  const state = client.state;
  const header = h.header;
  if (header.chainId !== state.chainId) return { ok: false, reason: 'wrong-chain-id' };

  const trusted = storedAt(client, h.trustedHeight);
  if (trusted === undefined) return { ok: false, reason: 'unknown-trusted-height' };
  const trustedSet = validatorSetOf(h.trustedValidators);
  if (!trustedSet.ok) return trustedSet;
  // ICS-07: the trusted validator set must hash to the trusted consensus state's
  if (!bytesEqual(validatorsHash(trustedSet.set), trusted.validatorsHash)) {
    return { ok: false, reason: 'trusted-validators-mismatch' };
  }
  // [LCV-INV-TP.1]: the trusted header is usable only while trusted.time > now - trustingPeriod
  if (now >= trusted.time + state.trustingPeriodMs) return { ok: false, reason: 'trust-expired' };
  // [LCV-FUNC-VALID.2] well-formedness: untrusted.Header.Time < now + clockDrift, inclusive as the
  // Go light client checks it (a header stamped ahead would stretch the trusting period that later
  // updates measure from its time)
  if (header.time > now + state.maxClockDriftMs) return { ok: false, reason: 'from-the-future' };
  // [LCV-FUNC-VALID.2]: Height and Time of trusted are smaller than those of untrusted
  if (header.height <= trusted.height) return { ok: false, reason: 'not-after-trusted-height' };
  if (header.time <= trusted.time) return { ok: false, reason: 'not-after-trusted-time' };

  const ownSet = validatorSetOf(h.validators);
  if (!ownSet.ok) return ownSet;
  const ownHash = validatorsHash(ownSet.set);
  // well-formedness: untrusted.Validators = hash(untrusted.Header.Validators)
  if (!bytesEqual(ownHash, header.validatorsHash)) return { ok: false, reason: 'validators-mismatch' };

  const cert = h.certificate;
  const hash = blockHash(header);
  if (cert.height !== header.height || !bytesEqual(cert.blockHash, hash)) {
    return { ok: false, reason: 'certificate-mismatch' };
  }
  // every precommit of one certificate signs the same bytes: encode them once
  const signBytes = voteSignBytes(state.chainId, {
    type: VOTE_PRECOMMIT,
    height: header.height,
    round: cert.round,
    blockHash: hash,
  });
  const sameSet = bytesEqual(ownHash, trusted.validatorsHash);
  const own = ownSet.set.validators;
  const seen = new Uint8Array(own.length);
  let signedPower = 0n;
  let trustedSignedPower = 0n;
  for (const sig of cert.signatures) {
    const validator = own[sig.validator];
    if (validator === undefined) return { ok: false, reason: 'unknown-signer' };
    if (seen[sig.validator] === 1) return { ok: false, reason: 'duplicate-signer' };
    seen[sig.validator] = 1;
    if (!verify(validator.publicKey, signBytes, sig.signature)) return { ok: false, reason: 'bad-signature' };
    signedPower += BigInt(validator.power);
    if (!sameSet) {
      // distinct signers of the header's set are distinct keys, so none counts twice here either
      const at = trustedSet.set.index.get(validator.id);
      if (at !== undefined) trustedSignedPower += BigInt(trustedSet.set.validators[at]!.power);
    }
  }
  // [TMBC-VAL-COMMIT.1]: more than two thirds of the header's own set signed it
  if (signedPower * 3n <= BigInt(ownSet.set.totalPower) * 2n) {
    return { ok: false, reason: 'insufficient-power' };
  }
  // [TMBC-VAL-CONTAINS-CORR.1], skipping verification: when the set changed, signers holding more
  // than trustLevel of the trusted set's power vouch for it (at least one of them is correct); with
  // the trusted set itself the 2/3 above already is sequential verification's rule
  if (!sameSet) {
    const { numerator, denominator } = state.trustLevel;
    if (trustedSignedPower * denominator <= BigInt(trustedSet.set.totalPower) * numerator) {
      return { ok: false, reason: 'insufficient-trust' };
    }
  }
  return { ok: true, consensus: consensusStateOf(header, hash) };
}

function frozenAt(client: Client, height: bigint): Client {
  return { state: { ...client.state, frozenAt: height }, consensus: client.consensus };
}

/**
 * Verifies an update and, if it holds, records its consensus state (the oldest beyond
 * MAX_CONSENSUS_STATES is dropped) and raises latestHeight. A verified header that conflicts with
 * a stored state at its height, or breaks time monotonicity against its stored neighbours, is
 * misbehaviour (ICS-07 checkForMisbehaviour): the result carries the frozen client to persist.
 */
export function verifyHeader(client: Client, h: ClientHeader, now: bigint, verify: Verifier): UpdateResult {
  // ICS-07: a frozen client accepts no update until governance replaces it
  if (client.state.frozenAt !== null) return { ok: false, reason: 'frozen' };
  // a header the client already holds changes nothing (ICS-07 updateState is a no-op for it): a
  // redundant relay costs a hash, not its signatures
  const known = storedAt(client, h.header.height);
  if (
    known !== undefined &&
    h.header.chainId === client.state.chainId &&
    bytesEqual(known.blockHash, blockHash(h.header))
  ) {
    return { ok: true, client, consensus: known, added: false };
  }
  const checked = checkHeader(client, h, now, verify);
  if (!checked.ok) return checked;
  const consensus = checked.consensus;
  const height = consensus.height;
  const at = lowerBound(client.consensus, height);
  const existing = client.consensus[at];
  if (existing !== undefined && existing.height === height) {
    // ICS-07: a stored consensus state conflicting with a verified header at its height is a fork
    // (an identical header took the early return above)
    return { ok: false, reason: 'conflicting-header', client: frozenAt(client, height) };
  }
  // ICS-07: time must increase with height across the stored neighbours (BFT time is monotonic)
  const previous = client.consensus[at - 1];
  if (
    (previous !== undefined && previous.time >= consensus.time) ||
    (existing !== undefined && existing.time <= consensus.time)
  ) {
    return { ok: false, reason: 'time-monotonicity', client: frozenAt(client, height) };
  }
  // at >= 1: the trusted state lies below the header, so the one dropped is never the new one
  const states = [...client.consensus.slice(0, at), consensus, ...client.consensus.slice(at)];
  const kept =
    states.length > MAX_CONSENSUS_STATES ? states.slice(states.length - MAX_CONSENSUS_STATES) : states;
  // a header filling in below the latest leaves latestHeight where it is
  const raised = height > client.state.latestHeight;
  return {
    ok: true,
    client: { state: raised ? { ...client.state, latestHeight: height } : client.state, consensus: kept },
    consensus,
    added: true,
  };
}

/**
 * Evidence of misbehaviour freezes the client (ICS-07 verifyClientMessage + checkForMisbehaviour
 * on a Misbehaviour): both headers verify as updates would, from consensus states the client
 * holds, and either they are two different blocks at one height, or the higher one is not later.
 * A frozen client is frozen at the height of the fork, or of the header that broke time.
 */
export function submitMisbehaviour(
  client: Client,
  m: Misbehaviour,
  now: bigint,
  verify: Verifier,
): MisbehaviourResult {
  if (client.state.frozenAt !== null) return { ok: false, reason: 'frozen' };
  const a = m.first.header;
  const b = m.second.header;
  let kind: FreezeReason;
  let height: bigint;
  if (a.height === b.height) {
    // cheap before the signatures: identical headers are no fork
    if (bytesEqual(blockHash(a), blockHash(b))) return { ok: false, reason: 'not-misbehaviour' };
    kind = 'conflicting-header';
    height = a.height;
  } else {
    const [higher, lower] = a.height > b.height ? [a, b] : [b, a];
    if (higher.time > lower.time) return { ok: false, reason: 'not-misbehaviour' };
    kind = 'time-monotonicity';
    height = higher.height;
  }
  for (const h of [m.first, m.second]) {
    const checked = checkHeader(client, h, now, verify);
    if (!checked.ok) return checked;
  }
  return { ok: true, client: frozenAt(client, height), kind };
}
