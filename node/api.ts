/**
 * The node's JSON-RPC methods (node/rpc carries them over HTTP and WebSocket). Bytes travel as
 * lower-case hex, 64-bit integers as decimal strings. Every input is validated by the rpc kit;
 * what the node refuses comes back as a JSON-RPC error with a reason, never as a crash.
 */
import { swapOwnerCommitment } from '../apps/swap/predicate.ts';
import { ownerCommitment, tokenValueOf } from '../apps/token/index.ts';
import { CONSENSUS_LIMITS } from '../engines/consensus/messages.ts';
import { ConsensusStore } from '../engines/consensus/store.ts';
import { Note } from '../engines/executor/notes.ts';
import type { AdmitReply } from '../engines/mempool/ports.ts';
import type { Storage } from '../storage/types.ts';
import { sha256, toHex } from '../wire/commit.ts';
import type { EpochKey } from '../wire/envelope.ts';
import { feeLedgerView } from '../wire/fees.ts';
import { blockHash, CommittedBlock } from '../wire/ledger.ts';
import { decode, encode } from '../wire/schema.ts';
import { DEMO_ASSET, type NoteJson, tokenOf } from './client.ts';
import type { Genesis } from './config.ts';
import type { Indexer } from './indexer.ts';
import { IntentRefused, type IntentServices, type IntentStats } from './intents.ts';
import type { PeerNetwork } from './net/index.ts';
import { ownerNotes } from './notes-query.ts';
import { ERR, method, p, RpcError, type RpcMethods } from './rpc/index.ts';
import { SubmitUnanswered } from './submit-error.ts';

/** Notes returned by one `notes` call at most, and by default. */
const MAX_NOTES = 1_000;
const DEFAULT_NOTES = 100;

function overBudget(what: string, budget: number): RpcError {
  return new RpcError(
    ERR.LIMIT,
    `${what} needs more work than this call may do (${budget} rows left: the per-call limit, or what the batch left)`,
  );
}

/** What `status` answers. */
export interface NodeStatus {
  node: string;
  instance: string;
  publicKey: string;
  roles: string[];
  height: number;
  round: number;
  step: string;
  executedHeight: number;
  appRoot: string | null;
  epochKey: { epoch: string; publicKey: string } | null;
  peers: number;
  mempool: number;
  /** intents pooled and what came of them (null without the gossip role) */
  intents: ({ pool: number } & IntentStats) | null;
}

/** What the API reads of a node (LiveNode, node/node.ts, is one: this module does not import it). */
export interface ApiNode {
  readonly genesis: Genesis;
  readonly storage: Storage;
  readonly indexer: Indexer;
  readonly network: Pick<PeerNetwork, 'peers'>;
  readonly epochKey: EpochKey | undefined;
  readonly intents: Pick<IntentServices, 'submit' | 'pool'> | undefined;
  status(): NodeStatus;
  submit(bytes: Uint8Array): Promise<AdmitReply>;
}

/**
 * Which notes of a key: `token`, spendable by its signature (the token's owner predicate); `swap`,
 * spendable only by settlements of its swap intents (apps/swap's swap-owner predicate).
 */
const ACCOUNTS = ['token', 'swap'] as const;
const ownerOf = (account: string, owner: Uint8Array): Uint8Array =>
  account === 'swap' ? swapOwnerCommitment(owner) : ownerCommitment(owner);

function intentsOf(node: ApiNode): Pick<IntentServices, 'submit' | 'pool'> {
  if (node.intents === undefined)
    throw new RpcError(ERR.UNAVAILABLE, 'this node does not run intent gossip (add the gossip role)');
  return node.intents;
}

