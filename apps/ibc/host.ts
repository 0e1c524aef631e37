/**
 * The IBC host of a Fractal instance (README.md, "State as notes"): client messages, the
 * counterparty as this host's light clients and the sparse Merkle tree prove it, and the check a
 * transaction's host notes must pass. The native predicate wraps `checkHostTransaction`.
 */
import { nativeFn, predicateCommitment } from '../../engines/executor/natives.ts';
import { Note } from '../../engines/executor/notes.ts';
import { MerkleProofSchema, verifyProof } from '../../storage/merkle.ts';
import { BlockHeader } from '../../wire/ledger.ts';
import { encode, type FunctionValue, type Infer, s, tryDecode } from '../../wire/schema.ts';
import type { Verifier } from '../../wire/sign.ts';
import { bytesEqual } from '../../wire/types.ts';
import { SignedPayload } from '../token/format.ts';
import { accountsMismatch, actualEffects, requiredEffects, transferAcknowledgement } from './accounting.ts';
import {
  Client,
  ClientHeader,
  ClientParams,
  consensusStateAt,
  createClient,
  Misbehaviour,
  submitMisbehaviour,
  ValidatorSetWire,
  verifyHeader,
} from './client.ts';
import { encodeSequence, readSequence } from './ends.ts';
import {
  type Counterparty,
  type HostView,
  handle,
  type IbcEvent,
  IbcMsg,
  type IbcRefusal,
  MAX_MESSAGES,
  type PortModule,
  type Write,
} from './handlers.ts';
import { hostStateKey, ibcNote } from './notes.ts';
import { clientStatePath, IDENTIFIER_LENGTH } from './paths.ts';
import { TRANSFER_PORT } from './transfer.ts';
import { expectedOutputs, isWriteOnce, readsOf, sameNotes, viewOf } from './versions.ts';

export const IBC_HOST_NAME = 'ibc-host';
export const IBC_HOST_VERSION = '1';

/** The host predicate's configuration: the instance it runs on. */
export const HostConfig = s.struct({ chainId: s.string({ max: 64 }) });
export type HostConfig = Infer<typeof HostConfig>;

/** The host predicate of instance `chainId`: its code and the commitment its notes carry. */
export function ibcHostPredicate(chainId: string): { fn: FunctionValue; commitment: Uint8Array } {
  const fn = nativeFn(IBC_HOST_NAME, IBC_HOST_VERSION, encode(HostConfig, { chainId }));
  return { fn, commitment: predicateCommitment(fn) };
}

/** Where the host counts the clients it created. */
export const CLIENT_COUNTER_PATH = 'host/nextClient';
/** `07-fractal-{n}`: the client type of a Fractal instance, ICS-24 style. */
export const clientIdOf = (n: bigint): string => `07-fractal-${n}`;

const ClientId = s.string({ max: IDENTIFIER_LENGTH.client.max });

/** ICS-02 client messages. */
export const ClientMsg = s.variant({
  createClient: s.struct({ params: ClientParams, header: BlockHeader, validators: ValidatorSetWire }),
  updateClient: s.struct({ clientId: ClientId, header: ClientHeader }),
  submitMisbehaviour: s.struct({ clientId: ClientId, misbehaviour: Misbehaviour }),
});
export type ClientMsg = Infer<typeof ClientMsg>;

export const HostMsg = s.variant({ client: ClientMsg, ibc: IbcMsg });
export type HostMsg = Infer<typeof HostMsg>;

/** A proof of a counterparty path: the version of the note holding it, and the Merkle proof of its key. */
export const IbcProof = s.struct({ version: s.u64(), merkle: MerkleProofSchema });
export type IbcProof = Infer<typeof IbcProof>;

/** The body of an IBC transaction's SignedPayload (apps/token): the host messages, run in order. */
export const IbcBody = s.struct({ msgs: s.list(HostMsg, { max: MAX_MESSAGES }) });
export type IbcBody = Infer<typeof IbcBody>;

/**
 * The Declared payload of an IBC transaction: a SignedPayload whose signatures the token's
 * predicates read (a transfer moves token notes) and whose body is the host messages.
 */
