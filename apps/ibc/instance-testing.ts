/**
 * Test instances for the IBC host: each has a real ledger (notes, spent set, sparse Merkle tree on
 * memory storage) and a fake chain of real signed headers whose app roots are the ledger's roots.
 * A block runs host transactions the way the executor would (the host predicate's check, then the
 * commit phase's rules), is sealed, and the next header commits to the state after it. A relay
 * helper proves paths with the tree and updates the other side's client in the same transaction.
 */
import { Ledger } from '../../engines/executor/ledger.ts';
import { type Note, Note as NoteSchema, type Transaction } from '../../engines/executor/notes.ts';
import { acceptedReceipt, commitPhase, type WriteSet } from '../../engines/executor/phases.ts';
import { MemoryStorage } from '../../storage/memory.ts';
import { concatBytes } from '../../wire/bytes.ts';
import { decode, encode } from '../../wire/schema.ts';
import { verify } from '../../wire/sign.ts';
import { encodeVarint } from '../../wire/varint.ts';
import { ORDERING, readSequence } from './ends.ts';
import type { IbcMsg, PortModule } from './handlers.ts';
import {
  checkHostTransaction,
  type HostEvent,
  type HostMsg,
  hostModules,
  IbcProof,
  ibcHostPredicate,
  ibcPayload,
  runHost,
} from './host.ts';
import { hostStateKey, ibcPrefix, objectKey, parseObjectKey } from './notes.ts';
import { channelPath, connectionPath } from './paths.ts';
import { FakeInstance, testParams } from './testing.ts';
import { expectedOutputs, recordingView, type Version } from './versions.ts';

const NOTE_PREFIX = new TextEncoder().encode('x/n/');
/** The executor's commit rules with every key allowed (the host predicate is what is tested). */
const ANY_KEY: Transaction = {
  stateReadConstraints: [new Uint8Array(0)],
  stateWriteConstraints: [new Uint8Array(0)],
  lookupCode: { vm: 0n, code: new Uint8Array(0) },
  calculationCode: { vm: 0n, code: new Uint8Array(0) },
  extradata: new Uint8Array(0),
};

/** Token notes a transaction consumes and creates beside its host notes (the inputs must exist). */
export interface TokenNotes {
  readonly inputs: readonly Note[];
  readonly outputs: readonly Note[];
}

export type BlockResult = { ok: true; events: readonly HostEvent[] } | { ok: false; reason: string };

export class TestInstance {
  readonly chain: FakeInstance;
  readonly ledger = new Ledger(new MemoryStorage());
  readonly host: Uint8Array;
  /** the client this instance keeps of the other, once created */
  clientOfOther = '';
  /** the other's newest header that client holds */
  trustedOfOther = 0n;

  constructor(
    readonly chainId: string,
    readonly modules: ReadonlyMap<string, PortModule>,
    seed = chainId,
  ) {
    this.chain = new FakeInstance({ chainId, seed, validators: 4 });
    this.host = ibcHostPredicate(chainId).commitment;
    // header 1 commits to the empty state before block 1
    this.chain.produce({ appRoot: this.ledger.tree.root() });
  }

  /** The height of the block being built: its header exists, its state root is the next header's. */
  get height(): bigint {
    return this.chain.height;
  }

  get time(): bigint {
    return this.chain.signed(this.height).header.time;
  }

  /** The live version of `path`, if any (a scan of the host's notes keyed by it). */
  current(path: string): Version | undefined {
    const key = objectKey(path, 0n);
    const prefix = concatBytes(
      NOTE_PREFIX,
      ibcPrefix(this.host),
      encodeVarint(key.length),
      key.subarray(0, key.length - 8),
    );
    for (const [, raw] of this.ledger.storage.scan(prefix)) {
      const note = decode(NoteSchema, raw);
      const at = parseObjectKey(note.key);
      if (at !== undefined && at.path === path) return { version: at.version, value: note.value };
    }
    return undefined;
  }