export function nodeApi(node: ApiNode): RpcMethods {
  const token = tokenOf(node.genesis.mintAuthority);
  const store = new ConsensusStore(node.storage);
  const ledger = node.indexer.ledger;
  const notes = ledger.notes;

  return {
    status: method({
      description: 'height, round, step, executed height and state root, epoch key, peers, mempool size',
      params: p.none(),
      handler: () => node.status(),
    }),
    submit: method({
      description:
        'submit a signed envelope (hex of wire SignedEnvelope, plain or encrypted); returns its hash once the mempool admits it',
      params: p.object({ tx: p.hex({ maxBytes: 1024 * 1024 }) }),
      handler: async ({ tx }) => {
        const r = await node.submit(tx).catch((e: unknown) => {
          // no verdict (overloaded or stopping) is not a failure of the handler: say so, typed
          if (e instanceof SubmitUnanswered)
            throw new RpcError(ERR.UNAVAILABLE, e.message, { reason: e.reason });
          throw e;
        });
        if (!r.ok)
          throw new RpcError(ERR.REJECTED, `rejected: ${r.reason ?? 'unknown'}`, { reason: r.reason });
        return { hash: r.hash === null ? null : toHex(r.hash) };
      },
    }),
    submitIntent: method({
      description:
        'publish a signed swap intent (hex of apps/swap SignedSwapIntent; its offered notes must be unspent swap-owner notes of its owner; its routeFee pays the route from this node, its entry) to the intent gossip overlay, with an optional time limit (expiresAt, ms since the Unix epoch: pools drop it then, by their own clocks); returns its gossip id and swap intent id (needs the gossip role)',
      params: p.object({
        intent: p.hex({ maxBytes: 4096 }),
        expiresAt: p.optional(p.u64()),
      }),
      handler: async ({ intent, expiresAt }) => {
        const services = intentsOf(node);
        try {
          return await services.submit(intent, expiresAt ?? null);
        } catch (e) {
          if (e instanceof IntentRefused) throw new RpcError(ERR.REJECTED, e.message, { reason: e.reason });
          throw e;
        }
      },
    }),
    intents: method({
      description: `the intents in this node's gossip pool: id, topic, expiry, fee, route length, the payload (at most limit, default ${DEFAULT_NOTES}, max ${MAX_NOTES}; needs the gossip role)`,
      params: p.object({ limit: p.optional(p.int({ min: 1, max: MAX_NOTES })) }),
      handler: ({ limit = DEFAULT_NOTES }) => intentsOf(node).pool(limit),
    }),
    block: method({
      description: 'the committed block at a height: header, transaction hashes, certificate round',
      params: p.object({ height: p.u64() }),
      handler: ({ height }) => {
        const raw = store.block(height);
        if (raw === undefined) throw new RpcError(ERR.NOT_FOUND, `no block at height ${height} yet`);
        const c = decode(CommittedBlock, raw, CONSENSUS_LIMITS);
        const h = c.block.header;
        return {
          height: h.height.toString(),
          hash: toHex(blockHash(h)),
          time: h.time.toString(),
          proposer: toHex(h.proposer),
          lastBlockHash: toHex(h.lastBlockHash),
          appRoot: toHex(h.appRoot),
          txs: c.block.txs.map((t) => toHex(sha256(t))),
          evidence: c.block.evidence.length,
          certificate: { round: c.certificate.round, signatures: c.certificate.signatures.length },
        };
      },
    }),
    appRoot: method({
      description: 'the state root after executing a height (with that height receipts summary)',
      params: p.object({ height: p.u64() }),
      handler: ({ height }) => {
        const r = ledger.receipts(height);
        if (r === undefined) throw new RpcError(ERR.NOT_FOUND, `height ${height} is not executed yet`);
        return {
          height: height.toString(),
          root: toHex(r.root),
          txs: r.receipts.length,
          accepted: r.receipts.filter((x) => x.accepted).length,
        };
      },
    }),
    receipt: method({
      description: 'the receipt of an envelope by its hash: execution height, phase, outcome, gas',
      params: p.object({ hash: p.hex({ bytes: 32 }) }),
      handler: ({ hash }) => {
        const r = node.indexer.receipt(hash);
        if (r === undefined)
          throw new RpcError(ERR.NOT_FOUND, 'no receipt for this hash (not executed yet?)');
        return {
          hash: toHex(r.hash),
          height: r.height.toString(),
          index: r.index,
          includedAt: r.includedAt.toString(),
          encrypted: r.encrypted,
          accepted: r.receipt.accepted,
          phase: r.receipt.phase,
          reason: r.receipt.reason,
          predicate: r.receipt.predicate,
          gasUsed: r.receipt.gasUsed.toString(),
        };
      },
    }),
    notes: method({
      description: `unspent demo-token notes of an ed25519 public key (account token, the default, or swap), in key order: at most limit (default ${DEFAULT_NOTES}, max ${MAX_NOTES}) after the key after; a shorter page is the last`,
      params: p.object({
        owner: p.hex({ bytes: 32 }),
        limit: p.optional(p.int({ min: 1, max: MAX_NOTES })),
        after: p.optional(p.hex({ maxBytes: 4096 })),
        account: p.optional(p.string({ enum: ACCOUNTS })),
      }),
      handler: ({ owner, limit = DEFAULT_NOTES, after, account = 'token' }, call) => {
        if (limit > call.budget) throw overBudget(`a page of ${limit} notes`, call.budget);
        const out: NoteJson[] = [];
        let scanned = 0;
        const rows = ownerNotes(notes.storage, {
          application: token.application,
          owner: ownerOf(account, owner),
          ...(after === undefined ? {} : { after }),
          maxRows: call.budget,
        });
        try {
          for (const { key, note } of rows) {
            scanned++;
            // a note of the token application without a token value cannot be spent: skipped
            const v = tokenValueOf(note.value);
            if (v === undefined) continue;
            out.push({
              key: toHex(key),
              asset: toHex(v.asset),
              amount: v.amount.toString(),
              note: toHex(encode(Note, note)),
            });
            if (out.length >= limit) break;
          }
        } finally {
          call.spend(scanned);
        }
        // a short page must mean the end: never cut one short for the budget
        if (out.length < limit && scanned >= call.budget) throw overBudget('this page', call.budget);
        return out;
      },
    }),
    balance: method({
      description:
        'the demo-token balance of an ed25519 public key (asset defaults to the demo asset); sums its notes, so an owner of more notes than a call may read gets -32005',
      params: p.object({
        owner: p.hex({ bytes: 32 }),
        asset: p.optional(p.hex({ bytes: 32 })),
        account: p.optional(p.string({ enum: ACCOUNTS })),
      }),
      handler: ({ owner, asset = DEMO_ASSET, account = 'token' }, call) => {
        const want = toHex(asset);
        let amount = 0n;
        let scanned = 0;
        // one more row than the budget tells a complete sum from a cut one
        const rows = ownerNotes(notes.storage, {
          application: token.application,
          owner: ownerOf(account, owner),
          maxRows: call.budget + 1,
        });
        try {
          for (const { note } of rows) {
            if (++scanned > call.budget) throw overBudget('this balance', call.budget);
            const v = tokenValueOf(note.value);
            if (v !== undefined && toHex(v.asset) === want) amount += v.amount;
          }
        } finally {
          call.spend(Math.min(scanned, call.budget));
        }
        return { owner: toHex(owner), asset: want, amount: amount.toString() };
      },
    }),
    epochKey: method({
      description: "the current epoch's threshold encryption key (after the DKG)",
      params: p.none(),
      handler: () => {
        const k = node.epochKey;
        if (k === undefined)
          throw new RpcError(ERR.UNAVAILABLE, 'no epoch key yet: the DKG has not finished');
        return { epoch: k.epoch.toString(), publicKey: toHex(k.publicKey) };
      },
    }),
    genesis: method({
      description: 'the instance, validators, mint authority and DKG windows this node runs',
      params: p.none(),
      handler: () => ({
        instance: node.genesis.instance,
        validators: node.genesis.validators.map((v) => ({
          name: v.name,
          publicKey: toHex(v.publicKey),
          power: v.power,
        })),
        mintAuthority: toHex(node.genesis.mintAuthority),
        asset: toHex(DEMO_ASSET),
        dkg: node.genesis.dkg,
      }),
    }),
    peers: method({
      description: 'connected peers with their scores and traffic',
      params: p.none(),
      handler: () => node.network.peers(),
    }),
    feeBalance: method({
      description:
        'the fee balance of an ed25519 public key (what its envelopes pay fees from), as of the last executed height',
      params: p.object({ account: p.hex({ bytes: 32 }) }),
      handler: ({ account }) => ({
        account: toHex(account),
        balance: feeLedgerView(node.storage).feeBalance(account).toString(),
        height: ledger.executedHeight().toString(),
      }),
    }),
  };
}
