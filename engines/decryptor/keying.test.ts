/**
 * The decryptor's edges, one validator at a time: the DKG's deal and complaint windows, what a
 * validator submits and when it submits it again, the discards of encrypted transactions, and
 * replay protection. Chains are built block by block by hand, so every height is chosen.
 */
import { describe, expect, it } from 'vitest';
import { type Deal, deal, dealOf, encryptionKeyPair, openShare } from '../../crypto/dkg.ts';
import { group, mod, scalarToBytes } from '../../crypto/group.ts';
import { Ciphertext, encrypt, fastHashToScalar, gbar, verifyCiphertext } from '../../crypto/tdh2.ts';
import { SimKeyring } from '../../sim/signer.ts';
import { sha256 } from '../../wire/commit.ts';
import { type Envelope, envelopeSigningBytes, labelBytes, SignedEnvelope } from '../../wire/envelope.ts';
import { encode, tryDecode } from '../../wire/schema.ts';
import type { Signer } from '../../wire/sign.ts';
import { bareCommittedBlock } from '../../wire/testing.ts';
import { DkgMessage, SharesMessage } from './messages.ts';
import {
  type DecryptorConfig,
  type DecryptorState,
  dkgParams,
  type Env,
  initialState,
  myIndex,
  type Output,
  onCommitted,
} from './pipeline.ts';

const INSTANCE = 'fractal-keying';
const keyring = new SimKeyring();
const validators = [0, 1, 2, 3].map((i) => keyring.signer(`keying-v${i}`));
const secrets = validators.map((_, i) => sha256(new TextEncoder().encode(`keying-secret-${i}`)));
const client = keyring.signer('keying-client');

/** Short windows: deals at 3..8 (dealEnd 9), complaints until 10 (complaintEnd 11), key at 10. */
const WINDOWS = { dkgStart: 3n, dealWindow: 6, complaintWindow: 2, resubmitAfter: 2, expiryHeights: 10 };

function config(i: number | undefined, extra: Partial<DecryptorConfig> = {}): DecryptorConfig {
  return {
    instance: INSTANCE,
    validators: validators.map((v, j) => ({
      publicKey: v.publicKey,
      encryptionKey: encryptionKeyPair(secrets[j]!).publicKey,
    })),
    threshold: 2,
    ...(i === undefined ? {} : { secret: secrets[i]! }),
    ...WINDOWS,
    ...extra,
  };
}
const envOf = (i: number | undefined): Env => ({
  signer: i === undefined ? undefined : validators[i]!,
  verify: keyring.verify,
});

function sign(signer: Signer, body: Envelope['body'], nonce: bigint, expiry = 1000n): Uint8Array {
  const envelope: Envelope = { instance: INSTANCE, payer: signer.publicKey, fee: 0n, nonce, expiry, body };
  return encode(SignedEnvelope, { envelope, signature: signer.sign(envelopeSigningBytes(envelope)) });
}
const dealEnvelope = (dealer: number, d: Deal, nonce = 1n) =>
  sign(validators[dealer - 1]!, { tag: 'dkg', value: encode(DkgMessage, { tag: 'deal', value: d }) }, nonce);

function envelopeOf(bytes: Uint8Array): Envelope {
  const e = tryDecode(SignedEnvelope, bytes);
  if (!e.ok) throw new Error('undecodable submission');
  return e.value.envelope;
}
function dkgOf(bytes: Uint8Array): DkgMessage {
  const body = envelopeOf(bytes).body;
  if (body.tag !== 'dkg') throw new Error(`expected a dkg body, got ${body.tag}`);
  const m = tryDecode(DkgMessage, body.value);
  if (!m.ok) throw new Error('undecodable dkg body');
  return m.value;
}
function sharesOf(bytes: Uint8Array): SharesMessage {
  const body = envelopeOf(bytes).body;
  if (body.tag !== 'shares') throw new Error(`expected a shares body, got ${body.tag}`);
  const m = tryDecode(SharesMessage, body.value);
  if (!m.ok) throw new Error('undecodable shares body');
  return m.value;
}