export function ibcPayload(
  msgs: readonly HostMsg[],
  signatures: SignedPayload['signatures'] = [],
): Uint8Array {
  return encode(SignedPayload, { signatures: [...signatures], body: encode(IbcBody, { msgs: [...msgs] }) });
}

/** The host messages of a payload, or undefined when it is not an IBC payload. */
export function hostMessagesOf(payload: Uint8Array): readonly HostMsg[] | undefined {
  const signed = tryDecode(SignedPayload, payload);
  if (!signed.ok) return undefined;
  const body = tryDecode(IbcBody, signed.value.body);
  return body.ok ? body.value.msgs : undefined;
}

export type HostEvent =
  | IbcEvent
  | { readonly kind: 'client-created'; readonly clientId: string; readonly height: bigint }
  | { readonly kind: 'client-updated'; readonly clientId: string; readonly height: bigint }
  | { readonly kind: 'client-frozen'; readonly clientId: string; readonly reason: string };

export type ClientRefusal = 'unknown-client' | 'client-refused';

export type HostOutcome =
  | { readonly ok: true; readonly writes: readonly Write[]; readonly events: readonly HostEvent[] }
  | {
      readonly ok: false;
      readonly reason: IbcRefusal | ClientRefusal;
      readonly detail: string;
      readonly index: number;
    };

function clientAt(get: (path: string) => Uint8Array | undefined, id: string): Client | undefined {
  const raw = get(clientStatePath(id));
  if (raw === undefined) return undefined;
  const r = tryDecode(Client, raw);
  return r.ok ? r.value : undefined;
}

/**
 * The counterparty as the host's clients know it: through the clients' consensus states, and
 * proofs that a note of the counterparty's host (ConnectionEnd.counterpartyPrefix is its
 * commitment) holds a path's value, checked against the consensus state's root.
 */
export function counterpartyOf(get: (path: string) => Uint8Array | undefined): Counterparty {
  const rootAt = (clientId: string, height: bigint): { root: Uint8Array } | string => {
    const client = clientAt(get, clientId);
    if (client === undefined) return `no client ${clientId}`;
    const at = consensusStateAt(client, height);
    if (!at.ok) return `client ${clientId}: ${at.reason} at height ${height}`;
    return { root: at.consensus.root };
  };
  const proofOf = (bytes: Uint8Array): IbcProof | string => {
    const r = tryDecode(IbcProof, bytes);
    return r.ok ? r.value : `malformed proof: ${r.error.message}`;
  };
  return {
    latest(clientId) {
      const client = clientAt(get, clientId);
      if (client === undefined || client.state.frozenAt !== null) return undefined;
      const at = consensusStateAt(client, client.state.latestHeight);
      return at.ok ? { height: at.consensus.height, time: at.consensus.time } : undefined;
    },
    consensusTime(clientId, height) {
      const client = clientAt(get, clientId);
      if (client === undefined) return undefined;
      const at = consensusStateAt(client, height);
      return at.ok ? at.consensus.time : undefined;
    },
    membership(target, height, path, value, bytes) {
      const root = rootAt(target.clientId, height);
      if (typeof root === 'string') return root;
      const proof = proofOf(bytes);
      if (typeof proof === 'string') return proof;
      const host = target.counterpartyPrefix;
      if (host.length !== 32) return 'the counterparty prefix is not a host commitment';
      const note = encode(Note, ibcNote(host, path, proof.version, value));
      return verifyProof(root.root, hostStateKey(host, path, proof.version), note, proof.merkle)
        ? undefined
        : `the proof does not show ${path} = the expected value at height ${height}`;
    },
    absence(target, height, path, bytes) {
      // only a write-once path stays at version 0: absence of another path's version 0 proves nothing
      if (!isWriteOnce(path)) return `absence of ${path} cannot be proven`;
      const root = rootAt(target.clientId, height);
      if (typeof root === 'string') return root;
      const proof = proofOf(bytes);
      if (typeof proof === 'string') return proof;
      if (proof.version !== 0n) return 'absence is proven of version 0';
      const host = target.counterpartyPrefix;
      if (host.length !== 32) return 'the counterparty prefix is not a host commitment';
      return verifyProof(root.root, hostStateKey(host, path, 0n), null, proof.merkle)
        ? undefined
        : `the proof does not show ${path} absent at height ${height}`;
    },
  };
}

