import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encryptionKeyPair } from '../../crypto/dkg.ts';
import { Ciphertext, encrypt } from '../../crypto/tdh2.ts';
import { propParams } from '../../props/config.ts';
import { SimKeyring } from '../../sim/signer.ts';
import { sha256 } from '../../wire/commit.ts';
import { type Envelope, envelopeSigningBytes, labelBytes, SignedEnvelope } from '../../wire/envelope.ts';
import type { CommittedBlock } from '../../wire/ledger.ts';
import { encode, tryDecode } from '../../wire/schema.ts';
import { bareCommittedBlock } from '../../wire/testing.ts';
import { SharesMessage } from './messages.ts';
import {
  type DecryptorConfig,
  type DecryptorState,
  type Env,
  initialState,
  onCommitted,
} from './pipeline.ts';

const INSTANCE = 'fractal-test';
const keyring = new SimKeyring();
const validators = [0, 1, 2, 3].map((i) => keyring.signer(`v${i}`));
const secrets = validators.map((_, i) => sha256(new TextEncoder().encode(`secret-${i}`)));
const config = (i: number): DecryptorConfig => ({
  instance: INSTANCE,
  validators: validators.map((v, j) => ({
    publicKey: v.publicKey,
    encryptionKey: encryptionKeyPair(secrets[j]!).publicKey,
  })),
  threshold: 2,
  secret: secrets[i]!,
});
const envOf = (i: number): Env => ({ signer: validators[i]!, verify: keyring.verify });
const client = keyring.signer('client');

const block = (height: bigint, txs: Uint8Array[]) => bareCommittedBlock(INSTANCE, height, txs);

/** Four decryptors fed the same chain; each block carries everything submitted after the last. */
class Chain {
  states: DecryptorState[] = [0, 1, 2, 3].map((i) => initialState(config(i)));
  height = 0n;
  submitted: Uint8Array[] = [];
  ordered: { height: bigint; txs: ReturnType<typeof onCommitted>['out']['ordered'] }[] = [];
  keys: string[] = [];

  commit(extra: Uint8Array[] = [], only?: number[]): CommittedBlock {
    this.height++;
    const cb = block(this.height, [...this.submitted, ...extra]);
    this.submitted = [];
    for (let i = 0; i < 4; i++) {
      const { state, out } = onCommitted(config(i), this.states[i]!, cb, envOf(i));
      this.states[i] = state;
      if (only === undefined || only.includes(i)) this.submitted.push(...out.submit);
      if (i === 0) this.ordered.push({ height: this.height, txs: out.ordered });
      if (out.epochKey !== undefined) this.keys.push(Buffer.from(out.epochKey.publicKey).toString('hex'));
    }
    return cb;
  }
}

function clientEnvelope(body: Envelope['body'], nonce: bigint): Uint8Array {
  const envelope: Envelope = {
    instance: INSTANCE,
    payer: client.publicKey,
    fee: 5n,
    nonce,
    expiry: 1000n,
    body,
  };
  return encode(SignedEnvelope, { envelope, signature: client.sign(envelopeSigningBytes(envelope)) });
}

function encryptedEnvelope(chain: Chain, plaintext: Uint8Array, nonce: bigint): Uint8Array {
  const key = chain.states[0]!.key!;
  const label = labelBytes({ instance: INSTANCE, epoch: 0n, payer: client.publicKey });
  const ct = encrypt(key, plaintext, label, new Uint8Array(64).fill(Number(nonce) + 1));
  return clientEnvelope(
    { tag: 'encrypted', value: { epoch: 0n, ciphertext: encode(Ciphertext, ct) } },
    nonce,
  );
}

function keyed(): Chain {
  const chain = new Chain();
  while (chain.states[0]!.key === undefined && chain.height < 20n) chain.commit();
  return chain;
}

