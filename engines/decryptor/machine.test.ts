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
import { type BatchOp, type Storage, StorageError } from '../../storage/types.ts';
import { sha256, toHex } from '../../wire/commit.ts';
import type { EpochKey } from '../../wire/envelope.ts';
import { type Envelope, envelopeSigningBytes, labelBytes, SignedEnvelope } from '../../wire/envelope.ts';
import type { OrderedBlock } from '../../wire/ledger.ts';
import { encode, tryDecode } from '../../wire/schema.ts';
import type { Signer } from '../../wire/sign.ts';
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

/** Validator 1's decryptor engine alone in a graph over `storage` (frozen contexts: a write in place throws). */
function engine(
  storage: Storage,
  i: number | undefined = 0,
  signer: Signer | undefined = validators[i ?? 0],
) {
  const scheduler = new SimScheduler(1);
  const g = new EngineGraph({
    node: 'n0',
    scheduler,
    seed: 1,
    storage,
    ...(i === undefined || signer === undefined ? {} : { signer }),
    verify: keyring.verify,
    freezeContexts: true,
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
    context: () => g.instance('decryptor').context<DecryptorContext>(),
    restarts: () => g.instance('decryptor').restarts,
    status: () => g.instance('decryptor').status,
  };
}

/** Memory storage whose batches fail with `full` while `failing` is set. */
class FillingStorage extends MemoryStorage {
  failing = false;
  override batch(ops: readonly BatchOp[]): void {
    if (this.failing) throw new StorageError('full', 'no space left on device');
    super.batch(ops);
  }
}

/** Validator 1's signer, except that signing throws while `failing` is set. */
function flakySigner(): Signer & { failing: boolean } {
  const inner = validators[0]!;
  return {
    failing: false,
    publicKey: inner.publicKey,
    sign(message: Uint8Array): Uint8Array {
      if (this.failing) throw new Error('signer unavailable');
      return inner.sign(message);
    },
  } as Signer & { failing: boolean };
}

/** The first five blocks of a keyed run with one encrypted transaction at height 4, as validator 1 sees them. */
function keyedRun(v1: ReturnType<typeof engine>) {
  const others = new Others();
  const blocks: Uint8Array[][] = [];
  let theirs = others.commit(1n, []);
  v1.commit(1n);
  const deals = [v1.submitted[0]!.bytes, ...theirs];
  blocks.push([], deals, []);
  others.commit(2n, deals);
  v1.commit(2n, deals);
  others.commit(3n, []);
  v1.commit(3n);
  const tx = encryptedTx(v1.state(), new TextEncoder().encode('hidden'), 1n);
  theirs = others.commit(4n, [tx]);
  return { tx, theirs, blocks };
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

  it('names the phase a restart resumes in after the pure state', () => {
    const cfg = config(undefined);
    const s = initialState(cfg);
    expect(phaseOf(cfg, s)).toBe('dealing');
    // the deal window is heights 1 and 2: after height 2 the next block is a complaint-window one
    expect(phaseOf(cfg, { ...s, height: 1n })).toBe('dealing');
    expect(phaseOf(cfg, { ...s, height: 2n })).toBe('complaining');
    expect(phaseOf(cfg, { ...s, keyFailure: 'too-few-qualified (qualified none)' })).toBe('keyless');
    const key = { publicKey: new Uint8Array(32), verificationKeys: [], threshold: 2 };
    expect(phaseOf(cfg, { ...s, key })).toBe('ready');
    const batch = {
      height: 1n,
      blockHash: new Uint8Array(32),
      entries: [],
      valid: [],
      shares: new Map(),
      sentAt: undefined,
    };
    expect(phaseOf(cfg, { ...s, key, pending: [batch] })).toBe('awaitingShares');
    // a failure wins over a key
    expect(phaseOf(cfg, { ...s, key, keyFailure: 'x' })).toBe('keyless');
  });

  it('deals, complains, keys, decrypts: dealing -> complaining -> ready -> awaitingShares -> ready', () => {
    const storage = new MemoryStorage();
    const v1 = engine(storage);
    const others = new Others();
    expect(v1.phase()).toBe('keying.dealing');
    let theirs = others.commit(1n, []);
    v1.commit(1n);
    // its deal, named by its hash
    expect(v1.submitted.map((s) => bodyTag(s.bytes))).toEqual(['dkg']);
    expect(v1.submitted[0]!.id).toBe(`decryptor:${toHex(sha256(v1.submitted[0]!.bytes)).slice(0, 16)}`);
    const deals = [v1.submitted[0]!.bytes, ...theirs];
    others.commit(2n, deals);
    v1.commit(2n, deals);
    expect(v1.phase()).toBe('keying.complaining');
    expect(v1.keys).toEqual([]);
    others.commit(3n, []);
    v1.commit(3n);
    expect(v1.phase()).toBe('keyed.ready');
    expect(v1.keys.length).toBe(1);
    expect(v1.keys[0]!.publicKey).toEqual(v1.state().key!.publicKey);
    const tx = encryptedTx(v1.state(), new TextEncoder().encode('hidden'), 1n);
    theirs = others.commit(4n, [tx]);
    v1.commit(4n, [tx]);
    expect(v1.phase()).toBe('keyed.awaitingShares');
    const mine = v1.submitted.filter((s) => bodyTag(s.bytes) === 'shares');
    expect(mine.length).toBe(1);
    expect(v1.ordered.map((o) => o.height)).toEqual([1n, 2n, 3n, 4n]);
    v1.commit(5n, [mine[0]!.bytes, theirs[0]!]);
    expect(v1.phase()).toBe('keyed.ready');
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
    expect(again.phase()).toBe('keyed.awaitingShares');
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
    expect(again.phase()).toBe('keying.dealing');
    expect(again.state().height).toBe(1n);
  });

  it('takes the steps of the pure pipeline: the same state and the same output at every height', () => {
    const v1 = engine(new MemoryStorage());
    const { tx, theirs, blocks } = keyedRun(v1);
    v1.commit(4n, [tx]);
    const mine = v1.submitted.filter((x) => bodyTag(x.bytes) === 'shares');
    v1.commit(5n, [mine[0]!.bytes, theirs[0]!]);
    let pure = initialState(config(0));
    const ordered: OrderedBlock[] = [];
    const submitted: Uint8Array[] = [];
    for (const [i, txs] of [...blocks, [tx], [mine[0]!.bytes, theirs[0]!]].entries()) {
      const r = onCommitted(config(0), pure, block(BigInt(i + 1), txs), {
        signer: validators[0]!,
        verify: keyring.verify,
      });
      pure = r.state;
      if (r.out.ordered !== undefined) ordered.push(r.out.ordered);
      submitted.push(...r.out.submit);
    }
    expect(v1.state()).toEqual(pure);
    expect(v1.ordered).toEqual(ordered);
    expect(v1.submitted.map((x) => x.bytes)).toEqual(submitted);
  });

  it('a step that throws after most of its work (signing its shares) restarts from exactly the context before, logging and emitting nothing', () => {
    const storage = new MemoryStorage();
    const signer = flakySigner();
    const v1 = engine(storage, 0, signer);
    const { tx } = keyedRun(v1);
    const before = v1.context();
    const sent = { ordered: v1.ordered.length, submitted: v1.submitted.length, keys: v1.keys.length };
    // block 4: logged, checked, queued, its shares made; signing them (the last step) throws
    signer.failing = true;
    v1.commit(4n, [tx]);
    expect(v1.restarts()).toBe(1);
    expect(v1.context()).toBe(before);
    expect(v1.phase()).toBe('keyed.ready');
    expect({ ordered: v1.ordered.length, submitted: v1.submitted.length, keys: v1.keys.length }).toEqual(
      sent,
    );
    expect([...new DecryptorStore(storage).blocks()].map((b) => b.block.header.height)).toEqual([1n, 2n, 3n]);
    // the same block once the signer is back: processed as if the failure had not happened
    signer.failing = false;
    v1.commit(4n, [tx]);
    expect(v1.phase()).toBe('keyed.awaitingShares');
    expect(v1.state().height).toBe(4n);
    expect(v1.submitted.slice(sent.submitted).map((x) => bodyTag(x.bytes))).toEqual(['shares']);
    expect(v1.ordered.map((o) => o.height)).toEqual([1n, 2n, 3n, 4n]);
  });

  it('a block whose log write fails is not processed: nothing leaves, the context stays, the engine stops', () => {
    const storage = new FillingStorage();
    const v1 = engine(storage);
    v1.commit(1n);
    const before = v1.context();
    const sent = { ordered: v1.ordered.length, submitted: v1.submitted.length };
    storage.failing = true;
    v1.commit(2n);
    // a full disk is not cured by a restart: the engine stops, still at the context before the block
    expect(v1.status()).toBe('failed');
    expect(v1.context).toThrow(/not running/);
    expect({ ordered: v1.ordered.length, submitted: v1.submitted.length }).toEqual(sent);
    expect([...new DecryptorStore(storage).blocks()].map((b) => b.block.header.height)).toEqual([1n]);
    // restarted over the same storage once there is room, it resumes where the log ends
    storage.failing = false;
    const again = engine(storage);
    // (what it had sent is forgotten on a restart, to be sent again when due)
    expect(again.state()).toEqual({ ...before.state, dealSentAt: undefined });
    again.commit(2n);
    expect(again.state().height).toBe(2n);
  });
});