/** One decryptor fed blocks by hand; remembers what it output at each height. */
class One {
  state: DecryptorState;
  readonly outs = new Map<bigint, Output>();
  constructor(
    readonly cfg: DecryptorConfig,
    readonly env: Env,
  ) {
    this.state = initialState(cfg);
  }
  /** Commits the next block with `txs`. */
  commit(txs: Uint8Array[] = []): Output {
    const cb = bareCommittedBlock(INSTANCE, this.state.height + 1n, txs);
    const { state, out } = onCommitted(this.cfg, this.state, cb, this.env);
    this.state = state;
    this.outs.set(cb.block.header.height, out);
    return out;
  }
  /** Commits empty blocks up to and including `height`. */
  until(height: bigint): void {
    while (this.state.height < height) this.commit();
  }
  heightsSubmitting(pred: (bytes: Uint8Array) => boolean): bigint[] {
    return [...this.outs].filter(([, o]) => o.submit.some(pred)).map(([h]) => h);
  }
}

const isDeal = (bytes: Uint8Array) => envelopeOf(bytes).body.tag === 'dkg' && dkgOf(bytes).tag === 'deal';
const isShares = (bytes: Uint8Array) => envelopeOf(bytes).body.tag === 'shares';

/** Dealer `dealer`'s honest deal, and one whose share for `victim` is corrupted (still publicly valid). */
function deals(cfg: DecryptorConfig, dealer: number, victim: number): { good: Deal; bad: Deal } {
  const good = deal(dkgParams(cfg), dealer, secrets[dealer - 1]!);
  const shares = good.shares.map((s, j) => (j === victim - 1 ? s.map((b, k) => (k === 0 ? b ^ 1 : b)) : s));
  return { good, bad: { ...good, shares } };
}

/** Four validators' decryptors fed one chain: each block carries what all submitted at the last. */
class Network {
  readonly nodes = [0, 1, 2, 3].map((i) => new One(config(i), envOf(i)));
  submitted: Uint8Array[] = [];
  commit(
    extra: Uint8Array[] = [],
    keep: (bytes: Uint8Array, from: number) => boolean = () => true,
  ): Output[] {
    const txs = [...this.submitted, ...extra];
    this.submitted = [];
    return this.nodes.map((n, i) => {
      const out = n.commit(txs);
      this.submitted.push(...out.submit.filter((b) => keep(b, i)));
      return out;
    });
  }
  keyed(): void {
    while (this.nodes[0]!.state.key === undefined) {
      if (this.nodes[0]!.state.height > 20n) throw new Error('no key');
      this.commit();
    }
  }
}

function encrypted(node: One, plaintext: Uint8Array, nonce: bigint, payer = client): Uint8Array {
  const label = labelBytes({ instance: INSTANCE, epoch: 0n, payer: payer.publicKey });
  const ct = encrypt(node.state.key!, plaintext, label, new Uint8Array(64).fill(Number(nonce % 200n) + 1));
  return sign(client, { tag: 'encrypted', value: { epoch: 0n, ciphertext: encode(Ciphertext, ct) } }, nonce);
}
const reasons = (out: Output) =>
  out.ordered!.txs.map((t) => (t.tx.tag === 'ok' ? new TextDecoder().decode(t.tx.value) : t.tx.value));