type Get = (path: string) => Uint8Array | undefined;

function clientMessage(
  get: Get,
  m: ClientMsg,
  now: bigint,
  verify: Verifier,
): HostOutcome | { writes: Write[]; events: HostEvent[] } {
  const refuse = (reason: IbcRefusal | ClientRefusal, detail: string): HostOutcome => ({
    ok: false,
    reason,
    detail,
    index: -1,
  });
  switch (m.tag) {
    case 'createClient': {
      const made = createClient(m.value.params, { header: m.value.header, validators: m.value.validators });
      if (!made.ok) return refuse('client-refused', `createClient: ${made.reason}`);
      const n = readSequence(get(CLIENT_COUNTER_PATH)) ?? 0n;
      const id = clientIdOf(n);
      return {
        writes: [
          { path: CLIENT_COUNTER_PATH, value: encodeSequence(n + 1n) },
          { path: clientStatePath(id), value: encode(Client, made.client) },
        ],
        events: [{ kind: 'client-created', clientId: id, height: made.client.state.latestHeight }],
      };
    }
    case 'updateClient': {
      const client = clientAt(get, m.value.clientId);
      if (client === undefined) return refuse('unknown-client', `no client ${m.value.clientId}`);
      const r = verifyHeader(client, m.value.header, now, verify);
      if (r.ok) {
        const height = m.value.header.header.height;
        return r.added
          ? {
              writes: [{ path: clientStatePath(m.value.clientId), value: encode(Client, r.client) }],
              events: [{ kind: 'client-updated', clientId: m.value.clientId, height }],
            }
          : { writes: [], events: [] };
      }
      // a validly signed contradiction: the freeze is what the transaction writes
      if ('client' in r)
        return {
          writes: [{ path: clientStatePath(m.value.clientId), value: encode(Client, r.client) }],
          events: [{ kind: 'client-frozen', clientId: m.value.clientId, reason: r.reason }],
        };
      return refuse('client-refused', `updateClient ${m.value.clientId}: ${r.reason}`);
    }
    case 'submitMisbehaviour': {
      const client = clientAt(get, m.value.clientId);
      if (client === undefined) return refuse('unknown-client', `no client ${m.value.clientId}`);
      const r = submitMisbehaviour(client, m.value.misbehaviour, now, verify);
      if (!r.ok) return refuse('client-refused', `submitMisbehaviour ${m.value.clientId}: ${r.reason}`);
      return {
        writes: [{ path: clientStatePath(m.value.clientId), value: encode(Client, r.client) }],
        events: [{ kind: 'client-frozen', clientId: m.value.clientId, reason: r.kind }],
      };
    }
  }
}

/**
 * Host messages in order over `view`, each seeing the writes before it; all or nothing. Writes
 * are the last value of each path written (null: deleted).
 */
export function runHost(
  view: HostView,
  msgs: readonly HostMsg[],
  verify: Verifier,
  modules: ReadonlyMap<string, PortModule>,
): HostOutcome {
  if (msgs.length > MAX_MESSAGES)
    return {
      ok: false,
      reason: 'too-many-messages',
      detail: `at most ${MAX_MESSAGES} messages`,
      index: MAX_MESSAGES,
    };
  const written = new Map<string, Uint8Array | null>();
  const get: Get = (path) => {
    const mine = written.get(path);
    if (mine !== undefined) return mine ?? undefined;
    return view.get(path);
  };
  const overlay: HostView = { height: view.height, time: view.time, prefix: view.prefix, get };
  const cp = counterpartyOf(get);
  const events: HostEvent[] = [];
  for (let i = 0; i < msgs.length; i++) {
    const msg = msgs[i]!;
    const out =
      msg.tag === 'client'
        ? clientMessage(get, msg.value, view.time, verify)
        : handle(overlay, cp, modules, msg.value);
    if ('ok' in out && !out.ok) return { ok: false, reason: out.reason, detail: out.detail, index: i };
    for (const w of out.writes) written.set(w.path, w.value);
    events.push(...out.events);
  }
  return { ok: true, writes: [...written].map(([path, value]) => ({ path, value })), events };
}

