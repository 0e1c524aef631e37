import { describe, expect, it } from 'vitest';
import { validatorsHash } from '../../engines/consensus/chain.ts';
import { makeValidatorSet } from '../../engines/consensus/validators.ts';
import { toHex } from '../../wire/commit.ts';
import { blockHash } from '../../wire/ledger.ts';
import { decode, encode } from '../../wire/schema.ts';
import { verify } from '../../wire/sign.ts';
import {
  Client,
  type ClientHeader,
  type ClientParams,
  consensusStateAt,
  createClient,
  MAX_CONSENSUS_STATES,
  type Misbehaviour,
  submitMisbehaviour,
  type UpdateResult,
  validatorSetOf,
  validatorSetWire,
  verifyHeader,
} from './client.ts';
import { BLOCK_INTERVAL_MS, FakeInstance, testParams } from './testing.ts';

const CHAIN = 'fractal-b';

function start(instance: FakeInstance, params: ClientParams = testParams(instance.chainId)): Client {
  if (instance.height === 0n) instance.produce();
  const created = createClient(params, instance.trustedAt(1n));
  if (!created.ok) throw new Error(`createClient: ${created.reason}`);
  return created.client;
}

/** A moment shortly after `h`'s header was made: well inside every period. */
const soonAfter = (h: ClientHeader) => h.header.time + 1_000n;

function update(client: Client, h: ClientHeader, now = soonAfter(h)): UpdateResult {
  return verifyHeader(client, h, now, verify);
}

function accepted(client: Client, h: ClientHeader, now = soonAfter(h)): Client {
  const r = update(client, h, now);
  if (!r.ok) throw new Error(`refused: ${r.reason}`);
  return r.client;
}

const reason = (r: UpdateResult) => (r.ok ? 'accepted' : r.reason);

describe('light client: creation', () => {
  it('creates a client trusting the initial header, and refuses bad parameters and sets', () => {
    const b = new FakeInstance({ chainId: CHAIN });
    b.produce();
    const initial = b.trustedAt(1n);
    const ok = createClient(testParams(CHAIN), initial);
    expect(ok.ok).toBe(true);
    if (ok.ok) {
      expect(ok.client.state.latestHeight).toBe(1n);
      expect(ok.client.state.frozenAt).toBeNull();
      expect(consensusStateAt(ok.client, 1n)).toEqual({
        ok: true,
        consensus: {
          height: 1n,
          time: initial.header.time,
          root: initial.header.appRoot,
          validatorsHash: initial.header.validatorsHash,
          blockHash: blockHash(initial.header),
        },
      });
    }
    const refusal = (params: ClientParams, init = initial) => {
      const r = createClient(params, init);
      return r.ok ? 'created' : r.reason;
    };
    const level = (numerator: bigint, denominator: bigint) =>
      testParams(CHAIN, { trustLevel: { numerator, denominator } });
    expect(refusal(level(1n, 3n))).toBe('created');
    expect(refusal(level(1n, 1n))).toBe('created');
    expect(refusal(level(33n, 100n))).toBe('bad-trust-level');
    expect(refusal(level(4n, 3n))).toBe('bad-trust-level');
    expect(refusal(level(0n, 0n))).toBe('bad-trust-level');
    expect(refusal(testParams(CHAIN, { trustingPeriodMs: 21n, unbondingPeriodMs: 21n }))).toBe(
      'trusting-not-below-unbonding',
    );
    expect(refusal(testParams(CHAIN, { trustingPeriodMs: 0n }))).toBe('zero-trusting-period');
    expect(refusal(testParams('fractal-c'))).toBe('wrong-chain-id');
    const [v0, v1] = initial.validators;
    expect(refusal(testParams(CHAIN), { ...initial, validators: [v0!] })).toBe('validators-mismatch');
    expect(refusal(testParams(CHAIN), { ...initial, validators: [] })).toBe('empty-validator-set');
    expect(refusal(testParams(CHAIN), { ...initial, validators: [v1!, v0!] })).toBe('unsorted-validators');
    expect(refusal(testParams(CHAIN), { ...initial, validators: [v0!, v0!] })).toBe('duplicate-validator');
    expect(refusal(testParams(CHAIN), { ...initial, validators: [{ ...v0!, power: 0n }] })).toBe(
      'zero-power',
    );
  });

  it('hashes a relayed set exactly as the consensus engine hashes its own', () => {
    const b = new FakeInstance({
      validators: [...Array(7).keys()].map((n) => [n, BigInt(n * 13 + 1)] as const),
    });
    const engineSet = makeValidatorSet(
      b
        .validatorsAt(1n)
        .map((v) => ({ id: toHex(v.publicKey), publicKey: v.publicKey, power: Number(v.power) })),
    );
    const wire = validatorSetWire(engineSet);
    const ours = validatorSetOf(wire);
    expect(ours.ok).toBe(true);
    if (ours.ok) expect(toHex(validatorsHash(ours.set))).toBe(toHex(validatorsHash(engineSet)));
    b.produce();
    expect(toHex(b.signed(1n).header.validatorsHash)).toBe(toHex(validatorsHash(engineSet)));
  });

  it('a client survives its wire encoding (the IBC application persists it)', () => {
    const b = new FakeInstance();
    let client = start(b);
    b.advance(3);
    client = accepted(client, b.update(3n, 1n));
    expect(decode(Client, encode(Client, client))).toEqual(client);
  });
});