describe('decryptor: the DKG windows', () => {
  it('counts a deal only from dkgStart to the last height of the deal window', () => {
    const cfg = config(undefined);
    const { good } = deals(cfg, 1, 2);
    const acceptedAt = (h: bigint): boolean => {
      const observer = new One(cfg, envOf(undefined));
      observer.until(h - 1n);
      observer.commit([dealEnvelope(1, good)]);
      return dealOf(observer.state.transcript, 1) !== undefined;
    };
    expect([2n, 3n, 8n, 9n].map(acceptedAt)).toEqual([false, true, true, false]);
  });

  it('judges a complaint only from dkgStart until the complaint window closes', () => {
    const cfg = config(undefined);
    const { bad } = deals(cfg, 2, 1);
    const opened = openShare(dkgParams(cfg), bad, 1, encryptionKeyPair(secrets[0]!).secret);
    if (opened.ok) throw new Error('the corrupted share opened');
    const complaint = sign(
      validators[0]!,
      { tag: 'dkg', value: encode(DkgMessage, { tag: 'complaint', value: opened.complaint }) },
      7n,
    );
    const judgedAt = (h: bigint): DecryptorState => {
      const observer = new One(cfg, envOf(undefined));
      if (h < 3n) {
        // before the DKG starts there is no deal to complain about: the complaint is not even looked at
        observer.until(h - 1n);
        observer.commit([complaint]);
        return observer.state;
      }
      observer.until(3n);
      observer.commit([dealEnvelope(2, bad)]);
      observer.until(h - 1n);
      observer.commit([complaint]);
      return observer.state;
    };
    expect(judgedAt(2n).transcript.events).toEqual([]);
    expect(judgedAt(10n).transcript.disqualifiedBy[1]).toBe(1);
    const late = judgedAt(11n).transcript;
    expect(late.disqualifiedBy[1]).toBe(null);
    expect(late.events.map((e) => e.kind)).toEqual(['deal-accepted']);
  });

  it('deals at dkgStart, again every resubmitAfter heights while its deal is not on chain, never too late', () => {
    const v1 = new One(config(0), envOf(0));
    v1.until(12n);
    // deal window 3..8: a deal submitted at 8 could only be committed at 9, too late
    expect(v1.heightsSubmitting(isDeal)).toEqual([3n, 5n, 7n]);
    const deals = v1.outs.get(3n)!.submit.filter(isDeal);
    expect(deals.length).toBe(1);
    const e = envelopeOf(deals[0]!);
    // a deal's nonce is its slot: 2^61 + epoch·2^16; it expires expiryHeights after it was made
    expect(e).toMatchObject({ instance: INSTANCE, fee: 0n, nonce: 1n << 61n, expiry: 13n });
    expect(e.payer).toEqual(validators[0]!.publicKey);
    expect(dkgOf(deals[0]!)).toEqual({ tag: 'deal', value: deal(dkgParams(config(0)), 1, secrets[0]!) });
    // the same deal under the same nonce every time (a re-submission cannot be committed twice)
    const again = envelopeOf(v1.outs.get(5n)!.submit.filter(isDeal)[0]!);
    expect(again).toMatchObject({ nonce: e.nonce, body: e.body, expiry: 15n });
  });

  it('stops dealing once its deal is on chain; a slower resubmitAfter waits longer', () => {
    const v1 = new One(config(0), envOf(0));
    v1.until(3n);
    const mine = v1.outs.get(3n)!.submit.filter(isDeal);
    v1.commit(mine);
    v1.until(12n);
    expect(v1.heightsSubmitting(isDeal)).toEqual([3n]);
    const slow = new One(config(0, { resubmitAfter: 3 }), envOf(0));
    slow.until(12n);
    expect(slow.heightsSubmitting(isDeal)).toEqual([3n, 6n]);
  });

  it('without its secret or its signer a validator submits nothing, and it still follows the chain', () => {
    const noSecret = new One(config(undefined), envOf(0));
    expect(myIndex(noSecret.cfg, noSecret.env)).toBe(undefined);
    expect(myIndex(config(2), envOf(2))).toBe(3);
    const noSigner = new One(config(0), envOf(undefined));
    noSecret.until(12n);
    noSigner.until(12n);
    expect(noSecret.heightsSubmitting(() => true)).toEqual([]);
    expect(noSigner.heightsSubmitting(() => true)).toEqual([]);
    // a validator that cannot sign does not take part (nothing to remember having sent)
    expect(noSigner.state.dealSentAt).toBe(undefined);
    expect(noSecret.state.dealSentAt).toBe(undefined);
  });

  it('complains about a bad share at once, once, with the complaint slot as its nonce', () => {
    const v1 = new One(config(0), envOf(0));
    const { bad } = deals(v1.cfg, 2, 1);
    v1.until(3n);
    const out = v1.commit([dealEnvelope(2, bad), dealEnvelope(2, bad, 2n)]);
    const complaints = out.submit.filter((b) => !isDeal(b));
    expect(complaints.length).toBe(1);
    const m = dkgOf(complaints[0]!);
    expect(m.tag).toBe('complaint');
    expect(m.value).toMatchObject({ accuser: 1, dealer: 2, epoch: 0n });
    expect(envelopeOf(complaints[0]!).nonce).toBe((1n << 61n) + 2n);
    expect(v1.state.complainedAbout).toEqual([2]);
    v1.commit([dealEnvelope(2, bad, 3n)]);
    expect(v1.outs.get(5n)!.submit.filter((b) => !isDeal(b))).toEqual([]);
  });

  it('complains about a deal at the end of the deal window only if the complaint can still be committed', () => {
    const lateDeal = (complaintWindow: number): number => {
      const v1 = new One(config(0, { complaintWindow }), envOf(0));
      const { bad } = deals(v1.cfg, 2, 1);
      v1.until(7n);
      return v1.commit([dealEnvelope(2, bad)]).submit.filter((b) => !isDeal(b)).length;
    };
    expect(lateDeal(1)).toBe(1); // committed at 9, the complaint window's only height
    expect(lateDeal(0)).toBe(0); // no complaint window: nothing it sends now could count
  });

  it('a key epoch other than 0 puts its epoch in the deal slot', () => {
    const v1 = new One(config(0, { epoch: 3n }), envOf(0));
    v1.until(3n);
    const [d] = v1.outs.get(3n)!.submit.filter(isDeal);
    expect(envelopeOf(d!).nonce).toBe((1n << 61n) + (3n << 16n));
    expect(dkgOf(d!).value.epoch).toBe(3n);
  });

  it('finalizes at the last height of the complaint window: the key, or the reason there is none', () => {
    const net = new Network();
    net.keyed();
    expect(net.nodes[0]!.state.height).toBe(10n);
    const announced = [...net.nodes[0]!.outs].filter(([, o]) => o.epochKey !== undefined).map(([h]) => h);
    expect(announced).toEqual([10n]);
    const key = net.nodes[0]!.state.key!;
    expect(net.nodes[0]!.outs.get(10n)!.epochKey).toEqual({
      epoch: 0n,
      publicKey: key.publicKey,
      threshold: 2,
      verificationKeys: key.verificationKeys,
    });
    expect(net.nodes.map((n) => n.state.myShare?.index)).toEqual([1, 2, 3, 4]);

    const alone = new One(config(undefined), envOf(undefined));
    alone.until(9n);
    expect(alone.state.keyFailure).toBe(undefined);
    alone.commit();
    expect(alone.state.keyFailure).toBe('too-few-qualified (qualified none)');
    const one = new One(config(undefined), envOf(undefined));
    one.until(3n);
    one.commit([dealEnvelope(1, deals(one.cfg, 1, 2).good)]);
    one.until(10n);
    expect(one.state.keyFailure).toBe('too-few-qualified (qualified 1)');
    const three = new One(config(undefined, { threshold: 3 }), envOf(undefined));
    three.until(3n);
    three.commit([1, 2].map((d) => dealEnvelope(d, deals(three.cfg, d, 3).good)));
    three.until(10n);
    expect(three.state.keyFailure).toBe('too-few-qualified (qualified 1,2)');
    expect(one.state.key).toBe(undefined);
    // keyless: encrypted transactions are discarded
    const ct = sign(client, { tag: 'encrypted', value: { epoch: 0n, ciphertext: Uint8Array.of(1) } }, 1n);
    expect(reasons(one.commit([ct]))).toEqual(['unknown-epoch']);
  });

  it('rejects a threshold outside 1..n', () => {
    expect(() => initialState(config(undefined, { threshold: 0 }))).toThrow(RangeError);
    expect(() => initialState(config(undefined, { threshold: 5 }))).toThrow(RangeError);
    expect(initialState(config(undefined, { threshold: 4 })).height).toBe(0n);
    expect(initialState(config(undefined, { threshold: 1 })).epoch).toBe(0n);
  });
});

