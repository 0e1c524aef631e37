/**
 * The decryptor engine in a graph: its phases follow the pure state, every committed block is
 * logged before it is processed, and a restart replays the log to the same state without
 * re-submitting during the replay, then announces the key and re-sends what is due.
 */
import { describe, expect, it } from 'vitest';
import { encryptionKeyPair } from '../../crypto/dkg.ts';
import { Ciphertext, encrypt } from '../../crypto/tdh2.ts';
import { EngineGraph } from '../../runtime/graph.ts';
import { SimScheduler } from '../../runtime/scheduler.ts';
import { SimKeyring } from '../../sim/signer.ts';
import { MemoryStorage } from '../../storage/memory.ts';
import { sha256, toHex } from '../../wire/commit.ts';
import type { EpochKey } from '../../wire/envelope.ts';
import { type Envelope, envelopeSigningBytes, labelBytes, SignedEnvelope } from '../../wire/envelope.ts';
import type { OrderedBlock } from '../../wire/ledger.ts';
import { encode, tryDecode } from '../../wire/schema.ts';
import { bareCommittedBlock } from '../../wire/testing.ts';
import { decryptorEngine } from './engine.ts';
import { createDecryptorMachine, type DecryptorContext, phaseOf } from './machine.ts';
import { type DecryptorConfig, type DecryptorState, initialState, onCommitted } from './pipeline.ts';
import { DecryptorStore } from './store.ts';

const INSTANCE = 'fractal-machine';
const keyring = new SimKeyring();
const validators = [0, 1, 2, 3].map((i) => keyring.signer(`machine-v${i}`));
const secrets = validators.map((_, i) => sha256(new TextEncoder().encode(`machine-secret-${i}`)));
const client = keyring.signer('machine-client');
const WINDOWS = { dkgStart: 1n, dealWindow: 2, complaintWindow: 1 }; // key at height 3

const config = (i: number | undefined): DecryptorConfig => ({
  instance: INSTANCE,
  validators: validators.map((v, j) => ({
    publicKey: v.publicKey,
    encryptionKey: encryptionKeyPair(secrets[j]!).publicKey,
  })),
  threshold: 2,
  ...(i === undefined ? {} : { secret: secrets[i]! }),
  ...WINDOWS,
});
const block = (height: bigint, txs: Uint8Array[]) => bareCommittedBlock(INSTANCE, height, txs);

/** Validator 1's decryptor engine alone in a graph over `storage`. */
function engine(storage: MemoryStorage, i: number | undefined = 0) {
  const scheduler = new SimScheduler(1);
  const g = new EngineGraph({
    node: 'n0',
    scheduler,
    seed: 1,
    storage,
    ...(i === undefined ? {} : { signer: validators[i]! }),
    verify: keyring.verify,
  });
  const d = g.add('decryptor', decryptorEngine, config(i));
  const ordered: OrderedBlock[] = [];
  const submitted: { id: string; bytes: Uint8Array }[] = [];
  const keys: EpochKey[] = [];
  g.observe(d.out.ordered).subscribe((o) => ordered.push(o));
  g.observe(d.out.submit).subscribe((s) => submitted.push(s));
  g.observe(d.out.epochKey).subscribe((k) => keys.push(k));
  g.start();
  scheduler.run({ maxTime: scheduler.now() });
  return {
    ordered,
    submitted,
    keys,
    commit(height: bigint, txs: Uint8Array[] = []) {
      g.send(d.in.committed, block(height, txs));
      scheduler.run({ maxTime: scheduler.now() });
    },
    phase: () => g.instance('decryptor').stateString(),
    state: () => g.instance('decryptor').context<DecryptorContext>().state,
  };
}

/** Validators 2..4 as pure pipelines beside the engine: they see the same blocks, and return what they submit. */
class Others {
  states: DecryptorState[] = [1, 2, 3].map((i) => initialState(config(i)));
  commit(height: bigint, txs: Uint8Array[]): Uint8Array[] {
    const sent: Uint8Array[] = [];
    for (const [k, i] of [1, 2, 3].entries()) {
      const r = onCommitted(config(i), this.states[k]!, block(height, txs), {
        signer: validators[i]!,
        verify: keyring.verify,
      });
      this.states[k] = r.state;
      sent.push(...r.out.submit);
    }
    return sent;
  }
}

function encryptedTx(state: DecryptorState, plaintext: Uint8Array, nonce: bigint): Uint8Array {
  const label = labelBytes({ instance: INSTANCE, epoch: 0n, payer: client.publicKey });
  const ct = encrypt(state.key!, plaintext, label, new Uint8Array(64).fill(7));
  const envelope: Envelope = {
    instance: INSTANCE,
    payer: client.publicKey,
    fee: 1n,
    nonce,
    expiry: 100n,
    body: { tag: 'encrypted', value: { epoch: 0n, ciphertext: encode(Ciphertext, ct) } },
  };
  return encode(SignedEnvelope, { envelope, signature: client.sign(envelopeSigningBytes(envelope)) });
}

const bodyTag = (bytes: Uint8Array) => {
  const e = tryDecode(SignedEnvelope, bytes);
  return e.ok ? e.value.envelope.body.tag : 'undecodable';
};