describe('light client: updates', () => {
  it('follows headers one by one, recording each root and raising latestHeight', () => {
    const b = new FakeInstance();
    let client = start(b);
    for (let h = 2n; h <= 10n; h++) {
      b.produce();
      const r = update(client, b.update(h, h - 1n));
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.added).toBe(true);
      client = r.client;
    }
    expect(client.state.latestHeight).toBe(10n);
    expect(client.consensus.map((c) => c.height)).toEqual([...Array(10).keys()].map((i) => BigInt(i + 1)));
    const at5 = consensusStateAt(client, 5n);
    expect(at5.ok && toHex(at5.consensus.root)).toBe(toHex(b.signed(5n).header.appRoot));
    expect(consensusStateAt(client, 11n)).toEqual({ ok: false, reason: 'unknown-height' });
  });

  it('skips heights with the trusted set, and fills in a lower height later', () => {
    const b = new FakeInstance();
    let client = start(b);
    b.advance(20);
    client = accepted(client, b.update(20n, 1n));
    expect(client.state.latestHeight).toBe(20n);
    client = accepted(client, b.update(9n, 1n));
    expect(client.state.latestHeight).toBe(20n);
    expect(client.consensus.map((c) => c.height)).toEqual([1n, 9n, 20n]);
    // the same header again changes nothing, and costs no signature checks (however it is signed)
    const again = update(client, b.update(9n, 1n));
    expect(again.ok && again.added).toBe(false);
    expect(again.ok && again.client).toBe(client);
    let checks = 0;
    const counting = (pk: Uint8Array, msg: Uint8Array, sig: Uint8Array) => {
      checks++;
      return verify(pk, msg, sig);
    };
    const redundant = b.update(9n, 1n);
    const unsigned = { ...redundant, certificate: { ...redundant.certificate, signatures: [] } };
    const cheap = verifyHeader(client, unsigned, soonAfter(redundant), counting);
    expect(cheap.ok && cheap.added).toBe(false);
    expect(checks).toBe(0);
  });

  it('skips over a validator-set change signed by more than 1/3 of the trusted power', () => {
    const b = new FakeInstance({ validators: 4 });
    let client = start(b);
    // 0 and 1 leave, 4, 5 and 6 join: of the trusted set, 2 and 3 (half its power) still sign
    b.decide([
      [0, 0n],
      [1, 0n],
      [4, 1n],
      [5, 1n],
      [6, 1n],
    ]);
    b.advance(5);
    expect(b.validatorsAt(3n)).toHaveLength(5);
    expect(toHex(b.signed(3n).header.validatorsHash)).not.toBe(toHex(b.signed(2n).header.validatorsHash));
    client = accepted(client, b.update(6n, 1n));
    expect(client.state.latestHeight).toBe(6n);
    // and the client now trusts the new set: it verifies the next header from height 6
    b.produce();
    expect(reason(update(client, b.update(7n, 6n)))).toBe('accepted');
  });

  it('refuses a skip where the trusted set signed no more than 1/3 (at the bound), then bridges it', () => {
    const b = new FakeInstance({ validators: 3 });
    const client = start(b);
    // step one at height 3: 0 leaves, 3 joins -> {1, 2, 3}; step two at height 5: 1 leaves, 4 joins
    b.decide([
      [0, 0n],
      [3, 1n],
    ]);
    b.advance(2);
    b.decide([
      [1, 0n],
      [4, 1n],
    ]);
    b.advance(4);
    // from {0,1,2} to {2,3,4}: only 2 signs of the trusted set, exactly 1/3 of its power
    expect(reason(update(client, b.update(6n, 1n)))).toBe('insufficient-trust');
    // with trust level 1 even the 2/3 overlap of the intermediate set at 3 is too little
    const strict = start(b, testParams(b.chainId, { trustLevel: { numerator: 1n, denominator: 1n } }));
    expect(reason(update(strict, b.update(3n, 1n)))).toBe('insufficient-trust');
    // through height 3 ({1,2,3}: 2/3 of the trusted set) the client reaches 6 ({2,3,4}: 2/3 of {1,2,3})
    const bridged = accepted(client, b.update(3n, 1n));
    expect(reason(update(bridged, b.update(6n, 3n)))).toBe('accepted');
  });

  it('refuses a header once its trusted state has expired (trusting period)', () => {
    const b = new FakeInstance();
    const client = start(b);
    b.advance(2);
    const params = testParams(b.chainId);
    const trustedTime = b.signed(1n).header.time;
    const h = b.update(3n, 1n);
    expect(reason(update(client, h, trustedTime + params.trustingPeriodMs - 1n))).toBe('accepted');
    expect(reason(update(client, h, trustedTime + params.trustingPeriodMs))).toBe('trust-expired');
  });

  it('refuses a header from the future beyond the clock drift', () => {
    const b = new FakeInstance();
    const client = start(b);
    const drift = testParams(b.chainId).maxClockDriftMs;
    b.produce();
    const h = b.update(2n, 1n);
    expect(reason(update(client, h, h.header.time - drift))).toBe('accepted');
    expect(reason(update(client, h, h.header.time - drift - 1n))).toBe('from-the-future');
  });

  it('refuses headers of another chain, or not after their trusted state', () => {
    const b = new FakeInstance({ chainId: CHAIN });
    const client = start(b);
    // the same validators run another instance: their headers there are not B's
    const c = new FakeInstance({ chainId: 'fractal-c', seed: CHAIN });
    c.advance(2);
    expect(reason(update(client, c.update(2n, 1n)))).toBe('wrong-chain-id');
    b.produce({ time: b.signed(1n).header.time });
    expect(reason(update(client, b.update(2n, 1n)))).toBe('not-after-trusted-time');
    b.advance(2);
    expect(reason(update(client, b.update(3n, 2n)))).toBe('unknown-trusted-height');
    const withFour = accepted(client, b.update(4n, 1n));
    expect(reason(update(withFour, b.update(3n, 4n)))).toBe('not-after-trusted-height');
  });

  it('refuses a forged signature, a signer outside the set, a duplicate signer and a wrong round', () => {
    const b = new FakeInstance({ validators: 4 });
    const client = start(b);
    b.produce();
    const h = b.update(2n, 1n);
    const sigs = h.certificate.signatures;
    const flipped = sigs[1]!.signature.slice();
    flipped[5]! ^= 1;
    const forged = sigs.map((s, i) => (i === 1 ? { ...s, signature: flipped } : s));
    expect(reason(update(client, { ...h, certificate: { ...h.certificate, signatures: forged } }))).toBe(
      'bad-signature',
    );
    // validator 9 (not a member) signs in validator 0's place
    const outsider = b.signer(9).sign(new Uint8Array(3));
    const stranger = sigs.map((s, i) => (i === 0 ? { ...s, signature: outsider } : s));
    expect(reason(update(client, { ...h, certificate: { ...h.certificate, signatures: stranger } }))).toBe(
      'bad-signature',
    );
    const beyond = [...sigs, { validator: 4, signature: sigs[0]!.signature }];
    expect(reason(update(client, { ...h, certificate: { ...h.certificate, signatures: beyond } }))).toBe(
      'unknown-signer',
    );
    // two real signers, one of them twice: would be 3 of 4 if counted twice
    const twice = b.certify(h.header, undefined, { signers: [0, 1] }).signatures;
    const duplicated = [...twice, twice[0]!];
    expect(reason(update(client, { ...h, certificate: { ...h.certificate, signatures: duplicated } }))).toBe(
      'duplicate-signer',
    );
    expect(reason(update(client, { ...h, certificate: { ...h.certificate, round: 1 } }))).toBe(
      'bad-signature',
    );
    const other = b.produce();
    expect(reason(update(client, { ...h, certificate: other.certificate }))).toBe('certificate-mismatch');
  });

  it('counts power, not signers: 2/3 of the power is not enough, more is', () => {
    const b = new FakeInstance({
      validators: [
        [0, 5n],
        [1, 1n],
        [2, 1n],
        [3, 1n],
      ],
    });
    const client = start(b);
    b.produce({ signers: [1, 2, 3] });
    // three of four validators, 3/8 of the power
    expect(reason(update(client, b.update(2n, 1n)))).toBe('insufficient-power');
    const even = new FakeInstance({ chainId: 'even', validators: 3 });
    const evenClient = start(even);
    even.produce({ signers: [0, 1] });
    // exactly 2/3 is not more than 2/3
    expect(reason(update(evenClient, even.update(2n, 1n)))).toBe('insufficient-power');
    b.produce({ signers: [0, 1] });
    expect(reason(update(client, b.update(3n, 1n)))).toBe('accepted');
  });

  it('refuses a validator set that does not hash to the header, or to the trusted state', () => {
    const b = new FakeInstance({ validators: 4 });
    const client = start(b);
    b.produce();
    const h = b.update(2n, 1n);
    const heavier = h.validators.map((v, i) => (i === 0 ? { ...v, power: v.power + 1n } : v));
    expect(reason(update(client, { ...h, validators: heavier }))).toBe('validators-mismatch');
    expect(reason(update(client, { ...h, trustedValidators: heavier }))).toBe('trusted-validators-mismatch');
    const reversed = [...h.validators].reverse();
    expect(reason(update(client, { ...h, validators: reversed }))).toBe('unsorted-validators');
    const zero = h.validators.map((v, i) => (i === 2 ? { ...v, power: 0n } : v));
    expect(reason(update(client, { ...h, trustedValidators: zero }))).toBe('zero-power');
  });

  it('keeps only the most recent consensus states', () => {
    const b = new FakeInstance();
    let client = start(b);
    const last = BigInt(MAX_CONSENSUS_STATES + 16);
    for (let h = 2n; h <= last; h++) {
      b.produce();
      client = accepted(client, b.update(h, h - 1n));
      expect(client.consensus.length).toBeLessThanOrEqual(MAX_CONSENSUS_STATES);
    }
    expect(client.consensus).toHaveLength(MAX_CONSENSUS_STATES);
    const oldest = last - BigInt(MAX_CONSENSUS_STATES) + 1n;
    expect(client.consensus[0]!.height).toBe(oldest);
    expect(consensusStateAt(client, oldest).ok).toBe(true);
    expect(consensusStateAt(client, oldest - 1n)).toEqual({ ok: false, reason: 'unknown-height' });
    b.produce();
    expect(reason(update(client, b.update(last + 1n, oldest - 1n)))).toBe('unknown-trusted-height');
  });
});