  /**
   * Runs one transaction of host messages in the block being built, as the executor would; the
   * notes it consumes are the paths the messages read. `tamper` may change the created notes
   * (to show the predicate refuses). Seals the block and produces the next header either way.
   */
  block(msgs: readonly HostMsg[], tamper?: (outputs: Note[]) => Note[], tokens?: TokenNotes): BlockResult {
    const result = this.execute(msgs, tamper, tokens);
    this.seal(result.ok ? result.writes : undefined);
    return result.ok ? { ok: true, events: result.events } : result;
  }

  private execute(
    msgs: readonly HostMsg[],
    tamper?: (outputs: Note[]) => Note[],
    tokens?: TokenNotes,
  ):
    | {
        ok: true;
        events: readonly HostEvent[];
        writes: WriteSet;
      }
    | { ok: false; reason: string } {
    const block = { height: this.height, time: this.time, prefix: this.host };
    const { view, reads } = recordingView((p) => this.current(p), block);
    const dry = runHost(view, msgs, verify, hostModules(this.chainId, this.modules));
    if (!dry.ok) return { ok: false, reason: `${dry.reason}: ${dry.detail}` };
    const inputs = [...[...reads].map(([path, r]) => this.noteAt(path, r)), ...(tokens?.inputs ?? [])];
    let outputs = [...expectedOutputs(this.host, reads, dry.writes), ...(tokens?.outputs ?? [])];
    if (tamper !== undefined) outputs = tamper(outputs);
    const payload = ibcPayload(msgs);
    const verdict = checkHostTransaction(
      { commitment: this.host, chainId: this.chainId },
      { inputs, outputs, payload, height: block.height, time: block.time },
      verify,
      this.modules,
    );
    if (!verdict.ok) return verdict;
    const committed = commitPhase(ANY_KEY, inputs, outputs, this.ledger.notes, 0);
    if (!committed.ok) return { ok: false, reason: `commit: ${committed.receipt.reason}` };
    return { ok: true, events: verdict.events, writes: committed.value };
  }

  private noteAt(path: string, r: Version): Note {
    return {
      provenance: [],
      application: this.host,
      owner: this.host,
      key: objectKey(path, r.version),
      value: r.value,
    };
  }

  private seal(writes: WriteSet | undefined): void {
    const h = this.height;
    this.ledger.seal(
      h,
      writes === undefined ? [] : [acceptedReceipt(0)],
      writes === undefined ? [] : [writes],
    );
    this.chain.produce({ appRoot: this.ledger.tree.root() });
  }

  /** An empty block. */
  skip(n = 1): void {
    for (let i = 0; i < n; i++) this.seal(undefined);
  }

  /** A proof of `path` (its live version, or version 0 when absent) against the latest header's root. */
  prove(path: string): Uint8Array {
    const at = this.current(path);
    const version = at?.version ?? 0n;
    const merkle = this.ledger.tree.prove(hostStateKey(this.host, path, version));
    return encode(IbcProof, { version, merkle });
  }

  /** The next counter value at `path` (0 when never written). */
  counter(path: string): bigint {
    return readSequence(this.current(path)?.value) ?? 0n;
  }
}

/** `to`'s client of `from` brought to `from`'s latest header: the message a relay puts first. */
export function updateTo(to: TestInstance, from: TestInstance, trustedHeight: bigint): HostMsg {
  return {
    tag: 'client',
    value: {
      tag: 'updateClient',
      value: { clientId: to.clientOfOther, header: from.chain.update(from.height, trustedHeight) },
    },
  };
}

/** Each instance creates a client of the other, trusting its current header. */
export function createClients(a: TestInstance, b: TestInstance): void {
  for (const [to, from] of [
    [a, b],
    [b, a],
  ] as const) {
    const r = to.block([
      {
        tag: 'client',
        value: {
          tag: 'createClient',
          value: { params: testParams(from.chainId), ...from.chain.trustedAt(from.height) },
        },
      },
    ]);
    if (!r.ok) throw new Error(`createClient on ${to.chainId}: ${r.reason}`);
    const e = r.events[0];
    if (e?.kind !== 'client-created') throw new Error('no client-created event');
    to.clientOfOther = e.clientId;
    to.trustedOfOther = e.height;
  }
}