describe('decryptor: own shares', () => {
  it('shares a batch after its commit, again after resubmitAfter heights, and stops once they count', () => {
    const net = new Network();
    net.keyed();
    const v1 = net.nodes[0]!;
    // nobody's shares reach the chain
    const outs = [net.commit([encrypted(v1, Uint8Array.of(1), 1n)], () => false)];
    const at = v1.state.height;
    for (let k = 0; k < 4; k++) outs.push(net.commit([], () => false));
    const sent = outs.map((o) => o[0]!.submit.filter(isShares).length);
    expect(sent).toEqual([1, 0, 1, 0, 1]);
    const [mine] = outs[0]![0]!.submit;
    const m = sharesOf(mine!);
    expect(m).toMatchObject({ epoch: 0n, height: at, shares: { index: 1 } });
    expect(m.blockHash).toEqual(v1.state.pending[0]!.blockHash);
    const e = envelopeOf(mine!);
    expect(e.nonce).toBe((1n << 62n) + at);
    expect(e.expiry).toBe(at + 10n);
    // a re-submission carries the same shares under the same nonce: it cannot be committed twice
    const again = envelopeOf(outs[2]![0]!.submit[0]!);
    expect(again.nonce).toBe(e.nonce);
    expect(again.body).toEqual(e.body);
    expect(again.expiry).toBe(at + 2n + 10n);

    // its own shares on chain: they count, unchecked, and it stops re-sending; t = 2 still waits
    net.commit([mine!], () => false);
    expect([...v1.state.pending[0]!.shares.keys()]).toEqual([1]);
    for (let k = 0; k < 3; k++) expect(net.commit([], () => false)[0]!.submit).toEqual([]);
    expect(v1.state.pending.length).toBe(1);
  });

  it('makes no shares for a batch without valid ciphertexts, even one that waits behind another', () => {
    const net = new Network();
    net.keyed();
    const v1 = net.nodes[0]!;
    net.commit([encrypted(v1, Uint8Array.of(1), 1n)], () => false);
    const bogus = sign(client, { tag: 'encrypted', value: { epoch: 0n, ciphertext: Uint8Array.of(9) } }, 2n);
    const out = net.commit([bogus], () => false)[0]!;
    expect(v1.state.pending.map((b) => b.valid.length)).toEqual([1, 0]);
    expect(out.submit).toEqual([]);
    // both batches are released in order once the first has t shares
    const shares = net.nodes.slice(0, 2).map((n) => n.outs.get(11n)!.submit.find(isShares)!);
    const released = net.commit(shares)[0]!;
    expect(reasons(released)).toEqual(['\u0001', 'undecodable-ciphertext']);
    expect(released.ordered!.txs.map((t) => t.includedAt)).toEqual([11n, 12n]);
  });

  it('counts its own shares unchecked only when they are exactly the ones it made', () => {
    const net = new Network();
    net.keyed();
    const v1 = net.nodes[0]!;
    const out = net.commit(
      [encrypted(v1, Uint8Array.of(1), 1n), encrypted(v1, Uint8Array.of(2), 2n)],
      () => false,
    );
    const mine = out[0]!.submit.find(isShares)!;
    const m = sharesOf(mine);
    expect(m.shares.shares.length).toBe(2);
    // a copy of its shares with the second one left out, under its own signature
    const short = { ...m, shares: { ...m.shares, shares: m.shares.shares.slice(0, 1) } };
    const e = envelopeOf(mine);
    const shortBytes = sign(
      validators[0]!,
      { tag: 'shares', value: encode(SharesMessage, short) },
      e.nonce + 1n,
    );
    net.commit([shortBytes], () => false);
    for (const n of net.nodes) expect(n.state.pending[0]!.shares.size).toBe(0);
    net.commit([mine], () => false);
    for (const n of net.nodes) expect([...n.state.pending[0]!.shares.keys()]).toEqual([1]);
  });

  it('ignores shares for another epoch, another block, from a non-validator or before the key', () => {
    const net = new Network();
    net.keyed();
    const v1 = net.nodes[0]!;
    const out = net.commit([encrypted(v1, Uint8Array.of(1), 1n)], () => false);
    const theirs = out[1]!.submit.find(isShares)!;
    const m = sharesOf(theirs);
    const variants: [Signer, SharesMessage][] = [
      [validators[1]!, { ...m, epoch: 1n }],
      [validators[1]!, { ...m, height: m.height + 1n }],
      [validators[1]!, { ...m, blockHash: new Uint8Array(32) }],
      [client, m],
    ];
    const bytes = variants.map(([who, msg], k) =>
      sign(who, { tag: 'shares', value: encode(SharesMessage, msg) }, 100n + BigInt(k)),
    );
    net.commit(bytes, () => false);
    for (const n of net.nodes) expect(n.state.pending[0]!.shares.size).toBe(0);
    net.commit([theirs], () => false);
    for (const n of net.nodes) expect([...n.state.pending[0]!.shares.keys()]).toEqual([2]);
    // before any key, a shares envelope is charged but counts for nothing
    const fresh = new One(config(undefined), envOf(undefined));
    const o = fresh.commit([theirs]);
    expect(o.ordered!.charges.length).toBe(1);
    expect(fresh.state.pending).toEqual([]);
  });
});