describe('light client: misbehaviour', () => {
  /** B at height 6, the client trusting 1 and 3. */
  function setup() {
    const b = new FakeInstance({ validators: 4 });
    let client = start(b);
    b.advance(5);
    client = accepted(client, b.update(3n, 1n));
    return { b, client };
  }

  function expectFrozenForGood(client: Client, b: FakeInstance, at: bigint) {
    expect(client.state.frozenAt).toBe(at);
    b.produce();
    const next = b.update(b.height, 3n);
    expect(reason(update(client, next))).toBe('frozen');
    for (const h of [1n, 3n, b.height])
      expect(consensusStateAt(client, h)).toEqual({ ok: false, reason: 'frozen' });
    const fork = { first: b.update(5n, 3n), second: b.update(b.equivocate(5n), 3n) };
    expect(submitMisbehaviour(client, fork, soonAfter(next), verify)).toEqual({
      ok: false,
      reason: 'frozen',
    });
  }

  it('two validly signed headers for one height freeze the client', () => {
    const { b, client } = setup();
    const m: Misbehaviour = { first: b.update(5n, 3n), second: b.update(b.equivocate(5n), 3n) };
    const r = submitMisbehaviour(client, m, soonAfter(m.first), verify);
    expect(r.ok && r.kind).toBe('conflicting-header');
    if (!r.ok) return;
    expectFrozenForGood(r.client, b, 5n);
  });

  it('a higher header no later than a lower one freezes the client', () => {
    const { b, client } = setup();
    const lower = b.signed(5n).header;
    const m: Misbehaviour = {
      first: b.update(b.equivocate(6n, { time: lower.time }), 3n),
      second: b.update(5n, 3n),
    };
    const r = submitMisbehaviour(client, m, soonAfter(m.second), verify);
    expect(r.ok && r.kind).toBe('time-monotonicity');
    if (!r.ok) return;
    expectFrozenForGood(r.client, b, 6n);
  });

  it('refuses what is not misbehaviour, or not verifiable, and stays live', () => {
    const { b, client } = setup();
    const now = soonAfter(b.update(6n, 3n));
    const mis = (m: Misbehaviour) => {
      const r = submitMisbehaviour(client, m, now, verify);
      return r.ok ? r.kind : r.reason;
    };
    expect(mis({ first: b.update(5n, 3n), second: b.update(5n, 1n) })).toBe('not-misbehaviour');
    expect(mis({ first: b.update(5n, 3n), second: b.update(6n, 3n) })).toBe('not-misbehaviour');
    // a fork signed by half the set proves nothing
    const weak = b.equivocate(5n, { signers: [0, 1] });
    expect(mis({ first: b.update(5n, 3n), second: b.update(weak, 3n) })).toBe('insufficient-power');
    // nor one built on a state the client does not hold
    expect(mis({ first: b.update(5n, 3n), second: b.update(b.equivocate(5n), 2n) })).toBe(
      'unknown-trusted-height',
    );
    expect(reason(update(client, b.update(6n, 3n)))).toBe('accepted');
  });

  it('an update conflicting with a stored state freezes the client, which the caller persists', () => {
    const { b, client } = setup();
    const withFive = accepted(client, b.update(5n, 3n));
    const r = update(withFive, b.update(b.equivocate(5n), 3n));
    expect(r.ok).toBe(false);
    if (r.ok || !('client' in r)) throw new Error('expected a freeze');
    expect(r.reason).toBe('conflicting-header');
    expectFrozenForGood(r.client, b, 5n);
    // an unverified conflicting header freezes nothing
    const unsigned = b.equivocate(5n, { signers: [0] });
    expect(update(withFive, b.update(unsigned, 3n))).toEqual({ ok: false, reason: 'insufficient-power' });
  });

  it('an update breaking time order against its stored neighbours freezes the client', () => {
    const { b, client } = setup();
    // the client holds 1, 3 and 6; a fork's 5 no earlier than the stored 6 above it, or its 2 no
    // earlier than the stored 3
    const withSix = accepted(client, b.update(6n, 3n));
    const late = update(withSix, b.update(b.equivocate(5n, { time: b.signed(6n).header.time }), 3n));
    expect(late.ok || late.reason).toBe('time-monotonicity');
    expect(!late.ok && 'client' in late && late.client.state.frozenAt).toBe(5n);
    const early = update(withSix, b.update(b.equivocate(2n, { time: b.signed(3n).header.time }), 1n));
    expect(early.ok || early.reason).toBe('time-monotonicity');
    expect(!early.ok && 'client' in early && early.client.state.frozenAt).toBe(2n);
    // a fork's 4 no later than the stored 3 below it, verified from 1
    const stale = update(withSix, b.update(b.equivocate(4n, { time: b.signed(3n).header.time }), 1n));
    expect(stale.ok || stale.reason).toBe('time-monotonicity');
    expect(!stale.ok && 'client' in stale && stale.client.state.frozenAt).toBe(4n);
    // a fork's 5 between 3 and 6 in time is not caught here (the honest 5 was never seen)
    const between = b.update(b.equivocate(5n, { time: b.signed(3n).header.time + BLOCK_INTERVAL_MS }), 3n);
    expect(reason(update(withSix, between))).toBe('accepted');
  });
});