/** What the host predicate is shown of a transaction. */
export interface HostTransaction {
  readonly inputs: readonly Note[];
  readonly outputs: readonly Note[];
  readonly payload: Uint8Array;
  readonly height: bigint;
  readonly time: bigint;
}

/** Who the host is: its commitment (its notes' application and owner) and its instance's chain id. */
export interface HostIdentity {
  readonly commitment: Uint8Array;
  readonly chainId: string;
}

/** The port modules of a host: ICS-20 on `transfer`, and any others given (tests bind their own). */
export function hostModules(
  chainId: string,
  extra: ReadonlyMap<string, PortModule> = new Map(),
): Map<string, PortModule> {
  const modules = new Map(extra);
  modules.set(TRANSFER_PORT, {
    onRecv: (packet, view) => transferAcknowledgement(packet, chainId, view.get),
  });
  return modules;
}

/** The channels whose escrow a transfer message may move. */
export function transferChannels(msgs: readonly HostMsg[]): { port: string; channel: string }[] {
  const out: { port: string; channel: string }[] = [];
  for (const m of msgs) {
    if (m.tag !== 'ibc') continue;
    const v = m.value;
    if (v.tag === 'sendPacket' && v.value.port === TRANSFER_PORT)
      out.push({ port: v.value.port, channel: v.value.channel });
    if (v.tag === 'recvPacket' && v.value.packet.destinationPort === TRANSFER_PORT)
      out.push({ port: TRANSFER_PORT, channel: v.value.packet.destinationChannel });
    if (
      (v.tag === 'acknowledgePacket' || v.tag === 'timeoutPacket') &&
      v.value.packet.sourcePort === TRANSFER_PORT
    )
      out.push({ port: TRANSFER_PORT, channel: v.value.packet.sourceChannel });
  }
  return out;
}

/**
 * The host predicate's verdict on a transaction: its consumed host notes are the paths its
 * messages read, its created host notes exactly what they write and hand on, and its token notes
 * do exactly what its transfer messages require (accounting.ts). Returns the events on success, a
 * reason otherwise.
 */
export function checkHostTransaction(
  host: HostIdentity,
  tx: HostTransaction,
  verify: Verifier,
  extraModules: ReadonlyMap<string, PortModule> = new Map(),
): { ok: true; events: readonly HostEvent[] } | { ok: false; reason: string } {
  const mine = (n: Note) => bytesEqual(n.application, host.commitment);
  const reads = readsOf(host.commitment, tx.inputs.filter(mine));
  if (typeof reads === 'string') return { ok: false, reason: reads };
  const msgs = hostMessagesOf(tx.payload);
  if (msgs === undefined) return { ok: false, reason: 'the payload is not an IBC payload' };
  if (msgs.length === 0) return { ok: false, reason: 'an IBC transaction carries at least one message' };
  const view = viewOf(reads, { height: tx.height, time: tx.time, prefix: host.commitment });
  const run = runHost(view, msgs, verify, hostModules(host.chainId, extraModules));
  if (!run.ok) return { ok: false, reason: `message ${run.index}: ${run.reason}: ${run.detail}` };
  // a repeat changes nothing here, but applications reading the messages (ICS-20) would count it
  // again: in a transaction every message must take effect
  const repeat = run.events.find((e) => e.kind === 'redundant');
  if (repeat !== undefined)
    return { ok: false, reason: `${repeat.message} of packet ${repeat.sequence} was answered already` };
  if (!sameNotes(expectedOutputs(host.commitment, reads, run.writes), tx.outputs.filter(mine)))
    return { ok: false, reason: 'the host notes created are not what the messages write and hand on' };
  const channels = transferChannels(msgs);
  if (channels.length > 0) {
    const ibcMsgs = msgs.flatMap((m) => (m.tag === 'ibc' ? [m.value] : []));
    const required = requiredEffects(host, view.get, ibcMsgs);
    if (typeof required === 'string') return { ok: false, reason: required };
    const actual = actualEffects(host.chainId, tx.inputs, tx.outputs, channels);
    const mismatch = accountsMismatch(required, actual);
    if (mismatch !== undefined) return { ok: false, reason: `transfer: ${mismatch}` };
  }
  return { ok: true, events: run.events };
}