describe('decryptor pipeline', () => {
  it('runs the DKG from the chain: every validator ends with the same key and its own share', () => {
    const chain = keyed();
    expect(chain.height).toBe(10n); // dkgStart 1 + deal window 6 + complaint window 4 - 1
    expect(new Set(chain.keys).size).toBe(1);
    expect(chain.keys.length).toBe(4);
    for (const [i, s] of chain.states.entries()) expect(s.myShare?.index).toBe(i + 1);
  });

  it('decrypts after commit, once t shares are on chain, in committed order, and only then', () => {
    const chain = keyed();
    const a = new TextEncoder().encode('first');
    const b = new TextEncoder().encode('second');
    chain.commit([
      encryptedEnvelope(chain, a, 1n),
      clientEnvelope({ tag: 'plain', value: Uint8Array.of(7) }, 2n),
      encryptedEnvelope(chain, b, 3n),
    ]);
    const at = chain.height;
    // the plain transaction runs at once; the encrypted ones wait for shares
    const first = chain.ordered.at(-1)!.txs!;
    expect(first.txs.map((t) => t.encrypted)).toEqual([false]);
    // shares were made only after the commit, one envelope per validator
    expect(chain.submitted.length).toBe(4);
    chain.commit();
    const next = chain.ordered.at(-1)!.txs!;
    expect(
      next.txs.map((t) => (t.tx.tag === 'ok' ? new TextDecoder().decode(t.tx.value) : t.tx.value)),
    ).toEqual(['first', 'second']);
    expect(next.txs.every((t) => t.includedAt === at && t.encrypted)).toBe(true);
  });

  it('waits while fewer than t validators have shared; a share for the wrong index does not count', () => {
    const chain = keyed();
    chain.commit([encryptedEnvelope(chain, Uint8Array.of(1, 2, 3), 9n)]);
    // only validator 1's shares reach the chain
    const own = chain.submitted.filter((bytes) => {
      const e = tryDecode(SignedEnvelope, bytes);
      return e.ok && Buffer.from(e.value.envelope.payer).equals(Buffer.from(validators[0]!.publicKey));
    });
    // validator 2 re-labels validator 1's shares as its own: refused (index must be the sender's)
    const stolen = tryDecode(SignedEnvelope, own[0]!);
    if (!stolen.ok || stolen.value.envelope.body.tag !== 'shares') throw new Error('expected shares');
    const envelope = { ...stolen.value.envelope, payer: validators[1]!.publicKey };
    const forged = encode(SignedEnvelope, {
      envelope,
      signature: validators[1]!.sign(envelopeSigningBytes(envelope)),
    });
    chain.submitted = [];
    chain.commit([...own, forged], []);
    expect(chain.ordered.at(-1)!.txs!.txs).toEqual([]);
    expect(chain.states[0]!.pending.length).toBe(1);
    expect(chain.states[0]!.pending[0]!.shares.size).toBe(1);
    const m = tryDecode(SharesMessage, stolen.value.envelope.body.value);
    expect(m.ok).toBe(true);
  });

  it("a validator's own shares count unchecked only when they are the ones it made; every node decides alike", () => {
    const chain = keyed();
    chain.commit([encryptedEnvelope(chain, new TextEncoder().encode('secret'), 11n)]);
    const sharesOf = (i: number) =>
      chain.submitted.find((bytes) => {
        const e = tryDecode(SignedEnvelope, bytes);
        return e.ok && Buffer.from(e.value.envelope.payer).equals(Buffer.from(validators[i]!.publicKey));
      })!;
    const [v1, v2, v3] = [sharesOf(0), sharesOf(1), sharesOf(2)];
    // validator 1 publishes wrong shares under its own key (validator 2's point in place of its own)
    const signed = tryDecode(SignedEnvelope, v1);
    const other = tryDecode(SignedEnvelope, v2);
    if (!signed.ok || !other.ok) throw new Error('unreachable');
    const body = signed.value.envelope.body;
    const otherBody = other.value.envelope.body;
    if (body.tag !== 'shares' || otherBody.tag !== 'shares') throw new Error('expected shares');
    const m = tryDecode(SharesMessage, body.value);
    const m2 = tryDecode(SharesMessage, otherBody.value);
    if (!m.ok || !m2.ok) throw new Error('unreachable');
    const wrong = { ...m.value, shares: { ...m.value.shares, shares: [...m2.value.shares.shares] } };
    const envelope: Envelope = {
      ...signed.value.envelope,
      body: { tag: 'shares', value: encode(SharesMessage, wrong) },
    };
    const bad = encode(SignedEnvelope, {
      envelope,
      signature: validators[0]!.sign(envelopeSigningBytes(envelope)),
    });
    chain.submitted = [];
    chain.commit([bad, v2], []);
    // validator 1 too must check its (altered) shares: nobody has t = 2 valid ones yet
    expect(chain.ordered.at(-1)!.txs!.txs).toEqual([]);
    for (const st of chain.states) {
      expect(st.pending.length).toBe(1);
      expect([...st.pending[0]!.shares.keys()]).toEqual([2]);
    }
    chain.commit([v3], []);
    const out = chain.ordered.at(-1)!.txs!.txs;
    expect(out.map((t) => (t.tx.tag === 'ok' ? new TextDecoder().decode(t.tx.value) : t.tx.value))).toEqual([
      'secret',
    ]);
    for (const st of chain.states) expect(st.pending.length).toBe(0);
  });

  it('bad input from the chain (garbage, wrong instance, bad signature, replays) is discarded with a reason, identically, never a crash', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 8 }), (garbage) => {
        const chain = new Chain();
        chain.commit(garbage);
        const out = chain.ordered.at(-1)!.txs!;
        expect(out.txs.length).toBe(garbage.length);
        for (const t of out.txs) expect(t.tx.tag).toBe('discarded');
      }),
      propParams('decryptor.garbage', 100),
    );
    const chain = new Chain();
    const plain = clientEnvelope({ tag: 'plain', value: Uint8Array.of(1) }, 1n);
    const decoded = tryDecode(SignedEnvelope, plain);
    if (!decoded.ok) throw new Error('unreachable');
    const wrongInstance = encode(SignedEnvelope, {
      ...decoded.value,
      envelope: { ...decoded.value.envelope, instance: 'other' },
    });
    const badSig = encode(SignedEnvelope, {
      envelope: { ...decoded.value.envelope, nonce: 2n },
      signature: decoded.value.signature,
    });
    chain.commit([plain, wrongInstance, badSig, plain]);
    const reasons = chain.ordered.at(-1)!.txs!.txs.map((t) => (t.tx.tag === 'ok' ? 'ok' : t.tx.value));
    expect(reasons).toEqual(['ok', 'wrong-instance', 'bad-signature', 'replay']);
  });
});