describe('decryptor: discards and replay protection', () => {
  it('discards encrypted transactions it cannot decrypt, each with its reason, in committed order', () => {
    const net = new Network();
    const early = sign(client, { tag: 'encrypted', value: { epoch: 0n, ciphertext: Uint8Array.of(1) } }, 1n);
    const before = net.commit([early])[0]!;
    expect(reasons(before)).toEqual(['unknown-epoch']);
    expect(before.ordered!.txs[0]).toMatchObject({ includedAt: 1n, encrypted: true });
    net.keyed();
    const v1 = net.nodes[0]!;
    const good = tryDecode(SignedEnvelope, encrypted(v1, Uint8Array.of(5), 2n));
    if (!good.ok || good.value.envelope.body.tag !== 'encrypted') throw new Error('unreachable');
    const ct = tryDecode(Ciphertext, good.value.envelope.body.value.ciphertext);
    if (!ct.ok) throw new Error('unreachable');
    const withCt = (c: Uint8Array, epoch: bigint, nonce: bigint) =>
      sign(client, { tag: 'encrypted', value: { epoch, ciphertext: c } }, nonce);
    const other = keyring.signer('keying-other');
    const otherLabel = labelBytes({ instance: INSTANCE, epoch: 0n, payer: other.publicKey });
    const txs = [
      withCt(encode(Ciphertext, ct.value), 1n, 3n),
      withCt(Uint8Array.of(1, 2, 3), 0n, 4n),
      withCt(encode(Ciphertext, { ...ct.value, label: otherLabel }), 0n, 5n),
      withCt(encode(Ciphertext, { ...ct.value, e: ct.value.f }), 0n, 6n),
      withCt(encode(Ciphertext, ct.value), 0n, 7n),
    ];
    const out = net.commit(txs)[0]!;
    // all wait in one batch (one valid ciphertext) until t validators have shared it
    expect(out.ordered!.txs).toEqual([]);
    expect(out.ordered!.charges.length).toBe(5);
    const at = v1.state.height;
    const released = net.commit()[0]!;
    expect(reasons(released)).toEqual([
      'unknown-epoch',
      'undecodable-ciphertext',
      'wrong-label',
      'invalid-ciphertext',
      '\u0005',
    ]);
    expect(released.ordered!.txs.every((t) => t.encrypted && t.includedAt === at)).toBe(true);
  });

  it('a valid ciphertext whose payload does not open under the shared key is discarded after decryption', () => {
    const net = new Network();
    net.keyed();
    const v1 = net.nodes[0]!;
    // a well-proven ciphertext (log_g u = log_gbar ubar) around a payload sealed under no key at all
    const label = labelBytes({ instance: INSTANCE, epoch: 0n, payer: client.publicKey });
    const [r, k] = [12345n, 67890n];
    const u = group.mulBase(r);
    const ubar = group.mul(gbar(), r);
    const payload = new Uint8Array(40).fill(9);
    const e = fastHashToScalar(
      'fractal/tdh2/ciphertext',
      payload,
      label,
      u,
      group.mulBase(k),
      ubar,
      group.mul(gbar(), k),
    );
    const ct: Ciphertext = { u, ubar, e: scalarToBytes(e), f: scalarToBytes(mod(k + r * e)), label, payload };
    expect(verifyCiphertext(ct)).toBe(true);
    const tx = sign(
      client,
      { tag: 'encrypted', value: { epoch: 0n, ciphertext: encode(Ciphertext, ct) } },
      1n,
    );
    net.commit([tx, encrypted(v1, Uint8Array.of(4), 2n)]);
    expect(v1.state.pending[0]!.valid.length).toBe(2);
    expect(reasons(net.commit()[0]!)).toEqual(['aead-failure', '\u0004']);
  });

  it('gives client transactions that fail a receipt and a reason; failing system messages vanish', () => {
    const v = new One(config(undefined), envOf(undefined));
    const plainTx = sign(client, { tag: 'plain', value: Uint8Array.of(1) }, 1n, 50n);
    const garbage = Uint8Array.of(0xff, 0, 1);
    const wrongSig = (bytes: Uint8Array) => {
      const d = tryDecode(SignedEnvelope, bytes);
      if (!d.ok) throw new Error('unreachable');
      return encode(SignedEnvelope, { ...d.value, signature: new Uint8Array(64) });
    };
    const encryptedTx = sign(
      client,
      { tag: 'encrypted', value: { epoch: 0n, ciphertext: Uint8Array.of(1) } },
      2n,
    );
    const dealTx = dealEnvelope(1, deals(v.cfg, 1, 2).good);
    const sharesTx = sign(validators[1]!, { tag: 'shares', value: Uint8Array.of(1, 2) }, 3n);
    const out = v.commit([
      garbage,
      wrongSig(plainTx),
      wrongSig(encryptedTx),
      wrongSig(dealTx),
      wrongSig(sharesTx),
      plainTx,
    ]);
    expect(out.ordered!.txs).toEqual([
      // the batch of encrypted transactions comes first (it has nothing to wait for)
      {
        envelope: sha256(wrongSig(encryptedTx)),
        includedAt: 1n,
        encrypted: true,
        tx: { tag: 'discarded', value: 'bad-signature' },
      },
      {
        envelope: sha256(garbage),
        includedAt: 1n,
        encrypted: false,
        tx: { tag: 'discarded', value: 'undecodable-envelope' },
      },
      {
        envelope: sha256(wrongSig(plainTx)),
        includedAt: 1n,
        encrypted: false,
        tx: { tag: 'discarded', value: 'bad-signature' },
      },
      {
        envelope: sha256(plainTx),
        includedAt: 1n,
        encrypted: false,
        tx: { tag: 'ok', value: Uint8Array.of(1) },
      },
    ]);
    // only what passed is charged
    expect(out.ordered!.charges).toEqual([
      { envelope: sha256(plainTx), payer: client.publicKey, nonce: 1n, fee: 0n, expiry: 50n },
    ]);
    expect(v.state.transcript.events).toEqual([]);
  });

  it('ignores DKG messages from non-validators and bodies that do not decode', () => {
    const v = new One(config(undefined), envOf(undefined));
    v.until(2n);
    const good = deals(v.cfg, 1, 2).good;
    const dealBody = { tag: 'dkg' as const, value: encode(DkgMessage, { tag: 'deal', value: good }) };
    v.commit([
      sign(client, dealBody, 1n),
      sign(validators[0]!, { tag: 'dkg', value: Uint8Array.of(7, 7) }, 2n),
      sign(validators[1]!, { tag: 'shares', value: Uint8Array.of(7, 7) }, 3n),
    ]);
    expect(v.state.transcript.events).toEqual([]);
    expect(v.outs.get(3n)!.ordered!.charges.length).toBe(3);
    v.commit([sign(validators[0]!, dealBody, 3n)]);
    expect(v.state.transcript.events).toEqual([{ kind: 'deal-accepted', dealer: 1 }]);
  });

  it('an envelope counts up to its expiry height; its nonce is remembered until then', () => {
    const v = new One(config(undefined), envOf(undefined));
    const plain = (nonce: bigint, expiry: bigint) =>
      sign(client, { tag: 'plain', value: Uint8Array.of(Number(nonce)) }, nonce, expiry);
    const first = v.commit([plain(1n, 3n), plain(2n, 1n), plain(3n, 0n)]);
    expect(reasons(first)).toEqual(['\u0001', '\u0002', 'expired']);
    expect(first.ordered!.charges.map((c) => c.nonce)).toEqual([1n, 2n]);
    expect([...v.state.nonces.values()]).toEqual([3n, 1n]);
    v.commit();
    expect([...v.state.nonces.values()]).toEqual([3n]);
    // at its expiry height the envelope still counts, so a replay of it is still a replay
    expect(reasons(v.commit([plain(1n, 3n)]))).toEqual(['replay']);
    expect(reasons(v.commit([plain(1n, 3n)]))).toEqual(['expired']);
    expect(v.state.nonces.size).toBe(0);
  });

  it('a block already processed changes nothing; the last one is ordered again', () => {
    const v = new One(config(undefined), envOf(undefined));
    v.commit([sign(client, { tag: 'plain', value: Uint8Array.of(1) }, 1n)]);
    const second = v.commit([sign(client, { tag: 'plain', value: Uint8Array.of(2) }, 2n)]);
    const s = v.state;
    const again = onCommitted(v.cfg, s, bareCommittedBlock(INSTANCE, 2n, []), v.env);
    expect(again.state).toBe(s);
    expect(again.out.ordered).toBe(second.ordered);
    const older = onCommitted(v.cfg, s, bareCommittedBlock(INSTANCE, 1n, []), v.env);
    expect(older.state).toBe(s);
    expect(older.out).toEqual({ ordered: undefined, submit: [], epochKey: undefined });
    // a fresh decryptor has no last block to replay
    const fresh = initialState(v.cfg);
    expect(onCommitted(v.cfg, fresh, bareCommittedBlock(INSTANCE, 0n, []), v.env).out.ordered).toBe(
      undefined,
    );
  });

  it('submits nothing when asked not to (a replay), though it remembers what it would have sent', () => {
    const cfg = config(0);
    let s = initialState(cfg);
    for (let h = 1n; h <= 3n; h++) {
      const r = onCommitted(cfg, s, bareCommittedBlock(INSTANCE, h, []), envOf(0), { submit: false });
      expect(r.out.submit).toEqual([]);
      s = r.state;
    }
    expect(s.dealSentAt).toBe(3n);
  });
});