/**
 * A relay's transaction on `to`: `to`'s client of `from` brought to `from`'s latest header when it
 * is behind, then `msgs(proofHeight)` with proofs at that header.
 */
export function relay(
  to: TestInstance,
  from: TestInstance,
  msgs: (proofHeight: bigint) => HostMsg[],
  tamper?: (outputs: Note[]) => Note[],
  tokens?: TokenNotes,
): BlockResult {
  const behind = to.trustedOfOther < from.height;
  const update = behind ? [updateTo(to, from, to.trustedOfOther)] : [];
  const r = to.block([...update, ...msgs(from.height)], tamper, tokens);
  if (r.ok && behind) to.trustedOfOther = from.height;
  return r;
}

const ibc = (value: IbcMsg): HostMsg => ({ tag: 'ibc', value });

function ok(r: BlockResult): readonly HostEvent[] {
  if (!r.ok) throw new Error(r.reason);
  return r.events;
}

/**
 * Clients of each other, a connection and an unordered channel on `port`, each step relayed with
 * real proofs. Returns the channel ids on a and on b.
 */
export function connectInstances(
  a: TestInstance,
  b: TestInstance,
  port: string,
  version: string,
): { aChan: string; bChan: string } {
  createClients(a, b);
  const ci = ok(
    a.block([
      ibc({
        tag: 'connOpenInit',
        value: {
          clientId: a.clientOfOther,
          counterpartyClientId: b.clientOfOther,
          counterpartyPrefix: b.host,
        },
      }),
    ]),
  );
  const aConn = (ci.find((e) => e.kind === 'connection') as { connectionId: string }).connectionId;
  const ct = ok(
    relay(b, a, (h) => [
      ibc({
        tag: 'connOpenTry',
        value: {
          clientId: b.clientOfOther,
          counterpartyClientId: a.clientOfOther,
          counterpartyConnectionId: aConn,
          counterpartyPrefix: a.host,
          proofInit: a.prove(connectionPath(aConn)),
          proofHeight: h,
        },
      }),
    ]),
  );
  const bConn = (ct.find((e) => e.kind === 'connection') as { connectionId: string }).connectionId;
  ok(
    relay(a, b, (h) => [
      ibc({
        tag: 'connOpenAck',
        value: {
          connectionId: aConn,
          counterpartyConnectionId: bConn,
          proofTry: b.prove(connectionPath(bConn)),
          proofHeight: h,
        },
      }),
    ]),
  );
  ok(
    relay(b, a, (h) => [
      ibc({
        tag: 'connOpenConfirm',
        value: { connectionId: bConn, proofAck: a.prove(connectionPath(aConn)), proofHeight: h },
      }),
    ]),
  );
  const oi = ok(
    a.block([
      ibc({
        tag: 'chanOpenInit',
        value: {
          port: port,
          connectionId: aConn,
          counterpartyPort: port,
          ordering: ORDERING.unordered,
          version: version,
        },
      }),
    ]),
  );
  const aChan = (oi.find((e) => e.kind === 'channel') as { channel: string }).channel;
  const ot = ok(
    relay(b, a, (h) => [
      ibc({
        tag: 'chanOpenTry',
        value: {
          port: port,
          connectionId: bConn,
          counterpartyPort: port,
          counterpartyChannel: aChan,
          ordering: ORDERING.unordered,
          version: version,
          proofInit: a.prove(channelPath(port, aChan)),
          proofHeight: h,
        },
      }),
    ]),
  );
  const bChan = (ot.find((e) => e.kind === 'channel') as { channel: string }).channel;
  ok(
    relay(a, b, (h) => [
      ibc({
        tag: 'chanOpenAck',
        value: {
          port: port,
          channel: aChan,
          counterpartyChannel: bChan,
          proofTry: b.prove(channelPath(port, bChan)),
          proofHeight: h,
        },
      }),
    ]),
  );
  ok(
    relay(b, a, (h) => [
      ibc({
        tag: 'chanOpenConfirm',
        value: { port: port, channel: bChan, proofAck: a.prove(channelPath(port, aChan)), proofHeight: h },
      }),
    ]),
  );
  return { aChan, bChan };
}