describe('decryptor engine', () => {
  it('needs storage for its block log', () => {
    const host = { node: 'n', engine: 'decryptor', storage: undefined, signer: undefined, verify: undefined };
    expect(() => createDecryptorMachine(host)).toThrow(/needs storage/);
  });

  it('names its phase after the pure state', () => {
    const s = initialState(config(undefined));
    expect(phaseOf(s)).toBe('keying');
    expect(phaseOf({ ...s, keyFailure: 'too-few-qualified (qualified none)' })).toBe('keyless');
    const key = { publicKey: new Uint8Array(32), verificationKeys: [], threshold: 2 };
    expect(phaseOf({ ...s, key })).toBe('ready');
    const batch = {
      height: 1n,
      blockHash: new Uint8Array(32),
      entries: [],
      valid: [],
      shares: new Map(),
      sentAt: undefined,
    };
    expect(phaseOf({ ...s, key, pending: [batch] })).toBe('decrypting');
    // a failure wins over a key
    expect(phaseOf({ ...s, key, keyFailure: 'x' })).toBe('keyless');
  });

  it('keys, decrypts, and follows keying -> ready -> decrypting -> ready, submitting as it goes', () => {
    const storage = new MemoryStorage();
    const v1 = engine(storage);
    const others = new Others();
    expect(v1.phase()).toBe('keying');
    let theirs = others.commit(1n, []);
    v1.commit(1n);
    // its deal, named by its hash
    expect(v1.submitted.map((s) => bodyTag(s.bytes))).toEqual(['dkg']);
    expect(v1.submitted[0]!.id).toBe(`decryptor:${toHex(sha256(v1.submitted[0]!.bytes)).slice(0, 16)}`);
    const deals = [v1.submitted[0]!.bytes, ...theirs];
    others.commit(2n, deals);
    v1.commit(2n, deals);
    expect(v1.phase()).toBe('keying');
    expect(v1.keys).toEqual([]);
    others.commit(3n, []);
    v1.commit(3n);
    expect(v1.phase()).toBe('ready');
    expect(v1.keys.length).toBe(1);
    expect(v1.keys[0]!.publicKey).toEqual(v1.state().key!.publicKey);
    const tx = encryptedTx(v1.state(), new TextEncoder().encode('hidden'), 1n);
    theirs = others.commit(4n, [tx]);
    v1.commit(4n, [tx]);
    expect(v1.phase()).toBe('decrypting');
    const mine = v1.submitted.filter((s) => bodyTag(s.bytes) === 'shares');
    expect(mine.length).toBe(1);
    expect(v1.ordered.map((o) => o.height)).toEqual([1n, 2n, 3n, 4n]);
    v1.commit(5n, [mine[0]!.bytes, theirs[0]!]);
    expect(v1.phase()).toBe('ready');
    const last = v1.ordered.at(-1)!;
    expect(last.txs.map((t) => t.tx)).toEqual([{ tag: 'ok', value: new TextEncoder().encode('hidden') }]);
    expect([...new DecryptorStore(storage).blocks()].map((b) => b.block.header.height)).toEqual([
      1n,
      2n,
      3n,
      4n,
      5n,
    ]);
  });

  it('goes keyless when the DKG fails', () => {
    const v1 = engine(new MemoryStorage());
    for (let h = 1n; h <= 3n; h++) v1.commit(h);
    expect(v1.phase()).toBe('keyless');
    expect(v1.keys).toEqual([]);
  });

  it('restarts from its block log: same state, nothing sent during the replay, then what is due', () => {
    const storage = new MemoryStorage();
    const v1 = engine(storage);
    const others = new Others();
    const theirs = others.commit(1n, []);
    v1.commit(1n);
    const deals = [v1.submitted[0]!.bytes, ...theirs];
    v1.commit(2n, deals);
    v1.commit(3n);
    v1.commit(4n, [encryptedTx(v1.state(), Uint8Array.of(1), 1n)]);
    const before = v1.state();
    expect(before.pending.length).toBe(1);
    expect(before.pending[0]!.sentAt).toBe(4n);
    // an old block again (the app replaying) is not logged over the one processed
    v1.commit(2n, []);
    expect(v1.state()).toBe(before);
    expect(v1.ordered.length).toBe(4);
    expect(v1.submitted.length).toBe(2);

    const again = engine(storage);
    // the key is announced at once, nothing else is sent
    expect(again.keys.length).toBe(1);
    expect(again.keys[0]).toEqual({
      epoch: 0n,
      publicKey: before.key!.publicKey,
      threshold: 2,
      verificationKeys: before.key!.verificationKeys,
    });
    expect(again.submitted).toEqual([]);
    expect(again.ordered).toEqual([]);
    expect(again.phase()).toBe('decrypting');
    const s = again.state();
    expect(s.height).toBe(4n);
    expect(s.transcript).toEqual(before.transcript);
    expect(s.myShare).toEqual(before.myShare);
    // whatever it had sent may be lost: sent again at the next block
    expect(s.pending.map((b) => b.sentAt)).toEqual([undefined]);
    expect(s.dealSentAt).toBe(undefined);
    again.commit(5n);
    expect(again.submitted.map((x) => bodyTag(x.bytes))).toEqual(['shares']);
  });

  it('a restarted node without a key announces none', () => {
    const storage = new MemoryStorage();
    const v1 = engine(storage);
    v1.commit(1n);
    const again = engine(storage);
    expect(again.keys).toEqual([]);
    expect(again.phase()).toBe('keying');
    expect(again.state().height).toBe(1n);
  });
});
